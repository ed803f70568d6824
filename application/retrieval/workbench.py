"""The retrieval workbench: one question, up to three pipelines side by side, to see *why* retrieval failed.

A pipeline is a model (the serving one, or another registry version) and fusion settings (mode, method,
normalisation, weight; left out: what serves). Each returns its top ``k`` fused chunks with every leg's own
rank and score, the heading path, and how often the chunk was in a rated answer before. The serving model
searches its live collection (``VectorStore.search_legs``); another version has no collection, so the stored
chunks are encoded with it in memory (``CorpusVectors``, cached per model and refreshed by text: only chunks
new since the last request are encoded) and ranked by ``training.retrieval_eval.encode_dense_leg``, the
ranking the evaluation measures. Its lexical leg is the serving collection's (the tokenizer does not depend
on the model). Fusion is ``training.fusion.fuse``: what is shown is what serves.

Example::

    compare(app, "how long do refunds take?", [{}, {"mode": "lexical"}], k=5)
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import func, select

from application.chat.answer import hit_dict
from application.db.chat import Feedback, MessageChunk, SourceMark
from application.db.models import Chunk
from application.errors import BadRequest, Conflict
from application.retrieval.index import ActiveIndex, stored_chunk_count
from application.retrieval.serving import MAX_SEARCH_K, hits_from_fused
from training.fusion import FusionSettings, fitted_weight, fuse

if TYPE_CHECKING:
    from plugins import EmbeddingBackend

#: more stored chunks than this and another version's vectors are not computed in a request. The bundled
#: MiniLM encodes 180-word chunks at 6-7 chunks/s on the 2-core test machine under load (about 30/s idle,
#: measured with ``embed_documents``), so 3,000 chunks cost one to a few minutes the first time (then
#: cached); a bigger corpus: promote the version (a job builds its collection) and compare it serving
MAX_ENCODED_CHUNKS = 3_000
#: models whose corpus vectors stay in memory (each: chunks × dimension float32, 4.6 MB for 3,000 × 384)
CACHED_MODELS = 2
SERVING_NAMES = ("", "serving", "active")


@dataclass(frozen=True)
class PipelineSpec:
    """What to compare: ``version`` None (or "serving"/"active"): the serving model; any field left None:
    the serving setting."""

    label: str | None = None
    version: str | None = None
    mode: str | None = None
    weight: float | None = None
    method: str | None = None
    normalise: str | None = None

    @classmethod
    def of(cls, value: PipelineSpec | dict) -> PipelineSpec:
        return value if isinstance(value, PipelineSpec) else cls(**value)


class CorpusVectors:
    """A model's document vectors by chunk text, kept between requests: ``embed_documents`` encodes only
    texts it has not seen and forgets those no longer asked for (deleted chunks), so the cache follows
    every ingest and re-sync without a key to keep in step. It has the shape ``encode_dense_leg`` reads."""

    def __init__(self, model: EmbeddingBackend):
        self.model = model
        self.vectors: dict[str, object] = {}  # text -> numpy float32 row
        self.last_encoded = 0
        self.lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list:
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            fresh = np.asarray(self.model.embed_documents(missing), dtype=np.float32)
            self.vectors.update(zip(missing, fresh))
        self.last_encoded = len(missing)
        self.vectors = {t: self.vectors[t] for t in texts}
        return [self.vectors[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


_corpus_cache: OrderedDict[str, CorpusVectors] = OrderedDict()
_corpus_cache_lock = threading.Lock()


def corpus_vectors(model: EmbeddingBackend) -> CorpusVectors:
    """The cached ``CorpusVectors`` of ``model`` (by fingerprint; the least recently used goes first)."""
    with _corpus_cache_lock:
        cached = _corpus_cache.get(model.fingerprint)
        if cached is None:
            cached = _corpus_cache[model.fingerprint] = CorpusVectors(model)
        _corpus_cache.move_to_end(model.fingerprint)
        while len(_corpus_cache) > CACHED_MODELS:
            _corpus_cache.popitem(last=False)
        return cached


def compare(app, question: str, pipelines: Sequence[PipelineSpec | dict], k: int = 10, *,
            max_chunks: int = MAX_ENCODED_CHUNKS) -> dict:
    """``{question, pipelines: [{label, description, hits}]}``: each pipeline's top ``k`` chunks.

    A hit is ``application.chat.answer.hit_dict``'s (fused ``score``, each leg's score, title, ``source``
    as clients see it, heading path, text) plus ``dense_rank``/``lexical_rank`` (None: that leg did not
    return it among its candidates) and ``rated`` (likes, dislikes, relevant and irrelevant marks of
    the answers it was in). Both legs run whatever the mode, so a chunk one leg would have found shows
    that leg's rank; the fused score uses only the legs of the mode. Raises NotFound (unknown version),
    Conflict (a checkpoint missing, lexical vectors incomplete, more than ``max_chunks`` to encode),
    BadRequest (settings out of range).
    """
    if not isinstance(question, str) or not question.strip():
        raise BadRequest("The question is empty; type one.")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_SEARCH_K:
        raise BadRequest(f"k must be a whole number from 1 to {MAX_SEARCH_K}.")
    specs = [PipelineSpec.of(p) for p in pipelines]
    if not specs:
        raise BadRequest("Name at least one pipeline to compare.")
    question = question.strip()
    index = app.serving.current  # one snapshot for every pipeline
    results = [_run(app, index, question, spec, k, max_chunks) for spec in specs]
    rated = rated_counts(app.db, {hit["chunk_id"] for result in results for hit in result["hits"]})
    for result in results:
        for hit in result["hits"]:
            hit["rated"] = rated.get(hit["chunk_id"], dict(NOT_RATED))
    return {"question": question, "pipelines": results}


def _run(app, index: ActiveIndex, question: str, spec: PipelineSpec, k: int, max_chunks: int) -> dict:
    started = time.perf_counter()
    version, model = _model_of(app, index, spec.version)
    serving = model is index.embeddings
    fusion, weight_source, weight_detail = _fusion_of(app, index, spec, version if not serving else None)
    if fusion.uses_lexical and not index.lexical_ready and spec.mode is None:
        # as a search runs now (``ServingIndex.fusion_for``): the dense leg alone until a re-index fills them
        fusion = replace(fusion, mode="dense")
        weight_detail += "; the dense leg alone while the lexical vectors are incomplete"
    if fusion.uses_lexical and not index.lexical_ready:
        raise Conflict(f"The serving collection {index.collection} has no complete lexical vectors yet (a re-index "
                       f"fills them): the {fusion.mode} mode cannot run; compare in the dense mode meanwhile.")
    depth = max(k, fusion.candidates)
    sparse = index.lexical.embed_query(question) if index.lexical_ready else None
    encoded = corpus_size = None
    if serving:
        dense, lexical = app.serving.store.search_legs(index.collection, model.embed_query(question), sparse,
                                                       depth, None)
        dense = [(p.id, p.score) for p in dense]
    else:
        _, lexical = app.serving.store.search_legs(index.collection, None, sparse, depth, None)
        dense, encoded, corpus_size = _dense_leg_in_memory(app, model, question, depth, max_chunks)
    lexical = [(p.id, p.score) for p in lexical]
    fused = fuse(dense, lexical, fusion, depth)
    dense_ranks = {cid: rank for rank, (cid, _) in enumerate(dense, start=1)}
    lexical_ranks = {cid: rank for rank, (cid, _) in enumerate(lexical, start=1)}
    hits = []
    for hit in hits_from_fused(app.db, fused, k):
        shown = hit_dict(hit)
        shown.update(dense_rank=dense_ranks.get(hit.chunk_id), lexical_rank=lexical_ranks.get(hit.chunk_id))
        hits.append(shown)
    name = version.version if version is not None else "serving"
    description = {
        "version": version.version if version is not None else None,
        "serving": serving,
        "model_name": model.name if serving or version is None else f"{version.version} ({version.base_model})",
        "fingerprint": model.fingerprint,
        "pipeline": fusion.describe(),
        "mode": fusion.mode, "method": fusion.method, "normalise": fusion.normalise, "weight": fusion.weight,
        "candidates": fusion.candidates,
        "weight_source": weight_source, "weight_detail": weight_detail,
        "dense_leg": f"the serving collection {index.collection}" if serving else
                     f"{corpus_size} stored chunks encoded in memory with {version.version} "
                     f"({encoded} of them by this request)",
        "lexical_leg": index.lexical.version if index.lexical_ready else None,
        "encoded_now": encoded,
        "took_ms": round(1000 * (time.perf_counter() - started), 1),
    }
    return {"label": spec.label or f"{name} · {fusion.describe()}", "description": description, "hits": hits}


def _model_of(app, index: ActiveIndex, name: str | None):
    """(registry version or None, model): the serving model for no name, "serving" or "active" (and for a
    version whose fingerprint serves), else the version's checkpoint."""
    from application.models_admin import get_version
    from plugins.sentence_transformers_backend import is_model_folder

    if name is None or name.strip().lower() in SERVING_NAMES:
        return None, index.embeddings
    version = get_version(app.settings, name)
    if version.fingerprint == index.embeddings.fingerprint:
        return version, index.embeddings
    if not is_model_folder(version.model_path):
        raise Conflict(f"The checkpoint of {version.version} is missing on disk ({version.model_path}); "
                       f"it cannot be compared.")
    return version, app.models.load(version.model_path)


def _fusion_of(app, index: ActiveIndex, spec: PipelineSpec, other_version) -> tuple[FusionSettings, str, str]:
    """The settings a pipeline runs with, where its weight came from and why: the request's weight; else
    the serving one (``ServingIndex.serving_fusion``) for the serving model; for another version,
    FUSION_WEIGHT, else the weight fitted for that version at training, else the configured default."""
    base, origin = app.serving.serving_fusion(index)
    source, detail = origin["source"], origin["detail"]
    if other_version is not None and source != "FUSION_WEIGHT":
        base = app.settings.fusion()
        fitted = fitted_weight(other_version.fitted_fusion(), replace(base, method=spec.method or base.method,
                                                                      normalise=spec.normalise or base.normalise))
        if fitted is not None:
            base = replace(base, weight=fitted)
            source, detail = "fitted", f"fitted for {other_version.version} at training"
        else:
            source, detail = "default", f"no weight was fitted for {other_version.version}; the measured default"
    if spec.weight is not None:
        source, detail = "request", "set in this comparison"
    try:
        fusion = replace(base, **{name: value for name, value in
                                  (("mode", spec.mode), ("method", spec.method), ("normalise", spec.normalise),
                                   ("weight", spec.weight)) if value is not None})
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return fusion, source, detail


def _dense_leg_in_memory(app, model, question: str, depth: int, max_chunks: int) -> tuple[list, int, int]:
    """The dense leg of a model without a collection: every stored chunk encoded (cached), ranked by cosine.
    Returns (leg, chunks encoded by this call, chunks stored)."""
    from training.records import IRDataset
    from training.retrieval_eval import encode_dense_leg

    count = stored_chunk_count(app.db)
    if count > max_chunks:
        raise Conflict(f"{count} chunks are stored; a version without a collection is compared on at most "
                       f"{max_chunks} (encoding more would take minutes). Promote it to build its collection, "
                       f"or compare the serving model's settings.")
    with app.db.session() as session:
        corpus = dict(session.execute(select(Chunk.id, Chunk.text).order_by(Chunk.id)).all())
    if not corpus:
        return [], 0, 0
    vectors = corpus_vectors(model)
    with vectors.lock:  # one encoding pass at a time per model; a second request waits and reuses it
        ir = IRDataset(queries={"q": question}, corpus=corpus, relevant_docs={"q": []})
        leg = encode_dense_leg(vectors, ir, candidates=depth, query_ids=["q"])["q"]
        return leg, vectors.last_encoded, len(corpus)


NOT_RATED = {"likes": 0, "dislikes": 0, "relevant": 0, "irrelevant": 0}


def rated_counts(db, chunk_ids: set[str]) -> dict[str, dict[str, int]]:
    """Per chunk: how many liked and disliked answers it was retrieved for, and how often a rater marked it
    relevant or irrelevant (chunks never rated are left out)."""
    if not chunk_ids:
        return {}
    counts: dict[str, dict[str, int]] = {}
    with db.session() as session:
        for chunk_id, verdict, n in session.execute(
            select(MessageChunk.chunk_id, Feedback.verdict, func.count())
            .join(Feedback, Feedback.message_id == MessageChunk.message_id)
            .where(MessageChunk.chunk_id.in_(chunk_ids), Feedback.verdict.is_not(None))
            .group_by(MessageChunk.chunk_id, Feedback.verdict)
        ):
            counts.setdefault(chunk_id, dict(NOT_RATED))["likes" if verdict == "like" else "dislikes"] += n
        for chunk_id, mark, n in session.execute(
            select(SourceMark.chunk_id, SourceMark.mark, func.count())
            .where(SourceMark.chunk_id.in_(chunk_ids)).group_by(SourceMark.chunk_id, SourceMark.mark)
        ):
            counts.setdefault(chunk_id, dict(NOT_RATED))[mark] += n
    return counts
