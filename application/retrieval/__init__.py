"""Retrieval: what is searched and how, in one package.

* ``serving`` -- ``ServingIndex``: the serving collection with its model and retrieval settings; search,
  re-index, swap, rollback; ``Retrieval``: a search's hits with the pipeline that found them.
* ``index`` -- ``ActiveIndex`` (the snapshot a search reads once) and the rules that open, build and switch
  collections.
* ``hits`` -- ``SearchHit``, one retrieved chunk.
* ``model_loader`` -- ``ModelLoader``: the configured embedding model, any other by name, the lexical encoder.
* ``store_handle`` -- ``VectorStoreHandle``: the vector store, opened on first use.

Fusion (how the dense and lexical legs combine) is ``training.fusion``: one definition that serving and
training's evaluation both import (training never imports ``application``).
"""
