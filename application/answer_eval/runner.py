"""Answer every question of an IR data set with each configuration, the way the chat answers, and score
the answers: the judge, similarity to the reference, faithfulness, latency, tokens and cost.

Retrieval runs over the data set's own corpus, in memory: each leg as ``training.retrieval_eval``
computes it for ``docstune eval`` (the dense leg with the configuration's embedding model, BM25 as
Qdrant scores it) and fused by ``training.fusion.fuse``, the service's own function. From there it is
the chat's code: the prompt template in service (``PROMPT_FILE``) renders the numbered sources and the
LLM streams the answer (the same backends, ``application.llm``). The time to the first token and to the
full answer count from the moment the question is embedded.

Example::

    summary = evaluate_answers(app, load_ir_json("faq.json"), [AnswerConfig("serving"),
                               AnswerConfig("dense", mode="dense")], out_dir=Path("/tmp/answers"))
    summary["configs"][0]["similarity"], summary["files"]["report"]
"""
from __future__ import annotations

import logging
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from application.answer_eval.configs import AnswerConfig
from application.answer_eval.faithfulness import citation_support
from application.answer_eval.judge import create_judge
from application.answer_eval.report import write_outputs
from application.answer_eval.similarity import Similarity
from application.llm import LLMError
from application.retrieval.hits import SearchHit

log = logging.getLogger(__name__)

REFERENCES = ("auto", "answers", "relevant-chunk", "none")
Progress = Callable[[int, int, "str | None"], None]


def references_of(ir, qids: Sequence[str], kind: str) -> tuple[dict[str, str], str]:
    """{question id: reference answer} and the kind used (``auto``: the set's answers when it has some,
    else its relevant chunks)."""
    answers = getattr(ir, "answers", None) or {}
    if kind == "auto":
        kind = "answers" if answers else "relevant-chunk"
    if kind == "answers":
        return {q: answers[q] for q in qids if answers.get(q)}, kind
    if kind == "relevant-chunk":
        return {q: "\n\n".join(ir.corpus[c] for c in ir.relevant_docs[q][:3] if c in ir.corpus) for q in qids}, kind
    return {}, "none"


class _Pipeline:
    """One configuration, ready to answer: its retrieval over the set's legs and its LLM."""

    def __init__(self, config: AnswerConfig, settings, embeddings, lexical, legs, fusion, llm):
        self.config, self.settings, self.embeddings, self.lexical, self.legs, self.fusion, self.llm = (
            config, settings, embeddings, lexical, legs, fusion, llm)

    def answer(self, qid: str, question: str, ir, template, title: str) -> dict:
        from training.retrieval_eval import rank_query

        started = time.perf_counter()
        if self.fusion.uses_dense:
            self.embeddings.embed_query(question)  # what the service pays per question (the leg has it already)
        if self.fusion.uses_lexical:
            self.lexical.embed_query(question)
        fused = rank_query(self.legs, qid, self.fusion, self.config.k)
        hits = [SearchHit(chunk_id=f.chunk_id, source_id="", text=ir.corpus[f.chunk_id], score=f.score, rank=n,
                          title=title, uri="", page=None, position=0, dense_score=f.dense_score,
                          lexical_score=f.lexical_score) for n, f in enumerate(fused, start=1)]
        retrieved = time.perf_counter()
        prompt = template.render(question, hits)
        usage: dict = {}
        pieces: list[str] = []
        first = None
        error = None
        try:
            for piece in self.llm.stream(prompt, usage):
                if first is None and piece:
                    first = time.perf_counter()
                pieces.append(piece)
        except LLMError as exc:
            error = exc.message
        done = time.perf_counter()
        relevant = set(ir.relevant_docs.get(qid, ()))
        ranks = [n for n, hit in enumerate(hits, start=1) if hit.chunk_id in relevant]
        price = self.settings.price_of(self.llm.name)
        tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
        if price is None or error:
            cost = None
        elif self.llm.name == "extractive":
            cost = 0.0
        elif tokens_in is None or tokens_out is None:
            cost = None
        else:
            cost = (tokens_in * price[0] + tokens_out * price[1]) / 1e6
        return {
            "config": self.config.name, "question_id": qid, "question": question, "answer": "".join(pieces),
            "error": error, "hits": hits, "retrieved": [h.chunk_id for h in hits],
            "relevant_rank": ranks[0] if ranks else None,
            "retrieval_s": retrieved - started,
            "first_token_s": None if first is None or error else first - started,
            "full_s": None if error else done - started,
            "input_tokens": tokens_in, "output_tokens": tokens_out, "cost_usd": cost, "llm": self.llm.name,
        }


def _llm_for(settings, spec: str | None, embeddings):
    from application.llm import create_llm

    if spec:
        provider, _, model = spec.partition(":")
        update = {"llm_provider": provider}
        if model and provider == "anthropic":
            update["anthropic_model"] = model
        elif model and provider == "openai_compatible":
            update["openai_model"] = model
        settings = settings.model_copy(update=update)
    return create_llm(settings, lambda: embeddings)


def _pipelines(settings, ir, configs: Sequence[AnswerConfig], qids, progress: Progress | None) -> list[_Pipeline]:
    """Each configuration with its legs: the lexical leg once, a dense leg per embedding model."""
    from plugins import load_embeddings
    from plugins.lexical import load_lexical
    from training.registry import model_in_service, resolve_model_path, serving_fusion
    from training.retrieval_eval import RetrievalLegs, encode_dense_leg, encode_lexical_leg, relevance_of

    relevant = relevance_of(ir)
    resolved = []
    for config in configs:
        if config.model is None or config.model == "active":
            path, label, version = model_in_service(settings)
        else:
            path, label = resolve_model_path(config.model, settings), config.model
            version = config.model if config.model.lstrip("v").isdigit() else None
        fusion = serving_fusion(settings, version)
        fusion = replace(fusion, mode=config.mode or fusion.mode,
                         weight=fusion.weight if config.weight is None else config.weight)
        fusion = replace(fusion, candidates=max(fusion.candidates, config.k))
        resolved.append((config, path, label, fusion))
    depth = max(f.candidates for *_, f in resolved)
    lexical = load_lexical(settings.lexical_tokenizer)
    lexical_leg = {}
    if any(f.uses_lexical for *_, f in resolved):
        if progress:
            progress(0, len(qids), "Indexing the corpus for BM25")
        lexical_leg = encode_lexical_leg(lexical, ir, candidates=depth, query_ids=qids)
    dense_legs: dict[str, tuple] = {}
    pipelines = []
    for config, path, label, fusion in resolved:
        embeddings = load_embeddings(path, **settings.embedding_options())
        if fusion.uses_dense and path not in dense_legs:
            if progress:
                progress(0, len(qids), f"Embedding {len(ir.corpus)} chunks with {label}")
            dense_legs[path] = encode_dense_leg(embeddings, ir, candidates=depth, query_ids=qids)
        legs = RetrievalLegs(relevant, dense=dense_legs.get(path, {}), lexical=lexical_leg, candidates=depth,
                             dense_label=label, lexical_label=lexical.version)
        pipelines.append(_Pipeline(config, settings, embeddings, lexical, legs, fusion,
                                   _llm_for(settings, config.llm, embeddings)))
    return pipelines


def evaluate_answers(app, ir, configs: Sequence[AnswerConfig], *, out_dir: Path, reference: str = "auto",
                     judge: str | None = "auto", users: int | None = None, questions_per_day: float | None = None,
                     limit: int | None = None, progress: Progress | None = None, dataset_name: str = "",
                     command: str = "", seed: int = 0) -> dict:
    """Answer and score every question (or ``limit`` of them, a fixed sample) with every configuration;
    write answers.jsonl, summary.csv, report.md and plot.png to ``out_dir`` and return the summary.
    Ctrl-C (KeyboardInterrupt) stops it: what was answered is scored and written, ``interrupted`` is set."""
    from training.retrieval_eval import relevance_of

    settings = app.settings
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {', '.join(REFERENCES)}")
    names = [c.name for c in configs]
    if not configs or len(set(names)) != len(names):
        raise ValueError("give one or more configurations, each with its own name")
    ir.validate("answer evaluation data set")
    qids = sorted(relevance_of(ir))
    if limit is not None and limit < len(qids):
        qids = sorted(random.Random(seed).sample(qids, limit))
    references, reference = references_of(ir, qids, reference)
    the_judge, judge_note = create_judge(settings, choice=judge)
    pipelines = _pipelines(settings, ir, configs, qids, progress)
    similarity = Similarity.build(settings, *_serving_embeddings(settings))
    template = app.template
    title = dataset_name or "document"
    records: list[dict] = []
    interrupted = False
    total = len(qids) * len(pipelines)
    try:
        for n, qid in enumerate(qids):
            for pipeline in pipelines:
                record = pipeline.answer(qid, ir.queries[qid], ir, template, title)
                _judge_record(record, references.get(qid), the_judge)
                records.append(record)
                if progress:
                    progress(len(records), total, f"{pipeline.config.name}: question {n + 1} of {len(qids)}")
    except KeyboardInterrupt:
        interrupted = True
        log.warning("Interrupted after %d of %d answers; writing what was measured", len(records), total)
    scored = [r for r in records if not r["error"] and references.get(r["question_id"])]
    for record, score in zip(scored, similarity.scores([r["answer"] for r in scored],
                                                       [references[r["question_id"]] for r in scored])):
        record.update(score or {})
    summary = {
        "dataset": dataset_name, "questions": len(qids), "answered_questions": len({r["question_id"] for r in records}),
        "reference": reference, "similarity_method": similarity.method if references else None,
        "judge": the_judge.name if the_judge else None, "judge_note": judge_note,
        "judge_calls": the_judge.calls if the_judge else 0,
        "traffic": {"users": users or settings.eval_users,
                    "questions_per_day": questions_per_day or settings.eval_questions_per_day},
        "interrupted": interrupted,
        "configs": [_summarise(p, [r for r in records if r["config"] == p.config.name], settings,
                               users or settings.eval_users, questions_per_day or settings.eval_questions_per_day)
                    for p in pipelines],
        "command": command,
    }
    summary["files"] = {k: str(v) for k, v in write_outputs(summary, records, out_dir).items()}
    return summary


def _serving_embeddings(settings):
    """(the model in service, its name): what similarity is measured with, whatever the configurations use."""
    from plugins import load_embeddings
    from training.registry import model_in_service

    path, label, _ = model_in_service(settings)
    return load_embeddings(path, **settings.embedding_options()), label


def _judge_record(record: dict, reference: str | None, judge) -> None:
    """The judge's score and the citation check, in place."""
    record["reference"] = reference
    if record["error"]:
        record.update(judge_score=None, judge_reason=None, faithfulness=None)
        return
    if judge is not None and reference:
        verdict = judge.score(record["question"], reference, record["answer"])
        record.update(judge_score=verdict.score, judge_reason=verdict.reason, judge_cached=verdict.cached)
    else:
        record.update(judge_score=None, judge_reason=None)
    record["faithfulness"] = citation_support(record["answer"], record["hits"], judge).to_dict()


def _summarise(pipeline: _Pipeline, records: list[dict], settings, users: int, per_day: float) -> dict:
    ok = [r for r in records if not r["error"]]

    def mean(values):
        values = [v for v in values if v is not None]
        return round(statistics.fmean(values), 6) if values else None

    def quantile(values, q):
        values = sorted(v for v in values if v is not None)
        if not values:
            return None
        return round(values[min(len(values) - 1, int(q * len(values)))], 4)

    faith = [r["faithfulness"] for r in ok if r.get("faithfulness")]
    costs = [r["cost_usd"] for r in ok]
    cost = mean(costs) if ok and all(c is not None for c in costs) else None
    k = pipeline.config.k
    return {
        "name": pipeline.config.name, "spec": pipeline.config.spec(),
        "pipeline": {"model": pipeline.legs.dense_label if pipeline.fusion.uses_dense else None,
                     "retrieval": pipeline.fusion.describe(), "k": k, "llm": pipeline.llm.name},
        "questions": len(records), "answered": len(ok), "errors": len(records) - len(ok),
        "error_examples": sorted({r["error"] for r in records if r["error"]})[:3],
        "judged": sum(r.get("judge_score") is not None for r in ok),
        "unjudged_reasons": sorted({r["judge_reason"] for r in ok if r.get("judge_score") is None
                                    and r.get("judge_reason")})[:3],
        "judge_score": mean(r.get("judge_score") for r in ok),
        "similarity": mean(r.get("similarity") for r in ok),
        "cosine": mean(r.get("cosine") for r in ok),
        "hit_at_k": mean(float(r["relevant_rank"] is not None) for r in records),
        "faithfulness": {
            "supported_citations": mean(f["supported_citations"] for f in faith),
            "unsupported_sentences": mean(f["unsupported_sentences"] for f in faith),
            "uncited_answers": mean(float(f["cites_nothing"]) for f in faith),
            "method": faith[0]["method"] if faith else None,
        },
        "latency": {"retrieval_p50": quantile([r["retrieval_s"] for r in ok], 0.5),
                    "first_token_p50": quantile([r["first_token_s"] for r in ok], 0.5),
                    "full_p50": quantile([r["full_s"] for r in ok], 0.5),
                    "full_p95": quantile([r["full_s"] for r in ok], 0.95)},
        "tokens": {"input": mean(r["input_tokens"] for r in ok), "output": mean(r["output_tokens"] for r in ok)},
        "cost_per_question": cost,
        "monthly_cost": None if cost is None else round(cost * users * per_day * 30, 2),
        "price": settings.price_of(pipeline.llm.name),
    }
