"""The interface every embedding backend implements.

A backend is a LangChain ``Embeddings`` (``embed_documents``/``embed_query``) that
also says how wide its vectors are, how many tokens it reads, and a fingerprint
that identifies the exact weights, so a vector collection can be tied to them.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Callable

from langchain_core.embeddings import Embeddings


class EmbeddingModelError(Exception):
    """A model could not be found or loaded; the message says what to do."""


class EmbeddingBackend(Embeddings):
    """Base class for embedding backends.

    Example::

        from plugins import load_embeddings
        model = load_embeddings("all-MiniLM-L6-v2")
        vectors = model.embed_documents(["a chunk of text"])
        assert len(vectors[0]) == model.dimension
    """

    #: the name the model was asked for (a registry name or a folder path)
    name: str

    @property
    @abstractmethod
    def dimension(self) -> int:
        """Length of every vector this backend returns."""

    @property
    @abstractmethod
    def max_seq_length(self) -> int:
        """Tokens the model reads from one text; longer texts are truncated."""

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """Stable id of the exact weights: equal for the same files, different after a fine-tune.

        Only ``[a-z0-9_-]`` characters, so it can be part of a collection name.
        """

    def embed_documents_shared(self, texts: list[str]) -> list[list[float]]:
        """``embed_documents`` for a request that waits on the vectors (the offline answerer's sentences).
        A backend that batches concurrent requests on one model thread overrides it."""
        return self.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model; backends with a tokenizer override it."""
        return len(text.split())

    def token_length_function(self) -> Callable[[str], int]:
        return self.count_tokens
