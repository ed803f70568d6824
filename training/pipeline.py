"""One training run end to end: data → split → (hard negatives) → fine-tune → evaluate → gate → register.

The CLI (``docstune train``) and the application's jobs call these functions; each
step is its own module, this one only wires them in the documented order. Nothing
reaches the registry until the model is trained, evaluated and judged, and a failure
at any step leaves the registry as it was.

Example::

    from training.pipeline import TrainingOptions, prepare_from_feedback, run_training
    from training.registry import ModelRegistry
    prepared = prepare_from_feedback("feedback.jsonl")
    outcome = run_training(prepared, base_model="/path/to/all-MiniLM-L6-v2",
                           registry=ModelRegistry("data/models"), work_root="data/models/.work")
    print(outcome.version.version, outcome.verdict.status)
"""
from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from training.evaluate import EvaluationRun, evaluate_models, write_evaluation_outputs
from training.feedback import build_pairs_from_feedback
from training.finetune import (
    SYNTHETIC_DEFAULTS,
    FinetuneConfig,
    FinetuneResult,
    default_loss_for,
    finetune,
    load_model,
    write_model_card,
)
from training.gate import GateConfig, GateVerdict, judge
from training.records import IRDataset, TrainingDataError, TrainingSet
from training.registry import ModelRegistry, ModelVersion
from training.split import choose_held_out_chunks, split_feedback_by_chunk, split_ir_by_chunk
from training.synthetic import generate_synthetic_queries, synthetic_training_set


@dataclass
class PreparedData:
    """Training rows and the held-out questions they must not see."""

    kind: str  # "feedback" | "ir" | "synthetic"
    train: TrainingSet
    held_out: IRDataset
    mining_corpus: list[str]  # chunk texts hard negatives may come from (no held-out chunk)
    default_loss: str
    stats: dict = field(default_factory=dict)
    #: hyper-parameters this kind of data trains best with (measured, docs/training.md): FinetuneConfig
    #: fields, and ``mine_hard_negatives``; an option the caller sets wins
    defaults: dict = field(default_factory=dict)

    def finetune_config(self, **options) -> FinetuneConfig:
        """The config for this data: ``options`` the caller set (None: not set), then this data's
        defaults, then FinetuneConfig's own (the per-loss learning rate included)."""
        chosen = {k: v for k, v in self.defaults.items() if k != "mine_hard_negatives"}
        chosen.update({k: v for k, v in options.items() if v is not None})
        chosen.setdefault("loss", self.default_loss)
        return FinetuneConfig(**chosen)

    def mine_hard_negatives(self, option: bool | None = None) -> bool:
        return self.defaults.get("mine_hard_negatives", True) if option is None else option


def prepare_from_feedback(path, *, held_out_fraction: float = 0.2, seed: int = 42,
                          chunk_texts: dict[str, str] | None = None) -> PreparedData:
    resolved = build_pairs_from_feedback(path, chunk_texts)
    split = split_feedback_by_chunk(resolved, held_out_fraction, seed)
    train = split.train.training_set()
    if not len(train):
        raise TrainingDataError(f"{path}: no training pairs are left after holding out questions for evaluation")
    held_out = split.held_out.to_ir_dataset(chunk_texts)
    stats = {**resolved.stats, "train_questions": len(split.train.labels), "held_out_questions": len(held_out.queries),
             **train.stats()}
    mining = [t for cid, t in resolved.texts.items() if cid not in split.held_out_chunks]
    return PreparedData("feedback", train, held_out, mining, default_loss_for(train), stats)


def prepare_from_ir(ir: IRDataset, *, held_out_fraction: float = 0.2, seed: int = 42) -> PreparedData:
    split = split_ir_by_chunk(ir, held_out_fraction, seed)
    train = TrainingSet(positives=[(q, text) for q, _, text in split.train.positive_pairs()])
    stats = {"train_questions": len(split.train.queries), "held_out_questions": len(split.held_out.queries),
             "corpus": len(ir.corpus), "held_out_chunks": len(split.held_out_chunks), **train.stats()}
    mining = [t for cid, t in ir.corpus.items() if cid not in split.held_out_chunks]
    return PreparedData("ir", train, split.held_out, mining, "mnrl", stats)


def prepare_from_synthetic(chunks: dict[str, str], real_questions: IRDataset | None = None, *,
                           held_out_fraction: float = 0.2, seed: int = 42, questions_per_chunk: int = 2,
                           show_progress: bool = True, **generator_options) -> PreparedData:
    """Train on generated questions of the train chunks only.

    With ``real_questions`` (an IR JSON corpus), evaluation uses its real questions about
    the held-out chunks; otherwise the generated questions of the held-out chunks.
    """
    if real_questions is not None:
        split = split_ir_by_chunk(real_questions, held_out_fraction, seed)
        held_chunks, held_out = split.held_out_chunks, split.held_out
        to_generate = {cid: t for cid, t in chunks.items() if cid not in held_chunks}
    else:
        held_chunks = choose_held_out_chunks(chunks, held_out_fraction, seed)
        to_generate = chunks
        held_out = None
    queries = generate_synthetic_queries(to_generate, questions_per_chunk=questions_per_chunk, seed=seed,
                                         show_progress=show_progress, **generator_options)
    train_queries = [q for q in queries if q.chunk_id not in held_chunks]
    if held_out is None:
        held = [q for q in queries if q.chunk_id in held_chunks]
        if not held:
            raise TrainingDataError("no synthetic question was made for the held-out chunks; add more chunks")
        held_out = IRDataset({f"h{i}": q.question for i, q in enumerate(held)}, dict(chunks),
                             {f"h{i}": [q.chunk_id] for i, q in enumerate(held)})
    train = synthetic_training_set(chunks, train_queries)
    if not len(train):
        raise TrainingDataError("no synthetic question is left for training after the held-out split")
    methods = sorted({q.method for q in queries})
    stats = {"chunks": len(chunks), "synthetic_questions": len(train_queries), "method": ",".join(methods),
             "held_out_questions": len(held_out.queries), "held_out_real_questions": real_questions is not None,
             **train.stats()}
    mining = [t for cid, t in chunks.items() if cid not in held_chunks]
    return PreparedData("synthetic", train, held_out, mining, "mnrl", stats, defaults=dict(SYNTHETIC_DEFAULTS))


@dataclass
class TrainingOutcome:
    finetune: FinetuneResult
    evaluation: EvaluationRun
    verdict: GateVerdict
    files: dict[str, Path]
    version: ModelVersion | None = None
    #: the two metric sets the gate compared: ``{"baseline": ..., "candidate": ...}``
    judged: dict = field(default_factory=dict)
    #: the candidate's retrieval settings (its fitted fusion weight), when pipelines were judged
    retrieval: dict | None = None


def judge_retrieval_pipelines(held_out: IRDataset, baseline_model, candidate_model, serving, lexical: str, *,
                              gate: GateConfig | None = None, baseline_label: str = "active",
                              device: str | None = None, dataset_name: str = ""):
    """The serving pipeline against the candidate's (``training.tuning.judge_pipelines``) over the whole
    held-out corpus, as an ``EvaluationRun`` for the report (serving pipeline first, candidate last)."""
    from training.retrieval_eval import build_legs, encode_dense_leg
    from training.tuning import judge_pipelines

    baseline_legs = build_legs(held_out, dense=load_model(baseline_model, device=device), lexical=lexical,
                               candidates=serving.candidates, dense_label=baseline_label, lexical_label=lexical)
    candidate_legs = baseline_legs.with_dense(
        encode_dense_leg(load_model(candidate_model, device=device), held_out, candidates=serving.candidates,
                         query_ids=baseline_legs.query_ids), "candidate")
    judgement = judge_pipelines(baseline_legs, candidate_legs, serving, gate, baseline_label=baseline_label)
    labels = list(judgement.rows)  # serving pipeline, candidate pipeline, then the single legs
    order = [labels[0], *labels[2:], labels[1]]
    run = EvaluationRun({label: judgement.rows[label] for label in order},
                        {label: label.split(" · ")[0] for label in order}, baseline_legs.query_ids,
                        len(held_out.corpus), dataset_name)
    return judgement, run


def run_training(
    prepared: PreparedData,
    *,
    base_model: str | os.PathLike,
    work_root: str | os.PathLike,
    registry: ModelRegistry | None = None,
    config: FinetuneConfig | None = None,
    gate: GateConfig | None = None,
    mine_hard_negatives: bool | None = None,
    baseline_label: str = "active",
    parent: str | None = None,
    base_model_name: str | None = None,
    query_prefix: str = "",
    document_prefix: str = "",
    retrieval=None,
    lexical: str = "bm25-en",
    progress=None,
) -> TrainingOutcome:
    """Train, evaluate against ``base_model`` on the held-out set, judge, and register (if ``registry``).

    With ``retrieval`` (the serving ``FusionSettings``) of a mode other than ``dense``, the gate judges
    pipelines: the base model with ``retrieval`` against the candidate with its weight fitted on the
    held-out questions (cross-fitted), both over the held-out corpus with the ``lexical`` tokenizer;
    the version records the candidate's retrieval settings. Without it, the models alone (dense).
    """
    config = config or prepared.finetune_config()
    mine_hard_negatives = prepared.mine_hard_negatives(mine_hard_negatives)
    data = prepared.train
    stats = dict(prepared.stats)
    work = Path(work_root) / uuid.uuid4().hex[:12]
    work.mkdir(parents=True)
    try:
        if mine_hard_negatives and data.positives:  # every loss: mnrl's triplets, the pair losses' 0 labels
            from training.hard_negatives import add_hard_negatives

            before = len(data.triplets)
            miner = load_model(base_model, device=config.device)
            data = add_hard_negatives(miner, data, prepared.mining_corpus, show_progress=config.show_progress)
            stats["mined_triplets"] = len(data.triplets) - before
            del miner
        result = finetune(base_model, data, work / "model", config, progress=progress,
                          description=f"Trained on {prepared.kind} data by `docstune train`.")
        result.data_stats = {**stats, **result.data_stats}
        dataset_name = f"held-out {prepared.kind}"
        recorded_retrieval = None
        if retrieval is not None and retrieval.mode != "dense":
            judgement, run = judge_retrieval_pipelines(
                prepared.held_out, str(base_model), str(work / "model"), retrieval, lexical, gate=gate,
                baseline_label=baseline_label, device=config.device, dataset_name=dataset_name)
            verdict, judged = judgement.verdict, {"baseline": judgement.baseline, "candidate": judgement.candidate}
            recorded_retrieval = {
                **judgement.candidate_settings.to_dict(), "lexical": lexical, "questions": judgement.questions,
                "origin": f"fitted at training on {judgement.questions} held-out questions",
                "serving_at_training": judgement.serving_settings.to_dict(),
            }
        else:
            run = evaluate_models({baseline_label: str(base_model), "candidate": str(work / "model")},
                                  prepared.held_out, device=config.device, show_progress=config.show_progress,
                                  dataset_name=dataset_name)
            verdict = judge(run.metrics[baseline_label], run.metrics["candidate"], gate)
            judged = {"baseline": run.metrics[baseline_label], "candidate": run.metrics["candidate"]}
            if retrieval is not None:
                recorded_retrieval = {**retrieval.to_dict(), "lexical": lexical}
        files = write_evaluation_outputs(run, work / "eval", verdict)
        result.metrics = judged["candidate"]
        write_model_card(work / "model", result)
        outcome = TrainingOutcome(result, run, verdict, files, judged=judged, retrieval=recorded_retrieval)
        if registry is not None:
            outcome.version = registry.register(
                work / "model",
                base_model=base_model_name or str(base_model),
                parent=parent,
                data_stats=result.data_stats,
                metrics=judged["candidate"],
                gate={**verdict.to_dict(), "baseline_metrics": judged["baseline"],
                      "held_out_queries": len(run.query_ids)},
                retrieval=recorded_retrieval,
                training={**result.config, "train_rows": result.train_rows, "train_seconds": result.train_seconds,
                          "data_kind": prepared.kind},
                files=files,
                move=True,
                query_prefix=query_prefix,
                document_prefix=document_prefix,
            )
            version_dir = registry.root / outcome.version.version
            outcome.files = {k: version_dir / Path(v).name for k, v in files.items()}
        return outcome
    finally:
        if registry is not None:
            shutil.rmtree(work, ignore_errors=True)
