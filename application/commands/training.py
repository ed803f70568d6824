"""``docstune train | eval | synth | models``: thin click commands over ``training/``.

Heavy imports (sentence-transformers, torch) happen inside the commands, so
``docstune --help`` stays fast. Every user error is one readable line and exit 1,
and leaves the model registry as it was.
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import click

from training.registry import model_in_service, resolve_model_path, serving_fusion  # light, like the next line
from training.finetune import LOSSES as LOSS_CHOICES, SYNTHETIC_DEFAULTS, FinetuneConfig  # light: the heavy imports are lazy there


def _settings():
    from application.settings import get_settings

    return get_settings()


def _fail_cleanly(func):
    """Turn the training package's data errors into one-line click errors."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from plugins.base import EmbeddingModelError
        from training.records import TrainingDataError

        try:
            return func(*args, **kwargs)
        except (TrainingDataError, EmbeddingModelError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _registry(settings):
    from training.registry import ModelRegistry

    return ModelRegistry(settings.models_dir)


def _gate_options(func):
    for option in reversed([
        click.option("--gate-metric", default=None, help="Metric the candidate must improve [default: GATE_METRIC, mrr@10]."),
        click.option("--min-improvement", type=float, default=None, help="Least rise of the gate metric [default: GATE_MIN_IMPROVEMENT]."),
        click.option("--tolerance", type=float, default=None, help="Most any other headline metric may fall [default: GATE_TOLERANCE]."),
        click.option("--min-questions", type=click.IntRange(min=1), default=None,
                     help="Fewer evaluation questions and the verdict is 'not enough evidence' [default: GATE_MIN_QUESTIONS]."),
    ]):
        func = option(func)
    return func


def _gate_config(settings, metric, min_improvement, tolerance, min_questions=None):
    return settings.gate(metric=metric, min_improvement=min_improvement, tolerance=tolerance,
                         min_questions=min_questions)


def _deployment_evaluation_set(settings):
    """The frozen evaluation set of this deployment (DATA_DIR / DATABASE_URL), read only; empty when
    there is no database yet."""
    from application.errors import DocsTuneError
    from training.evaluation_set import EvaluationSet

    try:
        from application.cli import docstune
        from application.db.evaluation_set import load_evaluation_set

        return load_evaluation_set(docstune().db)
    except DocsTuneError:
        return EvaluationSet()


def _generator_options(settings) -> dict:
    """The configured LLM's question writer, which prints its estimate before the first request and its
    counts at the end; {} (inverse cloze) when no LLM is configured."""
    from application.llm.question_writer import synthetic_generator_options
    from training.synthetic import SynthEstimate

    options = synthetic_generator_options(settings)
    if options:
        options["announce"] = lambda news: click.echo(
            f"{'Estimate' if isinstance(news, SynthEstimate) else 'Done'}: {news.describe()}")
    return options


# -- train ------------------------------------------------------------------------------
@click.command()
@click.option("--from-feedback", "feedback_file", type=click.Path(dir_okay=False), help="Feedback JSONL (docstune feedback export).")
@click.option("--dataset", "dataset_file", type=click.Path(dir_okay=False), help="IR JSON {queries, corpus, relevant_docs}.")
@click.option("--synthetic", "synthetic_corpus", type=click.Path(), help="Corpus to write questions for: IR JSON, JSONL of chunks, or a folder of texts.")
@click.option("--loss", type=click.Choice(LOSS_CHOICES), default=None, help="[default: mnrl; for feedback 1 epoch at 5e-5 on the hardest rows (docs/training.md)]")
@click.option("--epochs", type=int, default=None, help=f"[default: {FinetuneConfig.epochs}; {SYNTHETIC_DEFAULTS['epochs']} for --synthetic]")
@click.option("--batch-size", type=int, default=None, help=f"[default: RETRAIN_BATCH_SIZE, else {FinetuneConfig.batch_size}]")
@click.option("--learning-rate", type=float, default=None,
              help=f"[default: 1e-4 for mnrl, 2e-5 for the pair losses; {SYNTHETIC_DEFAULTS['learning_rate']:.0e} for --synthetic]".replace("e-0", "e-"))
@click.option("--max-seq-length", type=int, default=None,
              help=f"Tokens read per text while training [default: RETRAIN_MAX_SEQ_LENGTH, else {FinetuneConfig.max_seq_length}].")
@click.option("--seed", type=int, default=None, help=f"[default: {FinetuneConfig.seed}]")
@click.option("--device", default=None, help="cpu, cuda, mps [default: EMBEDDINGS_DEVICE or automatic].")
@click.option("--held-out", "held_out_fraction", type=float, default=None,
              help="Share of chunks whose questions are kept for evaluation [default: EVALUATION_SHARE, 0.2]; "
                   "feedback is split by the deployment's frozen evaluation set with the same stable rule as the retrain job.")
@click.option("--hard-negatives/--no-hard-negatives", default=None,
              help="Mine negatives with the current model for positives that have none "
                   f"[default: on; {'on' if SYNTHETIC_DEFAULTS.get('mine_hard_negatives', True) else 'off'} for --synthetic].")
@click.option("--questions-per-chunk", type=int, default=None, help="For --synthetic [default: SYNTH_QUESTIONS_PER_CHUNK].")
@click.option("--base-model", default=None, help="Model to start from [default: the active version, else EMBEDDINGS_NAME].")
@_gate_options
@_fail_cleanly
def train(feedback_file, dataset_file, synthetic_corpus, loss, epochs, batch_size, learning_rate, max_seq_length,
          seed, device, held_out_fraction, hard_negatives, questions_per_chunk, base_model, gate_metric,
          min_improvement, tolerance, min_questions):
    """Fine-tune the embedding model, evaluate it on held-out questions and register it.

    Give exactly one of --from-feedback, --dataset or --synthetic. The new version is
    registered as `candidate` if the gate finds it better than the model in service
    (paired over the evaluation questions, GATE_MIN_QUESTIONS of them at least), as `rejected`
    when it is worse or there is not enough evidence; `docstune models promote` makes it active.
    The run is assembled as the retrain job assembles it (training.pipeline.run_training).
    """
    sources = [s for s in (feedback_file, dataset_file, synthetic_corpus) if s]
    if len(sources) != 1:
        raise click.UsageError("give exactly one of --from-feedback, --dataset or --synthetic")
    settings = _settings()
    from training.irjson import load_ir_json
    from training.pipeline import TrainingOptions, plan_run, prepare_from_feedback, prepare_from_ir
    from training.pipeline import prepare_from_synthetic, run_training

    share = settings.evaluation_share if held_out_fraction is None else held_out_fraction
    split_seed = FinetuneConfig.seed if seed is None else seed
    if feedback_file:
        frozen = _deployment_evaluation_set(settings)
        if held_out_fraction is None:  # as the retrain job grows the deployment's set
            share = settings.evaluation_share_for(len(frozen))
        prepared = prepare_from_feedback(feedback_file, held_out_fraction=share, evaluation=frozen)
    elif dataset_file:
        prepared = prepare_from_ir(load_ir_json(dataset_file), held_out_fraction=share, seed=split_seed)
    else:
        from training.corpus import load_corpus

        chunks, real = load_corpus(synthetic_corpus)
        prepared = prepare_from_synthetic(
            chunks, real, held_out_fraction=share, seed=split_seed,
            questions_per_chunk=questions_per_chunk or settings.synth_questions_per_chunk,
            **_generator_options(settings),
        )
    if base_model:
        base_path, base_label, parent = resolve_model_path(base_model, settings), base_model, None
    else:
        base_path, base_label, parent = model_in_service(settings)
    options = TrainingOptions(loss=loss, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                              max_seq_length=max_seq_length, seed=seed, device=device,
                              hard_negatives=hard_negatives).over(settings.training_options())
    config = plan_run(prepared, options).config
    click.echo(f"Training {config.loss} on {len(prepared.train)} {prepared.kind} rows from {base_label}; "
               f"{len(prepared.held_out.queries)} held-out questions")
    outcome = run_training(
        prepared, base_model=base_path, work_root=settings.models_dir / ".work", registry=_registry(settings),
        options=options, gate=_gate_config(settings, gate_metric, min_improvement, tolerance, min_questions),
        parent=parent, base_model_name=base_label,
        query_prefix=settings.embeddings_query_prefix, document_prefix=settings.embeddings_document_prefix,
        retrieval=serving_fusion(settings, parent), lexical=settings.lexical_tokenizer,
    )
    version, verdict = outcome.version, outcome.verdict
    click.echo(f"Registered {version.version} ({verdict.label}): {verdict.reason}")
    if outcome.retrieval and "questions" in outcome.retrieval:
        click.echo(f"Judged as a pipeline: {outcome.retrieval['mode']} {outcome.retrieval['method']}-"
                   f"{outcome.retrieval['normalise']}, fitted dense share {outcome.retrieval['weight']:g}")
    click.echo(f"Model:   {version.model_path}")
    for key, path in outcome.files.items():
        click.echo(f"{key.capitalize() + ':':8} {path}")
    if verdict.passed:
        click.echo(f"Make it active with: docstune models promote {version.version}")


# -- eval -------------------------------------------------------------------------------
@click.command("eval")
@click.option("--model", "models", multiple=True, required=True, help="Model folder, registry version (v3, active) or embedding name; repeat to compare.")
@click.option("--dataset", "dataset_file", required=True, type=click.Path(dir_okay=False), help="IR JSON to evaluate on.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Folder for metrics.json, report.md, hit_rate.png [default: DATA_DIR/evaluations/<time>].")
@click.option("--device", default=None)
@click.option("--retrieval", "retrievals", multiple=True, metavar="SPEC",
              help="Evaluate the pipeline instead of the bare model: dense, lexical, hybrid (the configured "
                   "fusion) or hybrid:<weight> (the dense share); repeat to compare, every --model × every SPEC.")
@_gate_options
@_fail_cleanly
def eval_command(models, dataset_file, out_dir, device, retrievals, gate_metric, min_improvement, tolerance,
                 min_questions):
    """Compare models on one IR JSON; with two models, the gate judges the second against the first.

    With --retrieval, every model × every retrieval setting over the whole corpus (the lexical leg
    with LEXICAL_TOKENIZER, FUSION_CANDIDATES per leg); the gate judges the last row against the first.
    """
    settings = _settings()
    from training.evaluate import evaluate_models, evaluate_pipelines, markdown_report, write_evaluation_outputs
    from training.fusion import parse_retrieval_spec
    from training.gate import judge
    from training.irjson import load_ir_json

    fusions = []
    for spec in retrievals:
        try:
            fusions.append(parse_retrieval_spec(spec, settings.fusion()))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--retrieval'") from exc
    ir = load_ir_json(dataset_file)
    paths = {}
    for name in models:
        label = name if name not in paths else f"{name} ({len(paths) + 1})"
        paths[label] = resolve_model_path(name, settings)
    device = device or settings.embeddings_device
    if fusions:
        run = evaluate_pipelines(paths, ir, fusions, lexical=settings.lexical_tokenizer,
                                 candidates=settings.fusion_candidates, device=device,
                                 dataset_name=Path(dataset_file).name)
    else:
        run = evaluate_models(paths, ir, device=device, show_progress=True, dataset_name=Path(dataset_file).name)
    verdict = None
    if len(run.metrics) >= 2:
        labels = list(run.metrics)
        paired = run.per_query
        if not paired:  # the library's evaluator keeps no per-question scores: the gate pairs dense rankings
            from training.fusion import FusionSettings

            first, last = list(paths)[0], list(paths)[-1]
            dense = evaluate_pipelines({first: paths[first], last: paths[last]}, ir, [FusionSettings(mode="dense")],
                                       device=device)
            paired = dict(zip(labels[:1] + labels[-1:], dense.per_query.values()))
        verdict = judge(paired[labels[0]], paired[labels[-1]],
                        _gate_config(settings, gate_metric, min_improvement, tolerance, min_questions))
    out = Path(out_dir) if out_dir else settings.data_dir / "evaluations" / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    files = write_evaluation_outputs(run, out, verdict)
    click.echo(markdown_report(run, verdict))
    for key, path in files.items():
        click.echo(f"{key.capitalize() + ':':8} {path}")


# -- synth ------------------------------------------------------------------------------
@click.command()
@click.option("--corpus", "corpus_path", required=True, type=click.Path(), help="IR JSON, JSONL of chunks, or a folder of texts.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="IR JSON to write.")
@click.option("--questions-per-chunk", type=int, default=None, help="[default: SYNTH_QUESTIONS_PER_CHUNK]")
@click.option("--offline", is_flag=True, help="Use the inverse cloze task even when an LLM is configured.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--answers", "with_answers", is_flag=True,
              help="Also write each question's reference answer (IR JSON 'answers') with the configured LLM, "
                   "prompted as the chat prompts it with the chunk as the one source.")
@_fail_cleanly
def synth(corpus_path, out_file, questions_per_chunk, offline, seed, with_answers):
    """Write questions that each chunk answers: the configured LLM (ANTHROPIC_API_KEY, or an OpenAI-compatible
    server: LLM_PROVIDER=openai_compatible / OPENAI_BASE_URL), else the inverse cloze task.

    With an LLM, the estimate (requests, tokens, cost, time) is printed before the first request."""
    settings = _settings()
    answerer = _reference_answerer(settings) if with_answers else None  # refused before any question is written
    from training.corpus import load_corpus
    from training.irjson import save_ir_json
    from training.synthetic import generate_synthetic_queries, synthetic_ir_dataset

    chunks, _ = load_corpus(corpus_path)
    options = {} if offline else _generator_options(settings)
    queries = generate_synthetic_queries(chunks, questions_per_chunk=questions_per_chunk or settings.synth_questions_per_chunk,
                                         seed=seed, **options)
    ir = synthetic_ir_dataset(chunks, queries)
    if answerer is not None:
        ir.answers = _reference_answers(ir, *answerer)
    path = save_ir_json(ir, out_file)
    written = ", ".join(f"{n} {method}" for method, n in Counter(q.method for q in queries).items())
    with_what = f" and {len(ir.answers)} reference answers by {answerer[0].name}" if answerer else ""
    click.echo(f"Wrote {written} questions{with_what} for {len(chunks)} chunks to {path}")


def _reference_answerer(settings):
    """(the configured LLM, the chat's prompt template) for ``synth --answers``. An OpenAI-compatible server
    named only by OPENAI_BASE_URL counts as configured, as it does for the answer judge."""
    from application.errors import DocsTuneError
    from application.llm import PromptTemplate, configured_llm_provider, create_llm

    provider = settings.llm_provider or configured_llm_provider(settings)
    if provider in (None, "extractive"):
        raise click.ClickException(
            "--answers needs an LLM and none is configured (LLM_PROVIDER resolves to extractive): set "
            "ANTHROPIC_API_KEY or OPENAI_BASE_URL; FAQ-style sets can use "
            "`docstune eval-answers --reference relevant-chunk` instead.")
    settings = settings.model_copy(update={"llm_provider": provider})
    try:
        return create_llm(settings, lambda: None), PromptTemplate.load(settings.prompt_file)
    except DocsTuneError as exc:
        raise click.ClickException(str(exc)) from exc


def _reference_answers(ir, llm, template) -> dict[str, str]:
    """Each question's answer by ``llm``, prompted with the chat's template and the question's chunk as source
    [1]; the ``[n]`` markers are removed (as in a reference answer promoted from the ratings)."""
    from tqdm import tqdm

    from application.errors import DocsTuneError
    from application.llm.prompt import strip_citations
    from application.retrieval.hits import SearchHit

    answers = {}
    for qid, question in tqdm(ir.queries.items(), desc="reference answers", unit="answer"):
        cid = ir.relevant_docs[qid][0]
        source = SearchHit(chunk_id=cid, source_id=cid, text=ir.corpus[cid], score=1.0, rank=1, title=cid, uri=cid,
                           page=None, position=0)
        try:
            answer = strip_citations(llm.complete(template.render(question, [source])))
        except DocsTuneError as exc:
            raise click.ClickException(f"The LLM failed on question {qid!r} ({len(answers)} answered, nothing "
                                       f"written): {exc}") from exc
        if answer:
            answers[qid] = answer
    return answers


# -- models -----------------------------------------------------------------------------
@click.group()
def models():
    """The registry of fine-tuned embedding models (DATA_DIR/models)."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_fail_cleanly
def list_models(as_json):
    """Every registered version with its status and headline metrics."""
    registry = _registry(_settings())
    versions = registry.versions()
    if as_json:
        click.echo(json.dumps([{**v.to_dict(), "status": registry.status_of(v)} for v in versions], indent=1))
        return
    if not versions:
        click.echo(f"No model versions in {registry.root} yet; run `docstune train`.")
        return
    click.echo(f"{'version':9} {'status':10} {'mrr@10':>7} {'hit@5':>6}  {'created':25} fingerprint")
    for v in versions:
        click.echo(f"{v.version:9} {registry.status_of(v):10} {v.metrics.get('mrr@10', float('nan')):7.4f} "
                   f"{v.metrics.get('accuracy@5', float('nan')):6.3f}  {v.created_at:25} {v.fingerprint}")


@models.command("show")
@click.argument("version")
@_fail_cleanly
def show_model(version):
    """Everything the registry knows about VERSION (v3, 3 or active)."""
    registry = _registry(_settings())
    record = registry.get(version)
    click.echo(json.dumps({**record.to_dict(), "status": registry.status_of(record)}, indent=1))


@models.command("promote")
@click.argument("version")
@click.option("--force", is_flag=True, help="Promote even a version the gate rejected.")
@_fail_cleanly
def promote_model(version, force):
    """Make VERSION the active model (the index swap is a separate step)."""
    record = _registry(_settings()).promote(version, force=force)
    click.echo(f"{record.version} is now active ({record.model_path})")


@models.command("rollback")
@_fail_cleanly
def rollback_model():
    """Re-activate the version that was active before the current one."""
    settings = _settings()
    record = _registry(settings).rollback()
    if record is None:
        click.echo(f"No version is active now; the service uses EMBEDDINGS_NAME ({settings.embeddings_name})")
    else:
        click.echo(f"{record.version} is active again ({record.model_path})")


COMMANDS = [train, eval_command, synth, models]
