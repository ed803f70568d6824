"""Fine-tune a local sentence-transformers checkpoint with the library's own trainer.

Losses (``loss=``):

* ``online_contrastive`` — OnlineContrastiveLoss on labelled ``(query, chunk, 1|0)`` pairs
  (default for feedback);
* ``mnrl`` — MultipleNegativesRankingLoss on ``(query, good[, bad])``: in-batch negatives plus
  the hard negative where there is one (default for positive-only and synthetic data);
* ``cosine`` — CosineSimilarityLoss on labelled pairs (label = target cosine).

The result is written to a temp folder next to ``output_dir`` and renamed into place
only when complete, so an interrupted run leaves no half-written model. The folder is
a plain sentence-transformers model (``SentenceTransformer(path)`` loads it) whose
README.md model card lists the base model, data sizes, loss, hyper-parameters and,
once evaluated, the metrics.

Example::

    from training.finetune import FinetuneConfig, finetune
    from training.records import TrainingSet
    data = TrainingSet(positives=[("how do refunds work?", "Refunds are paid within 14 days.")] * 8)
    result = finetune("/path/to/all-MiniLM-L6-v2", data, "/tmp/ft-model",
                      FinetuneConfig(loss="mnrl", epochs=1, max_seq_length=64))
    print(result.path, result.train_seconds)
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from training.files import atomic_write_text
from training.records import TrainingDataError, TrainingSet

LOSSES = ("online_contrastive", "mnrl", "cosine")
# measured on the Lyft set (docs/training.md): mnrl gains most at 1e-4; CosineSimilarityLoss
# collapses there (MRR@10 0.54 -> 0.21), so the pair losses keep sentence-transformers' usual 2e-5
DEFAULT_LEARNING_RATES = {"mnrl": 1e-4, "online_contrastive": 2e-5, "cosine": 2e-5}
# generated (inverse-cloze) questions are noisier than real ones: the mnrl defaults above made the
# model worse on real questions (Lyft set: MRR@10 -0.053); one gentle epoch helps (docs/training.md)
SYNTHETIC_DEFAULTS = {"learning_rate": 2e-5, "epochs": 1}
# rated answers (bench/retrain_time.py, docs/training.md "Retraining from feedback: where the time goes"):
# the round was all training, ~5 pair rows per rated answer, most of them easy negatives. mnrl for one
# epoch on one [question, liked chunk, highest-shown disliked chunk] triplet per positive
# (training.feedback.hardest_training_set) ran 15 steps instead of 258 (Lyft, 330 rated answers: 53 s
# for the whole round) and was level or better than 3 epochs of online_contrastive on every pair, on
# the Lyft and the Debian FAQ sets (hybrid MRR@10 level; dense Lyft 0.616 vs 0.575); more epochs
# over-fitted on both. 5e-5 rather than mnrl's 1e-4 kept the FAQ hybrid level with the current job
# (1e-4 lost 0.01 on both FAQ splits). Pair losses chosen over this keep their 2e-5: cosine collapses
# at 1e-4 and 5e-5 is untested for them. Mining stays on: likes without marks leave bare positives.
FEEDBACK_DEFAULTS = {"loss": "mnrl", "learning_rate": 5e-5, "epochs": 1, "mine_hard_negatives": True}
CARD_SECTION = "<!-- docstune:training -->"


class ModelLoadError(TrainingDataError):
    """A path that should hold a sentence-transformers model does not."""


@dataclass
class FinetuneConfig:
    """Hyper-parameters; the defaults suit a 2-core CPU and a few hundred pairs."""

    loss: str = "mnrl"
    # measured on the Lyft 10-K set (bench/finetune.py, docs/training.md): 3 epochs at 1e-4 on
    # 128-token texts beat 1-2 epochs at 2e-5 on 256 tokens, in less time (shorter texts train faster)
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float | None = None  # None: DEFAULT_LEARNING_RATES[loss]
    max_seq_length: int | None = 128
    warmup_ratio: float = 0.1
    seed: int = 42
    device: str | None = None  # "cuda", "mps", "cpu"; None = what the library picks
    show_progress: bool = True
    # recompute each layer's activations in the backward pass instead of keeping them: the same
    # gradients for less memory, at the price of a second forward pass (400 Lyft triplets, batch 16,
    # 2 cores: peak RSS 2.93-2.96 GB -> 2.39-2.53 GB, train time +18-35 %; docs/training.md)
    activation_checkpointing: bool = True

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise TrainingDataError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.learning_rate is None:
            self.learning_rate = DEFAULT_LEARNING_RATES[self.loss]


def default_loss_for(data: TrainingSet) -> str:
    """``online_contrastive`` when there are negative pairs to learn from, ``mnrl`` otherwise."""
    return "online_contrastive" if any(p.label == 0 for p in data.pairs) else "mnrl"


@dataclass
class FinetuneResult:
    path: Path
    base_model: str
    loss: str
    config: dict
    data_stats: dict
    train_rows: int
    train_seconds: float
    metrics: dict = field(default_factory=dict)


def _offline() -> None:
    # weights never come from the hub, and the model card must not go looking there either
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_model(path: str | os.PathLike, device: str | None = None, max_seq_length: int | None = None):
    """``SentenceTransformer(path)`` from a local folder only, with a readable error otherwise."""
    _offline()
    from plugins.sentence_transformers_backend import is_model_folder

    if not is_model_folder(path):
        raise ModelLoadError(f"{path} is not a sentence-transformers model folder (no modules.json or config.json)")
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(str(path), device=device, local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(f"could not load the model in {path}: {exc}") from exc
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def build_train_datasets(data: TrainingSet, loss: str) -> dict:
    """The ``datasets.Dataset`` objects the chosen loss trains on, keyed by a name (multi-dataset training)."""
    from datasets import Dataset

    datasets = {}
    if loss in ("online_contrastive", "cosine"):
        rows = [(p.query, p.text, p.label) for p in data.pairs]
        known = {(p.query, p.text) for p in data.pairs}
        for t in data.triplets:
            for text, label in ((t.positive, 1), (t.negative, 0)):
                if (t.query, text) not in known:
                    known.add((t.query, text))
                    rows.append((t.query, text, label))
        rows += [(q, text, 1) for q, text in data.positives if (q, text) not in known]
        if rows and not any(r[2] == 0 for r in rows):
            # CosineSimilarityLoss on label-1 pairs alone pulls every text together (measured on the Lyft
            # set: MRR@10 0.539 -> 0.205); OnlineContrastiveLoss has nothing to push apart
            raise TrainingDataError(
                f"{loss} needs negative pairs and the data has none; "
                "use --loss mnrl, or mine hard negatives"
            )
        if rows:
            column = "label" if loss == "online_contrastive" else "score"
            value = int if loss == "online_contrastive" else float
            datasets["pairs"] = Dataset.from_dict(
                {"anchor": [r[0] for r in rows], "text": [r[1] for r in rows], column: [value(r[2]) for r in rows]}
            )
    else:  # mnrl
        if data.triplets:
            datasets["triplets"] = Dataset.from_dict(
                {
                    "anchor": [t.query for t in data.triplets],
                    "positive": [t.positive for t in data.triplets],
                    "negative": [t.negative for t in data.triplets],
                }
            )
        with_triplet = {(t.query, t.positive) for t in data.triplets}
        singles = [(q, text) for q, text in data.positives if (q, text) not in with_triplet]
        singles += [(p.query, p.text) for p in data.pairs if p.label == 1 and (p.query, p.text) not in with_triplet]
        singles = list(dict.fromkeys(singles))
        if singles:
            datasets["positives"] = Dataset.from_dict(
                {"anchor": [s[0] for s in singles], "positive": [s[1] for s in singles]}
            )
    if not datasets:
        raise TrainingDataError(f"no training rows for loss {loss!r}: the data set has no usable pairs")
    return datasets


def make_loss(model, loss: str):
    from sentence_transformers.sentence_transformer import losses

    if loss == "online_contrastive":
        return losses.OnlineContrastiveLoss(model)
    if loss == "cosine":
        return losses.CosineSimilarityLoss(model)
    return losses.MultipleNegativesRankingLoss(model)


def _step_callback(progress: Callable[[int, int], None]):
    """A transformers ``TrainerCallback`` that reports each optimiser step to ``progress``."""
    from transformers import TrainerCallback

    class StepProgress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            progress(state.global_step, state.max_steps)

    return StepProgress()


def finetune(
    base_model: str | os.PathLike,
    data: TrainingSet,
    output_dir: str | os.PathLike,
    config: FinetuneConfig | None = None,
    *,
    description: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> FinetuneResult:
    """Train ``base_model`` on ``data`` and save the result at ``output_dir`` (which must not exist yet).

    ``progress(step, total_steps)`` is called after every optimiser step (an exception it raises,
    e.g. a cancelled job, stops the training and nothing is saved).
    """
    config = config or FinetuneConfig()
    output_dir = Path(output_dir)
    if output_dir.exists():
        raise TrainingDataError(f"{output_dir} already exists; models are never overwritten")
    model = load_model(base_model, device=config.device)
    serving_max_seq_length = model.max_seq_length
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
    datasets = build_train_datasets(data, config.loss)
    train_rows = sum(len(d) for d in datasets.values())

    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = output_dir.parent / f".tmp-{output_dir.name}-{uuid.uuid4().hex[:8]}"
    scratch = Path(tempfile.mkdtemp(prefix="docstune-train-"))
    try:
        args = SentenceTransformerTrainingArguments(
            output_dir=str(scratch),
            num_train_epochs=config.epochs,
            per_device_train_batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            warmup_steps=config.warmup_ratio,  # a float is a ratio in transformers 5
            seed=config.seed,
            data_seed=config.seed,
            # in-batch negatives must not be copies of the positive
            batch_sampler=BatchSamplers.NO_DUPLICATES if config.loss == "mnrl" else BatchSamplers.BATCH_SAMPLER,
            save_strategy="no",
            eval_strategy="no",
            logging_steps=max(1, train_rows // config.batch_size // 5),
            report_to="none",
            disable_tqdm=not config.show_progress,
            use_cpu=config.device == "cpu",
            dataloader_num_workers=0,
            dataloader_pin_memory=False,
            activation_checkpointing=config.activation_checkpointing,
            activation_checkpointing_kwargs={"use_reentrant": False} if config.activation_checkpointing else None,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=datasets if len(datasets) > 1 else next(iter(datasets.values())),
            loss=make_loss(model, config.loss),
            callbacks=[_step_callback(progress)] if progress else None,
        )
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        result = FinetuneResult(
            path=output_dir,
            base_model=str(base_model),
            loss=config.loss,
            config=asdict(config),
            data_stats={**data.stats(), **{f"rows_{k}": len(v) for k, v in datasets.items()}},
            train_rows=train_rows,
            train_seconds=round(seconds, 2),
        )
        # the training length is a speed knob; the saved model reads as much as its base did
        model.max_seq_length = serving_max_seq_length
        try:
            model.save(str(staging))
        except Exception:  # the library's card is a bonus; the weights are what matter
            shutil.rmtree(staging, ignore_errors=True)
            model.save(str(staging), create_model_card=False)
        write_model_card(staging, result, description=description)
        os.rename(staging, output_dir)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def write_model_card(folder: str | os.PathLike, result: FinetuneResult, metrics: dict | None = None,
                     description: str = "") -> None:
    """Add (or replace) DocsTune's section of README.md; README.md does not change the weights' fingerprint."""
    folder = Path(folder)
    readme = folder / "README.md"
    existing = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    existing = existing.split(CARD_SECTION)[0].rstrip()
    if not existing:
        existing = f"---\nlibrary_name: sentence-transformers\ntags:\n- sentence-transformers\n- docstune\n---\n\n# {folder.name}"
    metrics = metrics if metrics is not None else result.metrics
    lines = [
        CARD_SECTION,
        "## DocsTune fine-tuning",
        "",
        description or "Fine-tuned by DocsTune from user feedback / synthetic queries.",
        "",
        f"- **Base model:** `{result.base_model}`",
        f"- **Loss:** `{result.loss}`",
        f"- **Training rows:** {result.train_rows} ({', '.join(f'{k}={v}' for k, v in result.data_stats.items())})",
        f"- **Training time:** {result.train_seconds} s",
        "- **Hyper-parameters:** "
        + ", ".join(f"{k}={v}" for k, v in result.config.items() if k not in ("show_progress",)),
    ]
    if metrics:
        lines += ["", "### Held-out retrieval metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" for k, v in metrics.items() if isinstance(v, (int, float))]
    lines += ["", "Load it with `SentenceTransformer(path)`; no DocsTune code is needed.", ""]
    text = existing + "\n\n" + "\n".join(lines)
    atomic_write_text(readme, text)
