"""Benchmark: the offline extractive answerer on an IR JSON set (how close, how faithful, how fast).

For each question: the service's default retrieval (hybrid: all-MiniLM-L6-v2 + ``bm25-en``, fused with
``FusionSettings()``) over the set's corpus, top 4, turned into ``SearchHit``s; the prompt rendered with
the default template; the answer from ``ExtractiveLLM``. Metrics, per answerer:

* **similarity**: cosine (the same MiniLM) between the answer's words (no intro line, no ``[n]``;
  ``answer_eval.similarity.answer_text``) and the reference, the text of the question's first relevant chunk;
* **supported**: of the answer's claims that cite ``[n]`` (each sentence, list item, table), the share
  whose content words occur at >= 60 % in chunk n (``answer_eval.faithfulness``: the offline rule);
* **uncited**: the share of claims that cite nothing;
* **ms/answer**: the answerer's own time (the retrieval is not counted), median and mean.

``--answerer`` names the answerers to compare: ``now`` (``application/llm/extractive.py``) and any
``NAME=PATH`` of another copy of the module (e.g. the one before a change)::

    cp application/llm/extractive.py /tmp/extractive_before.py   # before editing it
    HF_HUB_OFFLINE=1 .venv/bin/python bench/extractive_answers.py bench/data/debian_faq_ir.json \\
        --answerer before=/tmp/extractive_before.py now
    HF_HUB_OFFLINE=1 .venv/bin/python bench/extractive_answers.py ../shared/data/lyft_10k_ir.json --limit 200 \\
        --answerer before=/tmp/extractive_before.py now --out bench/results/extractive_answers-lyft.json
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TOP_K = 4
LEXICAL = "bm25-en"
SEED = 13


def load_answerer_class(spec: str):
    """``now``: the repository's ExtractiveLLM; ``NAME=PATH``: the ExtractiveLLM of that file."""
    if spec == "now":
        from application.llm.extractive import ExtractiveLLM

        return "now", ExtractiveLLM
    name, _, path = spec.partition("=")
    if not path or not Path(path).is_file():
        raise SystemExit(f"--answerer {spec!r}: use 'now' or NAME=PATH of a copy of application/llm/extractive.py")
    module_name = f"_extractive_{name}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # dataclasses look their module up while the file runs
    module_spec.loader.exec_module(module)
    return name, module.ExtractiveLLM


def search_hits(ir, fused) -> list:
    from application.retrieval.hits import SearchHit

    return [SearchHit(chunk_id=item.chunk_id, source_id=item.chunk_id, text=ir.corpus[item.chunk_id],
                      score=item.score, rank=rank, title="", uri=item.chunk_id, page=None, position=0,
                      dense_score=item.dense_score, lexical_score=item.lexical_score)
            for rank, item in enumerate(fused, start=1)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ir_json", type=Path)
    parser.add_argument("--answerer", nargs="+", default=["now"], help="now and/or NAME=PATH (default: now)")
    parser.add_argument("--limit", type=int, default=None, help="a sample of this many questions (fixed seed)")
    parser.add_argument("--out", type=Path, default=None, help="write the summary and every answer as JSON")
    args = parser.parse_args(argv)

    from application.answer_eval.faithfulness import citation_support
    from application.answer_eval.similarity import answer_text
    from application.llm.prompt import PromptTemplate
    from plugins import load_embeddings
    from training.fusion import FusionSettings
    from training.irjson import load_ir_json
    from training.retrieval_eval import build_legs, rank_query

    answerers = [load_answerer_class(spec) for spec in args.answerer]
    ir = load_ir_json(args.ir_json)
    embeddings = load_embeddings("all-MiniLM-L6-v2")
    started = time.perf_counter()
    legs = build_legs(ir, dense=embeddings, lexical=LEXICAL, dense_label="all-MiniLM-L6-v2", lexical_label=LEXICAL)
    print(f"{args.ir_json.name}: {len(ir.queries)} questions, {len(ir.corpus)} chunks; legs in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    qids = legs.query_ids
    if args.limit and args.limit < len(qids):
        qids = sorted(random.Random(SEED).sample(qids, args.limit))
    template, fusion = PromptTemplate.load(), FusionSettings()
    prompts = {qid: template.render(ir.queries[qid], search_hits(ir, rank_query(legs, qid, fusion, k=TOP_K)))
               for qid in qids}
    references = {qid: ir.corpus[ir.relevant_docs[qid][0]] for qid in qids}

    summary, answers = {}, {}
    for name, cls in answerers:
        llm = cls(lambda: embeddings)
        llm.answer(prompts[qids[0]])  # warm-up: the first call pays for loading
        rows = []
        for done, qid in enumerate(qids, start=1):
            t0 = time.perf_counter()
            answer = llm.answer(prompts[qid])
            ms = (time.perf_counter() - t0) * 1000
            check = citation_support(answer, prompts[qid].sources)
            rows.append({"qid": qid, "answer": answer, "ms": ms, "claims": len(check.claims),
                         "cited": len(check.cited), "supported": sum(bool(c.supported) for c in check.claims),
                         "uncited": sum(not c.cited for c in check.claims)})
            if done % 50 == 0:
                print(f"  {name}: {done}/{len(qids)}", file=sys.stderr)
        texts = [answer_text(r["answer"]) for r in rows]
        vectors = embeddings.embed_documents(texts + [references[r["qid"]] for r in rows])
        for row, text, a, b in zip(rows, texts, vectors[:len(rows)], vectors[len(rows):]):
            row["similarity"] = sum(x * y for x, y in zip(a, b)) if text else 0.0  # unit vectors: the cosine
        claims, cited = sum(r["claims"] for r in rows), sum(r["cited"] for r in rows)
        summary[name] = {
            "questions": len(rows),
            "similarity": round(statistics.fmean(r["similarity"] for r in rows), 4),
            "supported": round(sum(r["supported"] for r in rows) / cited, 4) if cited else None,
            "uncited": round(sum(r["uncited"] for r in rows) / claims, 4) if claims else None,
            "claims_per_answer": round(claims / len(rows), 2),
            "answer_chars": round(statistics.fmean(len(r["answer"]) for r in rows)),
            # the share of answers word for word the same as the first answerer's (--answerer's first)
            "same_as_first": round(statistics.fmean(r["answer"] == a["answer"] for r, a in
                                                    zip(rows, next(iter(answers.values()), rows))), 4),
            "ms_median": round(statistics.median(r["ms"] for r in rows), 1),
            "ms_mean": round(statistics.fmean(r["ms"] for r in rows), 1),
        }
        answers[name] = rows

    print(f"\n### {args.ir_json.name}: {len(qids)} questions, top {TOP_K} hybrid, load {os.getloadavg()[0]:.2f}\n")
    print("| answerer | similarity | cited claims supported | claims uncited | claims/answer | chars | same as first "
          "| ms median | ms mean |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s['similarity']:.4f} | {s['supported']} | {s['uncited']} | {s['claims_per_answer']} | "
              f"{s['answer_chars']} | {s['same_as_first']} | {s['ms_median']} | {s['ms_mean']} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"dataset": args.ir_json.name, "limit": args.limit, "seed": SEED,
                                        "summary": summary, "answers": answers}, indent=1, ensure_ascii=False))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
