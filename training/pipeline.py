"""One training run end to end: data → defaults → config → (hard negatives) → fine-tune → judge → register.

This is the one place a run is assembled: ``docstune train`` and the retrain job both call
``prepare_from_*`` and :func:`run_training` with a :class:`TrainingOptions` (what the caller set:
CLI options, the job's parameters, the RETRAIN_* settings); :func:`plan_run` turns the options
and the data's measured defaults into the fine-tuning config, so the two entry points train
the same way on the same data. Each step is its own module; this one only wires them in the
documented order. Nothing reaches the registry until the model is trained, judged and
registered, and a failure at any step leaves the registry as it was.

Example::

    from training.pipeline import TrainingOptions, prepare_from_feedback, run_training
    from training.registry import ModelRegistry
    prepared = prepare_from_feedback("feedback.jsonl")
    outcome = run_training(prepared, base_model="/path/to/all-MiniLM-L6-v2",
                           registry=ModelRegistry("data/models"), work_root="data/models/.work")
    print(outcome.version.version, outcome.verdict.status)
"""
from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from training.evaluate import EvaluationRun, write_evaluation_outputs
from training.evaluation_set import EVALUATION_SHARE, EvaluationSet
from training.feedback import ResolvedFeedback, build_pairs_from_feedback, hardest_training_set
from training.finetune import (
    FEEDBACK_DEFAULTS,
    LOSSES,
    SYNTHETIC_DEFAULTS,
    FinetuneConfig,
    FinetuneResult,
    finetune,
    load_model,
    write_model_card,
)
from training.gate import GateConfig, GateVerdict, judge
from training.memory import release_memory
from training.records import IRDataset, TrainingDataError, TrainingSet
from training.registry import ModelRegistry, ModelVersion
from training.split import choose_held_out_chunks, split_ir_by_chunk
from training.synthetic import InverseClozeGenerator, generate_synthetic_queries, synthetic_training_set


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

    #: feedback only: the frozen evaluation set after this data was assigned (the caller stores it)
    evaluation: EvaluationSet | None = None
    #: feedback only: the training side's chunks the rated answers showed (rated or shown beside a rated
    #: one: near the rated questions), what :func:`choose_synthetic_chunks` favours
    rated_chunks: frozenset[str] = frozenset()

    def finetune_config(self, **options) -> FinetuneConfig:
        """The config for this data: ``options`` the caller set (None: not set), then this data's
        defaults, then FinetuneConfig's own (the per-loss learning rate included)."""
        chosen = {k: v for k, v in self.defaults.items() if k != "mine_hard_negatives"}
        given = {k: v for k, v in options.items() if v is not None}
        chosen.update(given)
        chosen.setdefault("loss", self.default_loss)
        if "loss" in self.defaults and chosen["loss"] != self.defaults["loss"] and "learning_rate" not in given:
            chosen.pop("learning_rate", None)  # measured for the defaults' loss: another loss keeps its own
        return FinetuneConfig(**chosen)

    def mine_hard_negatives(self, option: bool | None = None) -> bool:
        return self.defaults.get("mine_hard_negatives", True) if option is None else option


@dataclass(frozen=True)
class TrainingOptions:
    """What a caller set for one run; ``None`` leaves it to the data's measured default, then to
    ``FinetuneConfig``'s. ``docstune train``'s options, the retrain job's parameters and the
    RETRAIN_* settings are all one of these."""

    loss: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_seq_length: int | None = None
    seed: int | None = None
    device: str | None = None
    hard_negatives: bool | None = None

    #: (name, type, smallest, largest) of each option a client may send (the retrain API's body)
    LIMITS = (("epochs", int, 1, 50), ("batch_size", int, 2, 1024), ("max_seq_length", int, 8, 8192),
              ("seed", int, 0, 2 ** 31 - 1), ("learning_rate", float, 1e-8, 1.0))

    @classmethod
    def from_params(cls, params: dict) -> "TrainingOptions":
        """Options from plain JSON (a job's parameters); a bad value raises one readable line."""
        chosen = {}
        loss = params.get("loss")
        if loss is not None:
            if loss not in LOSSES:
                raise TrainingDataError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
            chosen["loss"] = loss
        for name, kind, low, high in cls.LIMITS:
            value = params.get(name)
            if value is None:
                continue
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or (kind is int and not isinstance(value, int)) or not low <= value <= high:
                what = "a whole number" if kind is int else "a number"
                raise TrainingDataError(f"{name} must be {what} from {low:g} to {high:g}; got {value!r}")
            chosen[name] = kind(value)
        if params.get("hard_negatives") is not None:
            if not isinstance(params["hard_negatives"], bool):
                raise TrainingDataError("hard_negatives must be true or false")
            chosen["hard_negatives"] = params["hard_negatives"]
        return cls(**chosen)

    def over(self, fallback: "TrainingOptions") -> "TrainingOptions":
        """These options, with ``fallback``'s where these leave one unset."""
        return TrainingOptions(**{name: getattr(self, name) if getattr(self, name) is not None
                                  else getattr(fallback, name) for name in self.__dataclass_fields__})

    def to_params(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if getattr(self, name) is not None}


@dataclass(frozen=True)
class RunPlan:
    """What a run will do: the fine-tuning config and whether hard negatives are mined."""

    config: FinetuneConfig
    mine_hard_negatives: bool

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return {**asdict(self.config), "mine_hard_negatives": self.mine_hard_negatives}


def plan_run(prepared: "PreparedData", options: TrainingOptions | None = None, *,
             show_progress: bool = True) -> RunPlan:
    """The options the caller set, then the data's measured defaults, then ``FinetuneConfig``'s."""
    options = options or TrainingOptions()
    fields = {k: v for k, v in options.to_params().items() if k != "hard_negatives"}
    return RunPlan(prepared.finetune_config(**fields, show_progress=show_progress),
                   prepared.mine_hard_negatives(options.hard_negatives))


def prepare_from_feedback(feedback, *, held_out_fraction: float = EVALUATION_SHARE,
                          chunk_texts: dict[str, str] | None = None,
                          evaluation: EvaluationSet | None = None, grown: EvaluationSet | None = None,
                          seed: int | None = None) -> PreparedData:
    """Rated questions split by the frozen evaluation set (``training.evaluation_set``): the
    questions ``evaluation`` holds and those the stable rule assigns to it (``held_out_fraction``
    of the chunks) judge; the rest train.

    ``feedback``: a feedback JSONL path, ``FeedbackRecord``s in memory, or the ``ResolvedFeedback``
    the caller resolved already. ``grown``: ``evaluation`` after the rule assigned these ratings, when
    the caller grew (and stored) it already — the set is grown once per run. ``chunk_texts`` (the
    deployment's whole corpus) is what the evaluation searches; without it, only the chunks the
    feedback names. ``seed`` is accepted for symmetry with the other kinds and not used: the rule
    has no randomness.
    """
    del seed
    resolved = feedback if isinstance(feedback, ResolvedFeedback) else build_pairs_from_feedback(feedback, chunk_texts)
    frozen = evaluation or EvaluationSet()
    grown = grown if grown is not None else frozen.grown(resolved, held_out_fraction)
    train_questions = [q for q in resolved.questions() if not grown.holds(q)]
    # per question its positives and only the negative shown highest: fewer, harder rows (docs/training.md)
    train = hardest_training_set(resolved.subset(train_questions))
    if not len(train):
        source = f"{feedback}: " if isinstance(feedback, (str, os.PathLike)) else ""
        raise TrainingDataError(f"{source}no training pairs are left after taking out the {len(grown)} "
                                f"evaluation questions (rate more answers)")
    held_out = grown.to_ir({**resolved.texts, **(chunk_texts or {})})
    stats = {**resolved.stats, "train_questions": len(train_questions), "held_out_questions": len(held_out.queries),
             "evaluation_set": grown.describe(), "evaluation_added": len(grown.added_since(frozen)),
             **train.stats()}
    kept_out = grown.chunks
    mining = [t for cid, t in resolved.texts.items() if cid not in kept_out]
    return PreparedData("feedback", train, held_out, mining, FEEDBACK_DEFAULTS["loss"], stats,
                        defaults=dict(FEEDBACK_DEFAULTS), evaluation=grown,
                        rated_chunks=frozenset(cid for cid in resolved.texts if cid not in kept_out))


@dataclass(frozen=True)
class SyntheticOptions:
    """Whether a retrain adds synthetic questions and for how many chunks at most (the per-round budget).
    The request's parameters (``include_synthetic``, ``synthetic_chunks``) over the settings
    (RETRAIN_INCLUDE_SYNTHETIC, RETRAIN_SYNTHETIC_CHUNKS: ``Settings.synthetic_options``)."""

    include: bool | None = None
    chunks: int | None = None

    CHUNK_LIMITS = (1, 1_000_000)

    @classmethod
    def from_params(cls, params: dict) -> "SyntheticOptions":
        include, chunks = params.get("include_synthetic"), params.get("synthetic_chunks")
        if include is not None and not isinstance(include, bool):
            raise TrainingDataError("include_synthetic must be true or false")
        low, high = cls.CHUNK_LIMITS
        if chunks is not None and (isinstance(chunks, bool) or not isinstance(chunks, int) or not low <= chunks <= high):
            raise TrainingDataError(f"synthetic_chunks must be a whole number from {low} to {high}; got {chunks!r}")
        return cls(include, chunks)

    def over(self, fallback: "SyntheticOptions") -> "SyntheticOptions":
        return SyntheticOptions(self.include if self.include is not None else fallback.include,
                                self.chunks if self.chunks is not None else fallback.chunks)

    def to_params(self) -> dict:
        return {k: v for k, v in (("include_synthetic", self.include), ("synthetic_chunks", self.chunks))
                if v is not None}


def probe_questions(chunks: dict[str, str], seed: int = 42) -> dict[str, str]:
    """One inverse-cloze question per chunk (microseconds each: a sentence of the chunk), the probe
    :func:`own_chunk_ranks` searches with; a chunk too short for one is left out."""
    generator = InverseClozeGenerator(questions_per_chunk=1, seed=seed)
    return {q.chunk_id: q.question for cid, text in chunks.items() for q in generator.questions_for(cid, text)[:1]}


def own_chunk_ranks(dense_leg: dict[str, list], probes: dict[str, str]) -> dict[str, int | None]:
    """Per probed chunk, the rank (1 = first) of the chunk in the dense results of its own probe question
    (``dense_leg``: {chunk id: [(chunk id, score), ...]}, the probe keyed by its chunk); None: not among them."""
    ranks = {}
    for cid in probes:
        found = [i for i, (hit, _) in enumerate(dense_leg.get(cid, ()), start=1) if hit == cid]
        ranks[cid] = found[0] if found else None
    return ranks


#: at most this many candidates per synthetic chunk of the budget get a probe question: each probe is an
#: encode and a search, and ranking all 20k chunks of a corpus took 313 s of a retrain (bench/load.py
#: --during-retrain) to choose 300 of them; 8 x 300 probes take well under a minute here
PROBES_PER_CHUNK = 8


def probe_candidates(candidates: Iterable[str], budget: int, near_rated: Iterable[str] = ()) -> list[str]:
    """The candidates whose own probe question is ranked to choose ``budget`` of them: all when there are at
    most ``PROBES_PER_CHUNK`` × budget, else the ones near rated answers, then a stable sample (by a hash of
    the chunk id: spread over documents, the same in every run) up to that many."""
    candidates = sorted(set(candidates))
    cap = PROBES_PER_CHUNK * budget
    if len(candidates) <= cap:
        return candidates
    near = set(near_rated)
    ordered = sorted(candidates, key=lambda cid: (cid not in near, hashlib.sha1(cid.encode()).hexdigest()))
    return sorted(ordered[:cap])


def choose_synthetic_chunks(candidates: Iterable[str], budget: int, *, ranks: dict[str, int | None] | None = None,
                            near_rated: Iterable[str] = ()) -> list[str]:
    """The chunks (at most ``budget``) that get synthetic questions this round, in a stable order.

    Where the serving model fails is where the questions teach something: first the chunks its own
    probe question ranks below first (``ranks``; None = not found, the worst) that a rated answer showed
    (``near_rated``), then the other poorly ranked ones (worst first), then the rest shown with rated
    answers, then the rest; ties break on a hash of the chunk id (spread over documents, no randomness).
    A chunk with no rank (too short for a probe) counts as ranked first. Within the budget, all come."""
    candidates = sorted(set(candidates))
    if len(candidates) <= budget:
        return candidates
    ranks = ranks or {}
    near = set(near_rated)

    def key(cid: str):
        rank = ranks.get(cid, 1)
        poor = cid in ranks and (rank is None or rank > 1)
        bucket = (0 if cid in near else 1) if poor else (2 if cid in near else 3)
        return bucket, -(rank if rank is not None else 1 << 30), hashlib.sha1(cid.encode()).hexdigest()

    return sorted(sorted(candidates, key=key)[:budget])


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
    plan: RunPlan | None = None


def judge_retrieval_pipelines(held_out: IRDataset, baseline_model, candidate_model, serving, lexical: str, *,
                              gate: GateConfig | None = None, baseline_label: str = "active",
                              device: str | None = None, dataset_name: str = ""):
    """The serving pipeline against the candidate's (``training.tuning.judge_pipelines``) over the whole
    held-out corpus, as an ``EvaluationRun`` for the report (serving pipeline first, candidate last).
    A dense-only ``serving`` judges the two models alone (no lexical leg is built)."""
    from training.retrieval_eval import build_legs, encode_dense_leg
    from training.tuning import judge_pipelines

    baseline_legs = build_legs(held_out, dense=load_model(baseline_model, device=device),
                               lexical=lexical if serving.uses_lexical else None,
                               candidates=serving.candidates, dense_label=baseline_label, lexical_label=lexical)
    candidate_legs = baseline_legs.with_dense(
        encode_dense_leg(load_model(candidate_model, device=device), held_out, candidates=serving.candidates,
                         query_ids=baseline_legs.query_ids), "candidate")
    judgement = judge_pipelines(baseline_legs, candidate_legs, serving, gate, baseline_label=baseline_label)
    labels = list(judgement.rows)  # serving pipeline, candidate pipeline, then the single legs
    order = [labels[0], *labels[2:], labels[1]]
    run = EvaluationRun({label: judgement.rows[label] for label in order},
                        {label: label.split(" · ")[0] for label in order}, baseline_legs.query_ids,
                        len(held_out.corpus), dataset_name,
                        per_query={labels[0]: judgement.baseline_per_query, labels[1]: judgement.candidate_per_query})
    return judgement, run


def run_training(
    prepared: PreparedData,
    *,
    base_model: str | os.PathLike,
    work_root: str | os.PathLike,
    registry: ModelRegistry | None = None,
    options: TrainingOptions | None = None,
    config: FinetuneConfig | None = None,
    gate: GateConfig | None = None,
    baseline_label: str = "active",
    parent: str | None = None,
    base_model_name: str | None = None,
    query_prefix: str = "",
    document_prefix: str = "",
    retrieval=None,
    lexical: str = "bm25-en",
    progress=None,
    show_progress: bool = True,
    trained_by: str = "docstune train",
) -> TrainingOutcome:
    """Train, judge against ``base_model`` on the held-out questions, and register (if ``registry``).

    The run is :func:`plan_run` of ``options`` (``config``, when given, replaces the plan's config:
    benchmarks that sweep hyper-parameters). The gate judges pipelines (``training.tuning.judge_pipelines``):
    the base model with ``retrieval`` (the serving ``FusionSettings``; None: dense only) against the
    candidate with its weight fitted on the held-out questions (cross-fitted) when ``retrieval`` is a
    weighted hybrid, both over the held-out corpus with the ``lexical`` tokenizer, per question with
    ``training.gate.judge``; the version records the candidate's retrieval settings.
    """
    from training.fusion import FusionSettings

    plan = plan_run(prepared, options, show_progress=show_progress)
    config = config or plan.config
    serving = retrieval if retrieval is not None else FusionSettings(mode="dense")
    data = prepared.train
    stats = dict(prepared.stats)
    work = Path(work_root) / uuid.uuid4().hex[:12]
    work.mkdir(parents=True)
    try:
        if plan.mine_hard_negatives and data.positives:  # every loss: mnrl's triplets, the pair losses' 0 labels
            from training.hard_negatives import add_hard_negatives

            before = len(data.triplets)
            miner = load_model(base_model, device=config.device)
            data = add_hard_negatives(miner, data, prepared.mining_corpus, show_progress=config.show_progress)
            stats["mined_triplets"] = len(data.triplets) - before
            del miner
            release_memory()
        if progress is not None:  # the clock of the estimate starts here, not before the mining (the total:
            progress(0, -(-len(data) // config.batch_size) * config.epochs)  # about; the trainer's comes next)
        result = finetune(base_model, data, work / "model", config, progress=progress,
                          description=f"Trained on {prepared.kind} data by `{trained_by}`.")
        release_memory()  # the trainer's activations and optimiser state, before the judging loads two models
        result.data_stats = {**stats, **result.data_stats}
        dataset_name = f"held-out {prepared.kind}"
        if prepared.held_out.queries:
            judgement, run = judge_retrieval_pipelines(
                prepared.held_out, str(base_model), str(work / "model"), serving, lexical, gate=gate,
                baseline_label=baseline_label, device=config.device, dataset_name=dataset_name)
            verdict, judged = judgement.verdict, {"baseline": judgement.baseline, "candidate": judgement.candidate}
            settings, questions = judgement.candidate_settings, judgement.questions
        else:  # nothing to judge on yet: the verdict says how many evaluation questions are missing
            verdict, judged = judge({}, {}, gate), {"baseline": {}, "candidate": {}}
            run = EvaluationRun({}, {}, [], len(prepared.held_out.corpus), dataset_name)
            settings, questions = serving, 0
        recorded_retrieval = None
        if retrieval is not None:
            recorded_retrieval = {**settings.to_dict(), "lexical": lexical}
            if settings != serving or serving.mode == "hybrid":
                recorded_retrieval.update({
                    "questions": questions, "serving_at_training": serving.to_dict(),
                    "origin": f"fitted at training on {questions} held-out questions"})
        files = write_evaluation_outputs(run, work / "eval", verdict)
        result.metrics = judged["candidate"]
        write_model_card(work / "model", result)
        outcome = TrainingOutcome(result, run, verdict, files, judged=judged, retrieval=recorded_retrieval,
                                  plan=RunPlan(config, plan.mine_hard_negatives))
        if registry is not None:
            outcome.version = registry.register(
                work / "model",
                base_model=base_model_name or str(base_model),
                parent=parent,
                data_stats=result.data_stats,
                metrics=judged["candidate"],
                gate={**verdict.to_dict(), "baseline_metrics": judged["baseline"],
                      "held_out_queries": len(run.query_ids),
                      "evaluation_set": stats.get("evaluation_set")},
                retrieval=recorded_retrieval,
                training={**result.config, "train_rows": result.train_rows, "train_seconds": result.train_seconds,
                          "data_kind": prepared.kind, "mine_hard_negatives": plan.mine_hard_negatives},
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
