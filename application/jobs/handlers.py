"""What each kind of job does. A handler gets ``(services, context)`` and returns the job's result."""
from __future__ import annotations

import logging
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from application.index import collection_record, drop_collection
from application.jobs.contract import JobContext, JobFailed
from application.vectorstore import ACTIVE_ALIAS, collection_name_for

log = logging.getLogger(__name__)

SYNTHETIC_MAX_CHUNKS = 2000  # synthetic questions are written for at most this many chunks per retrain


# -- ingest ---------------------------------------------------------------------------------
def run_ingest(services, context: JobContext) -> dict:
    """Ingest staged uploads; the staged folder is removed afterwards (SQL keeps the text)."""
    params = context.params
    paths = list(params["paths"])
    names = params.get("names", {})
    try:
        report = services.ingestor.ingest_paths(paths, progress=context.progress, uris=params.get("uris"))
    finally:
        if params.get("staged_folder"):
            shutil.rmtree(params["staged_folder"], ignore_errors=True)
    result = report.to_dict()
    # staged paths mean nothing to the client: report the uploaded names instead
    for key in ("added", "updated", "unchanged"):
        result[key] = [names.get(p, p) for p in result[key]]
    for key in ("skipped", "failed"):
        result[key] = [{**item, "path": names.get(item["path"], item["path"])} for item in result[key]]
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise JobFailed("Nothing could be ingested; see result.failed for the reasons.", result)
    return result


# -- re-index and promote ------------------------------------------------------------------
def _build_and_swap(services, context: JobContext, embeddings, *, registry_version: str | None,
                    fresh: bool = False) -> dict:
    """Build the model's collection with progress, switch to it; on failure or cancel, undo the half-built one."""
    name = collection_name_for(embeddings.fingerprint)
    before = services.serving.info()
    context.remember(collection=name, model_name=embeddings.name, fingerprint=embeddings.fingerprint)
    store = services.vector_store
    context.message(f"embedding every chunk with {embeddings.name}")
    try:
        services.serving.reindex(progress=lambda done, total: context.progress(done, total), model_name=embeddings.name,
                         registry_version=registry_version, fresh=fresh)
    except BaseException:
        record = collection_record(services.db, name)
        if store.alias_target(ACTIVE_ALIAS) != name and record is not None and record.status == "building":
            drop_collection(services.db, store, name)
        raise
    return {"collection": name, "model_name": embeddings.name, "fingerprint": embeddings.fingerprint,
            "dimension": embeddings.dimension, "chunks": store.count(name), "previous": before,
            "version": registry_version}


def run_reindex(services, context: JobContext) -> dict:
    model = context.params.get("model")
    if model:
        embeddings = services.load_model(model)
        configured_name, configured_version = services.configured_model
        version = context.params.get("version") or (configured_version if model == configured_name else None)
    else:
        embeddings, version = services.embeddings, services.configured_model[1]
    return _build_and_swap(services, context, embeddings, registry_version=version,
                           fresh=bool(context.params.get("fresh")))



def run_promote(services, context: JobContext) -> dict:
    """Re-index with a registry version, switch the alias, then move the registry's active pointer."""
    from application.jobs.swaps import registry_for, validate_promotion
    from training.registry import RegistryError

    force = bool(context.params.get("force"))
    version = validate_promotion(services, context.params["version"], force=force)
    embeddings = services.load_model(version.model_path)
    if embeddings.fingerprint != version.fingerprint:
        raise JobFailed(f"The checkpoint of {version.version} changed on disk (fingerprint {embeddings.fingerprint}, "
                        f"registered {version.fingerprint}); it was not promoted. Serving is unchanged.")
    result = _build_and_swap(services, context, embeddings, registry_version=version.version)
    registry = registry_for(services.settings)
    try:
        registry.promote(version.version, force=True)  # the gate was checked above
    except RegistryError as exc:  # already the active pointer (an earlier, interrupted swap)
        log.info("Registry: %s", exc)
    result["registry_active"] = version.version
    return result


# -- retrain --------------------------------------------------------------------------------
@contextmanager
def rated_feedback(services, context: JobContext, kind: str, *, steps: int):
    """The rated messages exported as feedback JSONL into a work folder of the job (removed after)."""
    from application.chat.export import write_feedback_jsonl

    work = services.settings.models_dir / ".work" / f"{kind}-{context.job_id[:8]}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        context.progress(0, steps, "exporting feedback")
        path = work / "feedback.jsonl"
        if not write_feedback_jsonl(services.db, path):
            raise JobFailed(f"No rated messages yet: people need to rate answers (thumbs up/down) before a {kind}.")
        yield path
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_retrain(services, context: JobContext) -> dict:
    """Feedback → pairs (+ synthetic questions) → fine-tune the serving model → evaluate → register (→ promote)."""
    from application.jobs.swaps import registry_for
    from training.finetune import FinetuneConfig
    from training.gate import GateConfig
    from training.pipeline import prepare_from_feedback, run_training
    from training.records import TrainingDataError

    settings = services.settings
    params = context.params
    with rated_feedback(services, context, "retrain", steps=5) as feedback_file:
        work = feedback_file.parent
        try:  # the held-out questions are judged over every stored chunk, not only the retrieved ones
            prepared = prepare_from_feedback(feedback_file, chunk_texts=stored_chunk_texts(services.db))
        except TrainingDataError as exc:
            raise JobFailed(f"The feedback is not enough to train on: {exc}") from exc
        if params.get("include_synthetic"):
            context.progress(1, 5, "writing synthetic questions")
            _add_synthetic(services, prepared)
        index = services.index
        serving = index.embeddings
        base_path = getattr(serving, "path", None)
        if not base_path:
            raise JobFailed(f"The serving model {serving.name} has no local folder to fine-tune.")
        parent = services.serving.info()["version"]
        config = FinetuneConfig(
            loss=params.get("loss") or prepared.default_loss,
            epochs=params.get("epochs", FinetuneConfig.epochs),
            batch_size=params.get("batch_size", settings.retrain_batch_size),
            max_seq_length=params.get("max_seq_length", settings.retrain_max_seq_length),
            device=settings.embeddings_device,
            show_progress=False,
        )
        context.progress(2, 5, f"training {config.loss} on {len(prepared.train)} rows from {serving.name}")
        outcome = run_training(
            prepared, base_model=base_path, work_root=work, registry=registry_for(settings), config=config,
            gate=GateConfig(metric=settings.gate_metric, min_improvement=settings.gate_min_improvement,
                            tolerance=settings.gate_tolerance),
            mine_hard_negatives=True, baseline_label="active", parent=parent, base_model_name=serving.name,
            query_prefix=settings.embeddings_query_prefix, document_prefix=settings.embeddings_document_prefix,
            retrieval=services.serving.fusion_for(index), lexical=settings.lexical_tokenizer,
            progress=training_progress(context, f"training {config.loss} on {len(prepared.train)} rows"),
        )
    version, verdict = outcome.version, outcome.verdict
    base_url = f"/api/admin/models/{version.version}"
    result = {
        "version": version.version,
        "verdict": verdict.status,
        "reason": verdict.reason,
        "report_url": f"{base_url}/report",
        "plot_url": f"{base_url}/plot.png",
        "metrics": {"candidate": outcome.judged["candidate"], "baseline": outcome.judged["baseline"]},
        "retrieval": outcome.retrieval,
        "files": {k: str(Path(v)) for k, v in outcome.files.items()},
        "data": outcome.finetune.data_stats,
        "promote_job_id": None,
    }
    context.progress(4, 5, f"registered {version.version} ({verdict.status})")
    if params.get("auto_promote") and verdict.passed:
        promote = context.submit_swap("promote", {"version": version.version, "trigger": context.job_id})
        result["promote_job_id"] = promote["id"]
    return result


# -- tune: fit the fusion weight only (seconds, no model is trained) --------------------------
def run_tune(services, context: JobContext) -> dict:
    """Rated questions (the held-out side of the retrain's split) → both legs of the serving
    collection → the fusion weight that ranks their rated chunks best → it serves at once.

    The weight is stored for the serving collection (so a rollback or a promotion moves it with
    the model) only when its cross-fitted metric is not below the serving weight's.
    """
    from training.pipeline import prepare_from_feedback
    from training.records import TrainingDataError
    from training.tuning import tune_fusion

    settings = services.settings
    with rated_feedback(services, context, "tune", steps=3) as feedback_file:
        try:
            held_out = prepare_from_feedback(feedback_file).held_out
        except TrainingDataError as exc:
            raise JobFailed(f"The feedback is not enough to fit a weight on: {exc}") from exc
    context.progress(1, 3, f"searching {len(held_out.queries)} held-out rated questions through the serving index")
    legs, index = services.serving.retrieval_legs(held_out)
    serving, origin = services.serving.serving_fusion(index)
    try:
        tuned = tune_fusion(legs, serving)
    except TrainingDataError as exc:
        raise JobFailed(f"Cannot fit the fusion weight: {exc}.") from exc
    context.progress(2, 3, f"fitted {tuned.settings.weight:g} on {tuned.questions} questions")
    store = tuned.gain >= 0
    result = {
        "collection": index.collection, "model_name": index.embeddings.name,
        "weight": tuned.settings.weight, "previous_weight": serving.weight, "previous_source": origin["source"],
        "questions": tuned.questions, "metric": tuned.metric,
        "cross_fitted": tuned.cross_fitted, "baseline": tuned.baseline,
        "curve": {f"{w:g}": round(v, 6) for w, v in tuned.curve.items()}, "stored": store,
    }
    if store:
        services.serving.set_tuned_fusion(index.collection, tuned.record(
            f"docstune tune (job {context.job_id[:8]}): fitted on {tuned.questions} held-out rated questions",
            job_id=context.job_id))
        result["serving"] = ("FUSION_WEIGHT is set and wins; unset it to serve the fitted weight"
                             if settings.fusion_weight is not None else "the fitted weight serves now")
    else:
        result["serving"] = (f"kept {serving.weight:g}: the fitted weight did worse on questions it was not "
                             f"fitted on ({tuned.metric} {tuned.cross_fitted[tuned.metric]:.4f} against "
                             f"{tuned.baseline[tuned.metric]:.4f})")
    return result


def training_progress(context: JobContext, what: str, every: float = 1.0):
    """A ``progress(step, total)`` for the fine-tuning that shows in the job: steps done of all, and
    an estimate of the time left (from the pace so far); at most one write each ``every`` seconds."""
    started = time.monotonic()
    last = [0.0]

    def report(step: int, total: int) -> None:
        now = time.monotonic()
        if step < total and now - last[0] < every:
            return
        last[0] = now
        left = (now - started) / step * (total - step) if step else 0.0
        context.progress(step, total, f"{what}: step {step} of {total}"
                                      + (f", about {_minutes(left)} left" if step < total else ", evaluating"))

    return report


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{max(1, round(seconds))} s"


def stored_chunk_texts(db) -> dict[str, str]:
    """Every stored chunk's text by id: the corpus a retrain judges retrieval over."""
    from sqlalchemy import select

    from application.db.models import Chunk

    with db.session() as session:
        return dict(session.execute(select(Chunk.id, Chunk.text)).all())


def _add_synthetic(services, prepared) -> None:
    """Offline (or Claude) questions for stored chunks that no held-out question is about."""
    from sqlalchemy import select

    from application.db.models import Chunk
    from training.synthetic import generate_synthetic_queries, synthetic_training_set

    held_out = {cid for ids in prepared.held_out.relevant_docs.values() for cid in ids}
    with services.db.session() as session:
        rows = session.execute(select(Chunk.id, Chunk.text).order_by(Chunk.id).limit(SYNTHETIC_MAX_CHUNKS)).all()
    chunks = {cid: text for cid, text in rows if cid not in held_out}
    if not chunks:
        return
    settings = services.settings
    options = {}
    if settings.anthropic_api_key:
        options = {"api_key": settings.anthropic_api_key, "model": settings.synth_model or settings.anthropic_model,
                   "base_url": settings.anthropic_base_url, "cache_dir": settings.synth_cache_dir}
    queries = generate_synthetic_queries(chunks, questions_per_chunk=settings.synth_questions_per_chunk,
                                         show_progress=False, **options)
    extra = synthetic_training_set(chunks, queries)
    prepared.train.positives.extend(extra.positives)
    prepared.stats["synthetic_positives"] = len(extra.positives)


HANDLERS = {"ingest": run_ingest, "reindex": run_reindex, "promote": run_promote, "retrain": run_retrain,
            "tune": run_tune}
