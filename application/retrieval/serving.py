"""The serving index as one object: the collection that serves, the model whose vectors it holds,
the lexical tokenizer and the fusion weight that go with it (qdrant-client's facade and llm's
``Collection`` are the models: a collection and its model are never read apart).

``ServingIndex.current`` is the snapshot a search reads once (``application.retrieval.index.ActiveIndex``);
``retrieve`` returns its hits *with* the pipeline that found them, so a message records the model
that produced its chunks even when a swap lands in between. ``reindex``, ``swap_to`` and
``rollback`` change what serves, one at a time (``swap_lock``). Reading never starts work:
``pending_work`` says which model a re-index must build or fill, and the job runtime starts it
when asked to (``JobRuntime.start_pending_reindex``, called at start-up).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Sequence

from sqlalchemy import select

from application.db import Database
from application.db.models import Chunk, Source, VectorCollection
from application.errors import BadRequest, Conflict
from application.retrieval.index import (
    ActiveIndex,
    activate,
    building_collections,
    collection_record,
    lexical_ready,
    open_active_index,
    previous_collections,
    prune_previous,
    reindex,
    set_tuned_fusion,
    sync_collection,
    tuned_fusion,
)
from application.retrieval.model_loader import ModelLoader
from application.retrieval.store_handle import VectorStoreHandle
from application.retrieval.timing import phase
from application.settings import Settings
from application.retrieval.hits import SearchHit
from application.vectorstore import VectorStore
from plugins.lexical import LexicalEncoder
from training.fusion import Fused, FusionSettings, fitted_weight, fuse
from training.label_free import LABEL_FREE, is_label_free

if TYPE_CHECKING:
    from plugins import EmbeddingBackend

log = logging.getLogger(__name__)

MAX_SEARCH_K = 100


@dataclass(frozen=True)
class Retrieval:
    """The hits of one search and the pipeline that found them (what a message records)."""

    hits: list[SearchHit]
    collection: str
    fingerprint: str
    fusion: FusionSettings  # what ran (dense alone while a collection's lexical vectors are incomplete)
    lexical_version: str | None

    @property
    def pipeline(self) -> dict:
        return {"collection": self.collection, "fingerprint": self.fingerprint, **self.fusion.to_dict(),
                "lexical_version": self.lexical_version}


def hits_from_fused(db: Database, fused: Sequence[Fused], k: int) -> list[SearchHit]:
    """The first ``k`` of ``fused`` that SQL still holds, as hits ranked 1..k (a vector whose chunk was
    deleted meanwhile is skipped)."""
    ids = [f.chunk_id for f in fused]
    # SQL is the source of truth for what a hit shows: a chunk whose text stayed through a re-sync
    # keeps its vector (and payload) while its position, headings or document title may have moved
    with db.session() as session:
        rows = {row.id: row for row in session.execute(
            select(Chunk.id, Chunk.text, Chunk.position, Chunk.page, Chunk.headings, Chunk.location,
                   Chunk.source_id, Source.title, Source.uri)
            .join(Source, Source.id == Chunk.source_id).where(Chunk.id.in_(ids)))} if ids else {}
    hits = []
    for item in fused:
        row = rows.get(item.chunk_id)
        if row is None:  # vector of a chunk deleted meanwhile
            continue
        hits.append(
            SearchHit(
                chunk_id=item.chunk_id,
                source_id=row.source_id,
                text=row.text,
                score=item.score,
                rank=len(hits) + 1,
                title=row.title,
                uri=row.uri,
                page=row.page,
                position=row.position,
                dense_score=item.dense_score,
                lexical_score=item.lexical_score,
                headings=list(row.headings or []),
                location=row.location,
            )
        )
        if len(hits) == k:
            break
    return hits


class ServingIndex:
    def __init__(self, db: Database, settings: Settings, store: VectorStoreHandle, models: ModelLoader):
        """``store`` is opened and the configured model resolved when first needed: the registry's
        pointer may move (a promotion), and a command that never searches leaves the store closed."""
        self.db = db
        self.settings = settings
        self.store_handle = store
        self.models = models
        self._index: ActiveIndex | None = None
        self._index_checked_at = 0.0
        self._lock = threading.RLock()
        # one swap at a time in this process (jobs also refuse a second one across processes)
        self.swap_lock = threading.RLock()

    @property
    def store(self) -> VectorStore:
        return self.store_handle.get()

    @property
    def lexical(self) -> LexicalEncoder:
        return self.models.lexical()

    def serving_model(self) -> EmbeddingBackend:
        """The model that made the serving collection (query vectors must come from it)."""
        return self.current.embeddings

    def collections(self) -> list[str]:
        """The serving collection and those a re-index is building: a removal goes to each."""
        return [self.current.collection, *(name for name, _ in self.building_collections())]

    def pending_work(self) -> EmbeddingBackend | None:
        """The model whose collection a re-index must build (or fill with lexical vectors), or None."""
        index = self.current
        if index.pending is not None:
            return index.pending
        return index.embeddings if index.lexical_pending else None

    def reset(self) -> None:
        """Forget the snapshot (the next read opens the index again)."""
        self._index = None

    @property
    def current(self) -> ActiveIndex:
        """The serving collection and its model, as one snapshot: a search reads this once and
        embeds with exactly the model that made the collection it searches."""
        index = self._index
        if index is not None and self._alias_may_have_moved():
            target = self.store.alias_target()
            if target is not None and target != index.collection:
                log.warning("Another process switched the index to %s; following it", target)
                with self._lock:
                    self._index = None
                index = None
            else:  # another process may have fitted a new fusion weight (`docstune tune`)
                tuned = tuned_fusion(self.db, index.collection)
                if tuned != index.tuned:
                    with self._lock:
                        if self._index is index:
                            self._index = replace(index, tuned=tuned)
                        index = self._index or index
        if index is None:
            with self._lock:
                if self._index is None:
                    self._index = self._open()
                    self._index_checked_at = time.monotonic()
                index = self._index
        return index

    def _alias_may_have_moved(self) -> bool:
        now = time.monotonic()
        if now - self._index_checked_at < self.settings.index_refresh_seconds:
            return False
        self._index_checked_at = now
        return True

    def _open(self) -> ActiveIndex:
        # a configured model that cannot be loaded at all (a typo, a deleted folder) fails loudly:
        # serving on silently would hide the mistake
        configured, error = self.models.configured(), None
        index = open_active_index(self.db, self.store, configured, self.models.load,
                                  configured_error=error, batch_size=self.settings.ingest_batch_size,
                                  lexical=self.lexical)
        version = self.models.configured_model()[1]
        if version and configured is not None and index.embeddings is configured:
            with self.db.session() as session:  # say which registry version serves
                record = session.get(VectorCollection, index.collection)
                if record is not None and not record.registry_version:
                    record.registry_version = version
        return index

    def building_collections(self) -> list[tuple[str, EmbeddingBackend]]:
        """Collections a re-index is filling now (in any process), with their models: new chunks go there too."""
        found = []
        for record in building_collections(self.db):
            try:
                found.append((record.name, self.models.load(record.model_name, record.fingerprint)))
            except Exception as exc:  # the builder's catch-up pass still takes the chunk
                log.warning("Cannot load %s to write into %s: %s", record.model_name, record.name, exc)
        return found

    def search(self, question: str, k: int = 4, source_ids: Sequence[str] | None = None) -> list[SearchHit]:
        return self.retrieve(question, k, source_ids).hits

    def fusion_for(self, index: ActiveIndex) -> FusionSettings:
        """The retrieval settings a search of ``index`` runs with: the configured ones with the serving
        weight (``serving_fusion``), or the dense leg alone while the collection's lexical vectors are
        incomplete (a re-index fills them)."""
        fusion, _ = self.serving_fusion(index)
        if fusion.uses_lexical and not index.lexical_ready:
            return replace(fusion, mode="dense")
        return fusion

    def serving_fusion(self, index: ActiveIndex) -> tuple[FusionSettings, dict]:
        """The configured retrieval settings with the weight that serves ``index``, and where it came from.

        FUSION_WEIGHT, when set, wins; else the weight fitted for the serving collection (``docstune
        tune``, or the registry version it was promoted from), when it was fitted for the configured
        method and normalisation; else the label-free weight fitted on the corpus's own pseudo-queries
        (``training.label_free``; a weight fitted on ratings replaces it; FUSION_LABEL_FREE=false
        ignores it); else the measured default.
        """
        settings = self.settings
        configured = settings.fusion()
        tuned = index.tuned
        if settings.fusion_weight is not None:
            return configured, {"source": "FUSION_WEIGHT", "detail": f"FUSION_WEIGHT={settings.fusion_weight:g} is set"}
        weight = fitted_weight(tuned, configured)
        label_free = is_label_free(tuned)
        if weight is not None and not (label_free and not settings.fusion_label_free):
            return settings.fusion(weight=weight), {"source": LABEL_FREE if label_free else "fitted",
                                                    "detail": tuned.get("origin", ""), "fitted": tuned}
        detail = "the measured default (best on average over two dev sets of opposite kinds, docs/retrieval.md)"
        if label_free and not settings.fusion_label_free:
            detail += f"; FUSION_LABEL_FREE=false leaves out the label-free weight {tuned['weight']:g}"
        elif tuned:
            detail += (f"; the weight fitted for {tuned.get('method')}-{tuned.get('normalise')} does not apply to "
                       f"FUSION_METHOD={configured.method}, FUSION_NORMALISE={configured.normalise}")
        return configured, {"source": "default", "detail": detail}

    def set_tuned_fusion(self, collection: str, tuned: dict | None) -> None:
        """Store the weight fitted for ``collection``; it serves at once if that collection serves."""
        with self._lock:
            set_tuned_fusion(self.db, collection, tuned)
            index = self._index
            if index is not None and index.collection == collection:
                self._index = replace(index, tuned=dict(tuned) if tuned else None)

    def retrieval_legs(self, ir, candidates: int | None = None, *, lexical: bool = True):
        """Both legs of the serving collection for each question of ``ir`` (an ``IRDataset``), as
        ``training.retrieval_eval.RetrievalLegs``: what the serving pipeline retrieves, over every chunk.
        ``lexical=False``: the dense leg only (a dense pipeline, or lexical vectors still being built).

        Returns ``(legs, index)``: the snapshot the legs came from. Relevant chunks that are not
        stored any more are dropped, and so are the questions left without one.
        """
        from training.retrieval_eval import RetrievalLegs

        index = self.current
        if lexical and not index.lexical_ready:
            raise Conflict(f"The serving collection {index.collection} has no complete lexical vectors yet "
                           f"(a re-index fills them); there is no hybrid pipeline to measure.")
        depth = candidates or self.settings.fusion_candidates
        wanted = {cid for cids in ir.relevant_docs.values() for cid in cids}
        with self.db.session() as session:
            stored = set(session.scalars(select(Chunk.id).where(Chunk.id.in_(wanted)))) if wanted else set()
        relevant = {qid: frozenset(c for c in cids if c in stored) for qid, cids in ir.relevant_docs.items()
                    if qid in ir.queries}
        relevant = {qid: cids for qid, cids in relevant.items() if cids}
        legs = RetrievalLegs(relevant, candidates=depth, dense_label=index.embeddings.name,
                             lexical_label=index.lexical.version)
        for qid in sorted(relevant):
            question = ir.queries[qid]
            dense, sparse = self.store.search_legs(index.collection, index.embeddings.embed_query(question),
                                                   index.lexical.embed_query(question) if lexical else None,
                                                   depth, None)
            legs.dense[qid] = [(p.id, p.score) for p in dense]
            if lexical:
                legs.lexical[qid] = [(p.id, p.score) for p in sparse]
        return legs, index

    def retrieve(self, question: str, k: int = 4, source_ids: Sequence[str] | None = None) -> Retrieval:
        """The ``k`` best chunks for ``question`` by the serving pipeline, with that pipeline."""
        if not isinstance(question, str) or not question.strip():
            raise BadRequest("The question is empty; ask something.")
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_SEARCH_K:
            raise BadRequest(f"k must be a whole number from 1 to {MAX_SEARCH_K}.")
        index = self.current  # one snapshot: the model, the collection and its lexical state together
        fusion = self.fusion_for(index)
        question = question.strip()
        depth = max(k, fusion.candidates) if fusion.mode == "hybrid" else k
        with phase("embed"):
            vector = index.embeddings.embed_query(question) if fusion.uses_dense else None
        with phase("embed_lexical"):
            sparse = index.lexical.embed_query(question) if fusion.uses_lexical else None
        with phase("search"):  # both legs in the vector store
            dense, lexical = self.store.search_legs(index.collection, vector, sparse, depth, source_ids)
        with phase("fuse"):
            fused = fuse([(p.id, p.score) for p in dense], [(p.id, p.score) for p in lexical], fusion, depth)
        with phase("sql"):
            hits = hits_from_fused(self.db, fused, k)
        lexical_version = index.lexical.version if fusion.uses_lexical else None
        return Retrieval(hits, index.collection, index.embeddings.fingerprint, fusion, lexical_version)

    def reindex(self, progress: Callable[[int, int], None] | None = None, *, model_name: str | None = None,
                registry_version: str | None = None, fresh: bool = False, tuned: dict | None = None) -> str:
        """Build the collection of ``model_name`` (default: the configured model) and swap it in.

        Searches go on during the build, answered by the collection that serves now; the
        alias and the snapshot switch together at the end, and the previous collection is
        kept for rollback (``SWAP_KEEP_PREVIOUS``). ``tuned`` (the fusion weight fitted for this
        model, e.g. a registry version's) is stored with the collection before the switch, so model
        and weight start serving together; a newer fit already stored for it is kept.
        """
        with self.swap_lock:
            if model_name is None:
                embeddings = self.models.configured()
                registry_version = registry_version or self.models.configured_model()[1]
            else:
                embeddings = self.models.load(model_name)
            name = reindex(self.db, self.store, embeddings, batch_size=self.settings.ingest_batch_size,
                           progress=progress, switch=False, fresh=fresh, registry_version=registry_version,
                           lexical=self.lexical)
            if tuned is None and registry_version:
                tuned = self._registry_fusion(registry_version)
            current = tuned_fusion(self.db, name)
            # a weight fitted on ratings replaces a label-free one, however new that is
            if tuned and (current is None or (is_label_free(current) and not is_label_free(tuned))
                          or str(current.get("fitted_at", "")) <= str(tuned.get("fitted_at", ""))):
                set_tuned_fusion(self.db, name, tuned)
            self.swap_to(name, embeddings)
        return name

    def _registry_fusion(self, version: str) -> dict | None:
        from training.registry import ModelRegistry, RegistryError

        try:
            return ModelRegistry(self.settings.models_dir).get(version).fitted_fusion()
        except RegistryError:
            return None

    def swap_to(self, collection: str, embeddings: EmbeddingBackend) -> ActiveIndex:
        """Serve ``collection`` with ``embeddings`` from now on: alias and snapshot change together."""
        with self.swap_lock, self._lock:
            activate(self.db, self.store, collection)
            # an explicit swap: what serves is what was chosen, nothing is pending any more
            lexical = self.lexical
            self._index = ActiveIndex(collection, embeddings, lexical=lexical,
                                      lexical_ready=lexical_ready(self.db, self.store, collection, lexical),
                                      tuned=tuned_fusion(self.db, collection))
            self._index_checked_at = time.monotonic()
            dropped = prune_previous(self.db, self.store, self.settings.swap_keep_previous)
            if dropped:
                log.info("Dropped old collections %s (SWAP_KEEP_PREVIOUS=%s)", dropped, self.settings.swap_keep_previous)
            return self._index

    def rollback(self) -> ActiveIndex:
        """Serve the previous complete collection again, at once: only chunks added since it served are embedded."""
        with self.swap_lock:
            current = self.current
            candidates = previous_collections(self.db, self.store)
            if not candidates:
                raise Conflict("Nothing to roll back to: no earlier complete collection is kept "
                               "(SWAP_KEEP_PREVIOUS keeps them after a swap).")
            record = candidates[0]
            try:
                embeddings = self.models.load(record.model_name, record.fingerprint)
                fingerprint = embeddings.fingerprint
            except Exception as exc:
                raise Conflict(f"Cannot roll back to {record.name}: its model {record.model_name} "
                               f"cannot be loaded ({exc}). Serving is unchanged.") from exc
            if fingerprint != record.fingerprint:
                raise Conflict(f"Cannot roll back to {record.name}: {record.model_name} now has fingerprint "
                               f"{fingerprint}, not {record.fingerprint} (its files changed). Serving is unchanged.")
            sync_collection(self.db, self.store, record.name, embeddings,
                            batch_size=self.settings.ingest_batch_size, lexical=self.lexical)
            log.warning("Rolling back from %s to %s", current.collection, record.name)
            return self.swap_to(record.name, embeddings)

    def info(self) -> dict:
        """What serves now: ``{version, model_name, fingerprint, collection, dimension, retrieval}``.

        ``retrieval`` is the pipeline around the model: the configured settings with the serving
        weight, where that weight came from (``weight_source``: FUSION_WEIGHT, fitted, label-free, default;
        ``weight_detail`` in words; ``fitted``: the fit's record), and what runs now (``running``:
        dense alone while the lexical vectors are incomplete).
        """
        index = self.current
        record = collection_record(self.db, index.collection)
        fusion, origin = self.serving_fusion(index)
        return {
            "version": record.registry_version if record else None,
            "model_name": index.embeddings.name,
            "fingerprint": index.embeddings.fingerprint,
            "collection": index.collection,
            "dimension": index.embeddings.dimension,
            "retrieval": {**fusion.to_dict(), "weight_source": origin["source"], "weight_detail": origin["detail"],
                          "fitted": origin.get("fitted"), "running": self.fusion_for(index).describe(),
                          "lexical_version": index.lexical.version if index.lexical is not None else None,
                          "lexical_ready": index.lexical_ready},
        }
