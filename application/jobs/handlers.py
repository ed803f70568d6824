"""What each kind of job does. A handler gets ``(app, context)`` (``app``: the ``DocsTune`` container)
and returns the job's result."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from application.retrieval.index import collection_record, drop_collection
from application.jobs.contract import JobContext, JobFailed
from application.vectorstore import ACTIVE_ALIAS, collection_name_for

if TYPE_CHECKING:
    from application.container import DocsTune

log = logging.getLogger(__name__)

# -- ingest ---------------------------------------------------------------------------------
def run_ingest(app: DocsTune, context: JobContext) -> dict:
    """Ingest staged uploads; the staged folder is removed afterwards (SQL keeps the text)."""
    params = context.params
    paths = list(params["paths"])
    names = params.get("names", {})
    uploads = app.sources.uploads()
    try:
        report = app.documents.ingestor().ingest_paths(paths, progress=context.progress, uris=params.get("uris"),
                                                            sync_source_id=uploads)
    finally:
        if params.get("staged_folder"):
            shutil.rmtree(params["staged_folder"], ignore_errors=True)
    # staged paths mean nothing to the client: report the uploaded names instead
    for key in ("added", "updated", "unchanged"):
        setattr(report, key, [names.get(p, p) for p in getattr(report, key)])
    for key in ("skipped", "failed", "warnings"):
        setattr(report, key, [(names.get(p, p), reason) for p, reason in getattr(report, key)])
    app.sources.record(uploads, report)
    result = report.to_dict()
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise JobFailed("Nothing could be ingested; see result.failed for the reasons.", result)
    if report.added or report.updated:
        started = submit_label_free(app, f"ingest job {context.job_id[:8]}")
        if started:
            result["label_free_job"] = started
    return result


def run_sync(app: DocsTune, context: JobContext) -> dict:
    """Read a source again (``application.ingest.sync``): new and changed documents are indexed,
    unchanged ones skipped, documents gone upstream removed after the grace period."""
    from application.ingest.documents import SourceError

    source_id = context.params["source_id"]
    try:
        report = app.sources.sync(source_id, progress=context.progress, message=context.message)
    except SourceError as exc:
        raise JobFailed(str(exc)) from exc
    result = {"source_id": source_id, **report.to_dict()}
    if report.failed and not (report.added or report.updated or report.unchanged or report.removed):
        raise JobFailed(f"Nothing could be read: {report.failed[0][1]}", result)
    if report.added or report.updated or report.removed:
        started = submit_label_free(app, f"sync job {context.job_id[:8]}")
        if started:
            result["label_free_job"] = started
    return result


# -- re-index and promote ------------------------------------------------------------------
def _build_and_swap(app: DocsTune, context: JobContext, embeddings, *, registry_version: str | None,
                    fresh: bool = False) -> dict:
    """Build the model's collection with progress, switch to it; on failure or cancel, undo the half-built one."""
    name = collection_name_for(embeddings.fingerprint)
    before = app.serving.info()
    context.remember(collection=name, model_name=embeddings.name, fingerprint=embeddings.fingerprint)
    store = app.vector_store
    context.message(f"embedding every chunk with {embeddings.name}")
    try:
        app.serving.reindex(progress=lambda done, total: context.progress(done, total), model_name=embeddings.name,
                         registry_version=registry_version, fresh=fresh)
    except BaseException:
        record = collection_record(app.db, name)
        if store.alias_target(ACTIVE_ALIAS) != name and record is not None and record.status == "building":
            drop_collection(app.db, store, name)
        raise
    result = {"collection": name, "model_name": embeddings.name, "fingerprint": embeddings.fingerprint,
              "dimension": embeddings.dimension, "chunks": store.count(name), "previous": before,
              "version": registry_version}
    started = submit_label_free(app, f"swap job {context.job_id[:8]}")
    if started:
        result["label_free_job"] = started
    return result


def run_reindex(app: DocsTune, context: JobContext) -> dict:
    model = context.params.get("model")
    if model:
        embeddings = app.models.load(model)
        configured_name, configured_version = app.models.configured_model()
        version = context.params.get("version") or (configured_version if model == configured_name else None)
    else:
        embeddings, version = app.models.configured(), app.models.configured_model()[1]
    return _build_and_swap(app, context, embeddings, registry_version=version,
                           fresh=bool(context.params.get("fresh")))



def run_promote(app: DocsTune, context: JobContext) -> dict:
    """Re-index with a registry version, switch the alias, then move the registry's active pointer."""
    from application.models_admin import registry_for, validate_promotion
    from training.registry import RegistryError

    force = bool(context.params.get("force"))
    version = validate_promotion(app, context.params["version"], force=force)
    embeddings = app.models.load(version.model_path)
    if embeddings.fingerprint != version.fingerprint:
        raise JobFailed(f"The checkpoint of {version.version} changed on disk (fingerprint {embeddings.fingerprint}, "
                        f"registered {version.fingerprint}); it was not promoted. Serving is unchanged.")
    result = _build_and_swap(app, context, embeddings, registry_version=version.version)
    registry = registry_for(app.settings)
    try:
        registry.promote(version.version, force=True)  # the gate was checked above
    except RegistryError as exc:  # already the active pointer (an earlier, interrupted swap)
        log.info("Registry: %s", exc)
    result["registry_active"] = version.version
    return result


# -- retrain --------------------------------------------------------------------------------
def rated_feedback(app: DocsTune, context: JobContext, kind: str, *, steps: int) -> list:
    """Every rated message as a ``FeedbackRecord``, read from SQL into memory (JSONL is the export format
    only: nothing is written to be read back); a record that does not parse raises ``TrainingDataError``."""
    from application.chat.export import feedback_records

    context.progress(0, steps, "reading the ratings")
    records = feedback_records(app.db)
    if not records:
        raise JobFailed(f"No rated messages yet: people need to rate answers (thumbs up/down) before a {kind}.")
    return records


def prepared_feedback(app: DocsTune, context: JobContext, kind: str, what: str, *, steps: int):
    """The rated questions split by the deployment's frozen evaluation set (the questions it holds
    and those the rule assigns to it now judge, the rest train), over every stored chunk; the ratings
    are resolved and the set grown once, and what joined it is stored first (the set only grows,
    whatever the run does next)."""
    from application.db.evaluation_set import grow_from_feedback, stored_chunk_texts
    from training.feedback import build_pairs_from_feedback
    from training.pipeline import prepare_from_feedback
    from training.records import TrainingDataError

    corpus = stored_chunk_texts(app.db)
    try:
        resolved = build_pairs_from_feedback(rated_feedback(app, context, kind, steps=steps), corpus)
        frozen, grown, share = grow_from_feedback(app.db, resolved, app.settings.evaluation_share_for)
        return prepare_from_feedback(resolved, held_out_fraction=share, evaluation=frozen, grown=grown,
                                     chunk_texts=corpus)
    except TrainingDataError as exc:
        raise JobFailed(f"The feedback is not enough to {what}: {exc}") from exc


def run_retrain(app: DocsTune, context: JobContext) -> dict:
    """Feedback → pairs (+ synthetic questions) → fine-tune the serving model → judge it on the frozen
    evaluation set → register (→ promote only on ``better``). One run as ``docstune train`` assembles
    it (``training.pipeline.run_training``): the job's parameters are its options."""
    from application.models_admin import registry_for
    from training.pipeline import SyntheticOptions, TrainingOptions, plan_run, run_training
    from training.records import TrainingDataError

    settings = app.settings
    params = context.params
    try:  # the request's options, then the RETRAIN_* settings, then the data's measured defaults
        options = TrainingOptions.from_params(params).over(settings.training_options())
        synthetic = SyntheticOptions.from_params(params).over(settings.synthetic_options())
    except TrainingDataError as exc:
        raise JobFailed(f"Bad retrain option: {exc}.") from exc
    prepared = prepared_feedback(app, context, "retrain", "train on", steps=5)
    if synthetic.include:
        context.progress(1, 5, "writing synthetic questions")
        _add_synthetic(app, context, prepared, budget=synthetic.chunks)
    index = app.serving.current
    serving = index.embeddings
    base_path = getattr(serving, "path", None)
    if not base_path:
        raise JobFailed(f"The serving model {serving.name} has no local folder to fine-tune.")
    parent = app.serving.info()["version"]
    loss = plan_run(prepared, options).config.loss
    what = f"training {loss} on {len(prepared.train)} rows"
    context.progress(2, 5, f"{what} from {serving.name}")
    outcome = run_training(  # its work folder (under models/.work) is removed once the version is registered
        prepared, base_model=base_path, work_root=settings.models_dir / ".work", registry=registry_for(settings),
        options=options, gate=settings.gate(), baseline_label="active", parent=parent, base_model_name=serving.name,
        query_prefix=settings.embeddings_query_prefix, document_prefix=settings.embeddings_document_prefix,
        retrieval=app.serving.fusion_for(index), lexical=settings.lexical_tokenizer,
        progress=training_progress(context, what), show_progress=False,
        trained_by=f"the retrain job {context.job_id[:8]}",
    )
    version, verdict = outcome.version, outcome.verdict
    base_url = f"/api/admin/models/{version.version}"
    result = {
        "version": version.version,
        "verdict": verdict.status,
        "reason": verdict.reason,
        "gate": {k: v for k, v in verdict.to_dict().items() if k not in ("changed", "deltas")},
        "report_url": f"{base_url}/report",
        "plot_url": f"{base_url}/plot.png",
        "metrics": {"candidate": outcome.judged["candidate"], "baseline": outcome.judged["baseline"]},
        "retrieval": outcome.retrieval,
        "plan": {**outcome.plan.to_dict(), **synthetic.to_params()},
        "evaluation_set": prepared.stats.get("evaluation_set"),
        "files": {k: str(Path(v)) for k, v in outcome.files.items()},
        "data": outcome.finetune.data_stats,
        "promote_job_id": None,
    }
    context.progress(4, 5, f"registered {version.version} ({verdict.label})")
    if prepared.held_out.queries:
        result["serving_evaluation"] = measure_serving(app, prepared.held_out, prepared.evaluation,
                                                       f"retrain {context.job_id[:8]}")
    if params.get("auto_promote") and verdict.passed:
        promote = context.submit_swap("promote", {"version": version.version, "trigger": context.job_id})
        result["promote_job_id"] = promote["id"]
    return result


def measure_serving(app: DocsTune, held_out, frozen, trigger: str) -> dict:
    """The serving pipeline (its collection, its weight) on the frozen evaluation set ``frozen``
    (``held_out``: its questions as IR JSON over the stored chunks), recorded."""
    from application.db.evaluation_set import record_serving_evaluation
    from training.retrieval_eval import evaluate_pipeline

    index = app.serving.current
    fusion = app.serving.fusion_for(index)
    legs, index = app.serving.retrieval_legs(held_out, lexical=fusion.uses_lexical)
    metrics = evaluate_pipeline(legs, fusion).mean
    return record_serving_evaluation(
        app.db, frozen, collection=index.collection, model_name=index.embeddings.name,
        version=app.serving.info()["version"], retrieval=fusion.to_dict(), metrics=metrics, trigger=trigger)


def run_evaluate(app: DocsTune, context: JobContext) -> dict:
    """Bring the frozen evaluation set up to date with the ratings, and measure the serving pipeline on it."""
    from application.db.evaluation_set import evaluation_summary, grow_from_feedback, load_evaluation_set
    from application.db.evaluation_set import stored_chunk_texts
    from training.feedback import build_pairs_from_feedback
    from training.records import TrainingDataError

    context.progress(0, 2, "bringing the evaluation set up to date with the ratings")
    corpus = stored_chunk_texts(app.db)
    try:
        records = rated_feedback(app, context, "evaluate", steps=2)
        _, frozen, _ = grow_from_feedback(app.db, build_pairs_from_feedback(records, corpus),
                                          app.settings.evaluation_share_for)
    except JobFailed:  # no rated message yet: imported questions may still be there
        frozen = load_evaluation_set(app.db)
    except TrainingDataError as exc:
        raise JobFailed(f"The feedback cannot be read: {exc}") from exc
    held_out = frozen.to_ir(corpus)
    if not held_out.queries:
        raise JobFailed("The evaluation set has no question about a stored chunk yet: rate answers, or import "
                        "questions (docstune evalset import).")
    context.progress(1, 2, f"searching {len(held_out.queries)} evaluation questions through the serving index")
    measured = measure_serving(app, held_out, frozen, f"evaluate {context.job_id[:8]}")
    return {**evaluation_summary(app.db), "measured": measured}


# -- answer evaluation: whole answers of one or more pipelines, judged, timed and priced -------
def run_evaluate_answers(app: DocsTune, context: JobContext) -> dict:
    """Answer a set of questions with each pipeline of ``params["configs"]`` (model, retrieval mode, weight,
    k) and compare them: quality (judge, similarity to the references, faithfulness), latency, tokens and
    cost (``application.answer_eval``). The set is the frozen evaluation set, or an uploaded IR JSON (staged
    in a file by the route, so that the job's row stays small). The files go to
    ``DATA_DIR/answer-evaluations/<job id>/``."""
    from application.answer_eval import AnswerConfig, evaluate_answers

    params = context.params
    context.progress(0, 1, "reading the questions")
    out_dir = answer_evaluation_dir(app.settings, context.job_id)
    ir, name = _answer_evaluation_set(app, params, out_dir)
    try:
        configs = [AnswerConfig(**config) for config in params.get("configs") or [{"name": "serving"}]]
        summary = evaluate_answers(
            app, ir, configs, out_dir=out_dir, reference=params.get("reference", "auto"), judge="auto",
            users=params.get("users"), questions_per_day=params.get("questions_per_day"),
            limit=params.get("limit"), progress=context.progress, dataset_name=name)
    except ValueError as exc:  # a configuration or a data set it cannot use (ConfigError, TrainingDataError, ...)
        raise JobFailed(f"The answers cannot be evaluated: {exc}") from exc
    return {**summary, "report_url": f"/api/admin/answer-evaluations/{context.job_id}/report"}


def answer_evaluation_dir(settings, job_id: str) -> Path:
    """Where an ``evaluate_answers`` job writes its files (absolute: the job's result names them)."""
    return Path(settings.data_dir).resolve() / "answer-evaluations" / job_id


def _answer_evaluation_set(app: DocsTune, params: dict, out_dir: Path):
    """(IRDataset, its name) of an ``evaluate_answers`` job: ``dataset`` is ``"frozen"``, ``"file"`` (an
    uploaded IR JSON staged at ``dataset_file``; it moves to ``out_dir/dataset.json``, beside the results it
    gave) or an IR JSON object."""
    from application.db.evaluation_set import export_ir
    from training.irjson import ir_dataset_from_dict, load_ir_json
    from training.records import TrainingDataError

    dataset = params.get("dataset", "frozen")
    name = params.get("dataset_name") or ""
    if dataset == "frozen":
        ir = export_ir(app.db)
        if not ir.queries:
            raise JobFailed("The frozen evaluation set is empty: there is no question to answer yet; import "
                            "questions (POST /api/admin/evaluation/import, docstune evalset import) or rate answers.")
        return ir, name or "the frozen evaluation set"
    try:
        if dataset == "file":
            ir = load_ir_json(params["dataset_file"])
            out_dir.mkdir(parents=True, exist_ok=True)
            shutil.move(params["dataset_file"], out_dir / "dataset.json")
            return ir, name or "an uploaded IR JSON"
        return ir_dataset_from_dict(dataset, "the uploaded IR JSON"), name or "an uploaded IR JSON"
    except TrainingDataError as exc:
        raise JobFailed(f"The data set cannot be read: {exc}.") from exc


# -- tune: fit the fusion weight only (seconds, no model is trained) --------------------------
def run_tune(app: DocsTune, context: JobContext) -> dict:
    """Rated questions (the held-out side of the retrain's split) → both legs of the serving
    collection → the fusion weight that ranks their rated chunks best → it serves at once.

    The weight is stored for the serving collection (so a rollback or a promotion moves it with
    the model) only when the gate says its cross-fitted metrics are ``better`` than the serving
    weight's, question by question (paired; GATE_MIN_QUESTIONS of them at least).
    """
    from training.records import TrainingDataError
    from training.tuning import MIN_TUNE_QUESTIONS, tune_fusion

    settings = app.settings
    held_out = prepared_feedback(app, context, "tune", "fit a weight on", steps=3).held_out
    if not held_out.queries:
        raise JobFailed(f"The frozen evaluation set has no question yet to fit the fusion weight on (at least "
                        f"{MIN_TUNE_QUESTIONS} are needed): rate more answers.")
    context.progress(1, 3, f"searching {len(held_out.queries)} evaluation questions through the serving index")
    legs, index = app.serving.retrieval_legs(held_out)
    serving, origin = app.serving.serving_fusion(index)
    try:
        tuned = tune_fusion(legs, serving, gate=settings.gate())
    except TrainingDataError as exc:
        raise JobFailed(f"Cannot fit the fusion weight: {exc}.") from exc
    context.progress(2, 3, f"fitted {tuned.settings.weight:g} on {tuned.questions} questions")
    verdict = tuned.verdict
    store = verdict.passed and tuned.settings.weight != serving.weight
    result = {
        "collection": index.collection, "model_name": index.embeddings.name,
        "weight": tuned.settings.weight, "previous_weight": serving.weight, "previous_source": origin["source"],
        "questions": tuned.questions, "metric": tuned.metric,
        "cross_fitted": tuned.cross_fitted, "baseline": tuned.baseline,
        "curve": {f"{w:g}": round(v, 6) for w, v in tuned.curve.items()}, "stored": store,
        "verdict": verdict.status, "reason": verdict.reason,
    }
    if store:
        app.serving.set_tuned_fusion(index.collection, tuned.record(
            f"docstune tune (job {context.job_id[:8]}): fitted on {tuned.questions} held-out rated questions",
            job_id=context.job_id))
        result["serving"] = ("FUSION_WEIGHT is set and wins; unset it to serve the fitted weight"
                             if settings.fusion_weight is not None else "the fitted weight serves now")
    else:
        result["serving"] = (f"kept {serving.weight:g}: the fitted weight ({tuned.settings.weight:g}) is not "
                             f"shown better on questions it was not fitted on ({verdict.label}: {verdict.reason})")
    return result


# -- label_free: the fusion weight before any rating (training.label_free) ---------------------
LABEL_FREE_REFIT_CHANGE = 0.10  # a label-free weight is fitted again once the chunk count moved by more


def label_free_plan(app: DocsTune) -> tuple[bool, str]:
    """Whether the serving collection wants a label-free fusion weight fitted now, and why (or why not).

    Wanted when FUSION_LABEL_FREE is on, FUSION_WEIGHT unset, the configured fusion has a weight, no
    weight fitted on ratings applies, there are enough chunks, and either no label-free weight applies
    or the chunk count moved by more than ``LABEL_FREE_REFIT_CHANGE`` since it was fitted."""
    from application.retrieval.index import stored_chunk_count
    from training.fusion import fitted_weight
    from training.label_free import MIN_PSEUDO_QUERIES, is_label_free
    from training.tuning import WEIGHTED_METHODS

    settings = app.settings
    if not settings.fusion_label_free:
        return False, "FUSION_LABEL_FREE=false"
    if settings.fusion_weight is not None:
        return False, f"FUSION_WEIGHT={settings.fusion_weight:g} is set and wins"
    configured = settings.fusion()
    if configured.mode != "hybrid" or configured.method not in WEIGHTED_METHODS:
        return False, f"{configured.describe()} has no fusion weight to fit"
    index = app.serving.current
    tuned = index.tuned
    applies = fitted_weight(tuned, configured) is not None
    if applies and not is_label_free(tuned):
        return False, f"a weight fitted on ratings serves ({tuned.get('origin', '')})"
    chunks = stored_chunk_count(app.db)
    if chunks < MIN_PSEUDO_QUERIES:
        return False, (f"{chunks} chunks: below {MIN_PSEUDO_QUERIES} a weight fitted on pseudo-queries is "
                       f"unreliable; the measured default serves")
    if applies:
        before = int(tuned.get("chunks") or 0)
        if abs(chunks - before) <= LABEL_FREE_REFIT_CHANGE * before:
            return False, f"the label-free weight was fitted on {before} chunks; {chunks} now is within 10 %"
        return True, f"the chunk count moved from {before} to {chunks}"
    return True, f"{chunks} chunks and no fusion weight fitted for {index.collection} yet"


def submit_label_free(app: DocsTune, trigger: str) -> str | None:
    """After a job that changed the chunks: start a ``label_free`` job when one is wanted
    (``label_free_plan``) and none is queued or running; its id, or None. Never fails its caller."""
    try:
        due, reason = label_free_plan(app)
        if not due or app.jobs.store.active(("label_free",)):
            return None
        return app.jobs.submit("label_free", {"trigger": trigger, "reason": reason})["id"]
    except Exception:  # the ingest or swap that called it succeeded; serving keeps the weight it had
        log.exception("No label-free fusion weight was started after %s", trigger)
        return None


def run_label_free(app: DocsTune, context: JobContext) -> dict:
    """The stored chunks' own pseudo-queries (inverse cloze, at most LABEL_FREE_MAX_QUESTIONS; the chunks
    next to a query's own in its document relevant too) → both
    legs of the serving model and tokenizer → the fusion weight that ranks each query's chunk best →
    stored for the serving collection, where it serves until a weight fitted on ratings replaces it."""
    from sqlalchemy import select

    from application.db.models import Chunk
    from application.retrieval.index import tuned_fusion
    from training.label_free import fit_label_free_weight, is_label_free, neighbours_by_position
    from training.records import TrainingDataError

    due, reason = label_free_plan(app)
    if not due:
        return {"stored": False, "serving": f"nothing to fit: {reason}"}
    settings = app.settings
    index = app.serving.current
    with app.db.session() as session:
        rows = session.execute(select(Chunk.id, Chunk.text, Chunk.source_id, Chunk.position)
                               .order_by(Chunk.id)).all()
    chunks = {cid: text for cid, text, _, _ in rows}
    steps = iter(range(1, 6))
    context.progress(0, 6, f"{reason}: pseudo-queries from {len(chunks)} chunks")
    try:
        record = fit_label_free_weight(chunks, index.embeddings, index.lexical, base=settings.fusion(),
                                       neighbours=neighbours_by_position((cid, source, position)
                                                                         for cid, _, source, position in rows),
                                       max_questions=settings.label_free_max_questions,
                                       progress=lambda message: context.progress(next(steps, 5), 6, message))
    except TrainingDataError as exc:
        return {"stored": False, "serving": f"the measured default: {exc}"}
    record["job_id"] = context.job_id
    result = {"collection": index.collection, "model_name": index.embeddings.name, "weight": record["weight"],
              "questions": record["questions"], "chunks": record["chunks"], "curve": record["curve"],
              "with_neighbours": record["with_neighbours"],
              "on_pseudo_queries": record["on_pseudo_queries"]}
    current = tuned_fusion(app.db, index.collection)
    if current is not None and not is_label_free(current):  # a tune finished meanwhile: ratings win
        return {**result, "stored": False, "serving": f"kept the weight fitted on ratings ({current.get('origin')})"}
    app.serving.set_tuned_fusion(index.collection, record)
    context.progress(6, 6, f"fitted {record['weight']:g} on {record['questions']} pseudo-queries")
    return {**result, "stored": True, "serving": f"the label-free weight {record['weight']:g} serves now"}


def training_progress(context: JobContext, what: str, every: float = 1.0, clock=time.monotonic):
    """A ``progress(step, total)`` for the fine-tuning that shows in the job: steps done of all, and
    an estimate of the time left; at most one write each ``every`` seconds.

    Step 0 (``run_training`` reports it as the trainer starts) starts the clock: the mining and the
    loading before it are not the training's pace. The first step's estimate is its own time (the
    trainer's setup included); from the second on, the pace since the first step (its warm-up left out)."""
    started = [clock()]
    first = []  # (step, time) of the first step reported
    last = [float("-inf")]

    def report(step: int, total: int) -> None:
        now = clock()
        if step == 0:
            started[0] = now
            context.progress(0, total, f"{what}: the trainer starts")
            return
        if not first:
            first.append((step, now))
        if step < total and now - last[0] < every:
            return
        last[0] = now
        first_step, first_at = first[0]
        if step > first_step:
            left = (now - first_at) / (step - first_step) * (total - step)
        else:
            left = (now - started[0]) / step * (total - step)
        context.progress(step, total, f"{what}: step {step} of {total}"
                                      + (f", about {_minutes(left)} left" if step < total else ", evaluating"))

    return report


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{max(1, round(seconds))} s"


def _add_synthetic(app: DocsTune, context: JobContext, prepared, *, budget: int | None = None) -> None:
    """Questions for stored chunks that no held-out question is about, for ``budget`` chunks at most
    (``training.pipeline.choose_synthetic_chunks``: where the serving model ranks a chunk poorly for a
    probe question of its own, near the rated ones first): written by the configured LLM (its estimate,
    then its counts, in the progress message), else offline by inverse cloze."""
    from sqlalchemy import select

    from application.db.models import Chunk
    from application.llm.question_writer import synthetic_generator_options
    from training.pipeline import choose_synthetic_chunks, probe_candidates
    from training.records import TrainingDataError
    from training.synthetic import SynthEstimate, generate_synthetic_queries, synthetic_training_set

    held_out = {cid for ids in prepared.held_out.relevant_docs.values() for cid in ids}
    with app.db.session() as session:
        rows = session.execute(select(Chunk.id, Chunk.text).order_by(Chunk.id)).all()
    chunks = {cid: text for cid, text in rows if cid not in held_out}
    if not chunks:
        return
    candidates = len(chunks)
    if budget is not None and candidates > budget:
        probed = {cid: chunks[cid] for cid in probe_candidates(chunks, budget, prepared.rated_chunks)}
        context.progress(1, 5, f"choosing {budget} of {candidates} chunks for synthetic questions"
                               + (f" (probing {len(probed)} of them)" if len(probed) < candidates else ""))
        ranks = _own_chunk_ranks(app, probed)
        chosen = choose_synthetic_chunks(probed, budget, ranks=ranks, near_rated=prepared.rated_chunks)
        chunks = {cid: chunks[cid] for cid in chosen}
        prepared.stats["synthetic_selection"] = {
            "candidates": candidates, "probed": len(probed), "budget": budget, "chosen": len(chunks),
            "poorly_ranked": sum(1 for r in ranks.values() if r is None or r > 1),
            "near_rated": len(set(chosen) & prepared.rated_chunks)}
    settings = app.settings
    options = synthetic_generator_options(settings)
    reported = {}

    def announce(news) -> None:
        if isinstance(news, SynthEstimate):
            reported["estimate"] = news.to_dict()
            context.progress(1, 5, f"writing synthetic questions: {news.describe()}")
        else:
            reported.update(news.to_dict())
            context.progress(1, 5, f"wrote synthetic questions: {news.describe()}")

    try:
        queries = generate_synthetic_queries(chunks, questions_per_chunk=settings.synth_questions_per_chunk,
                                             show_progress=False, announce=announce if options else None, **options)
    except TrainingDataError as exc:
        raise JobFailed(f"Could not write the synthetic questions: {exc}") from exc
    extra = synthetic_training_set(chunks, queries)
    prepared.train.positives.extend(extra.positives)
    prepared.stats["synthetic_positives"] = len(extra.positives)
    if reported:
        prepared.stats["synthetic_llm"] = reported


def _own_chunk_ranks(app: DocsTune, chunks: dict[str, str]) -> dict[str, int | None]:
    """Per chunk, where the serving collection's dense leg ranks it for a probe question of its own
    (``training.pipeline.probe_questions``): one encode of each probe and one search, no chunk re-encoded."""
    from training.pipeline import own_chunk_ranks, probe_questions
    from training.records import IRDataset

    probes = probe_questions(chunks)
    if not probes:
        return {}
    ir = IRDataset(dict(probes), {}, {cid: [cid] for cid in probes})
    legs, _ = app.serving.retrieval_legs(ir, lexical=False)
    return own_chunk_ranks(legs.dense, probes)


HANDLERS = {"ingest": run_ingest, "sync": run_sync, "reindex": run_reindex, "promote": run_promote, "retrain": run_retrain,
            "tune": run_tune, "label_free": run_label_free, "evaluate": run_evaluate,
            "evaluate_answers": run_evaluate_answers}
