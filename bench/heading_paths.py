"""Benchmark: does embedding a chunk's heading path with its text help retrieval?

Every chunk carries its heading path (``Title › Section › Subsection``, ``application.ingest.documents
.heading_path``). This measures, on both dev sets, dense (the bundled all-MiniLM-L6-v2, embedded as
the service embeds), lexical (``bm25-en``, scored as Qdrant scores it) and hybrid (the product's
default fusion, ``bench/retrieval_table.product_default``) with the chunk text embedded as it is and
with ``heading_path(...) + "\\n\\n" + text`` — the path prepended to the text of both legs. Metrics:
``training.retrieval_eval`` (hit@1/@5/@10 = accuracy@k, MRR@10). Besides the means, a paired
bootstrap of the MRR@10 difference against "no path" (1000 resamples of the queries, grouped by
their relevant chunk so the two Lyft questions of one chunk move together) says whether a
difference is more than noise.

The dev sets have no heading metadata, so what structure each variant gives is recovered honestly:

* ``lyft_10k_ir.json`` (334 chunks of Lyft's 2021 10-K, in document order): ``title`` = "Lyft 2021
  Form 10-K"; ``title › section`` adds the part of the filing the chunk lies in, recovered from the
  headers that occur in the chunk texts themselves (see :func:`lyft_sections`). 10-K Items ("Item 1A.
  Risk Factors"): the canonical titles are read from the filing's table of contents (chunk 1); a
  header counts where "Item N." is followed by that title (or ends a chunk whose successor starts
  with it), never inside the table of contents, never quoted (“Item 1A. Risk Factors” section) and
  only in increasing Item order (so "appearing under Item 9A." in the auditor's report is not one).
  After the last Item come the signatures page ("SIGNATURES") and the exhibits filed with the report
  (employment, separation and consulting agreements, certifications: 140 chunks), each opening its
  first chunk with its number: "Signatures", "Exhibit 10.13", … A chunk gets the section that
  covers most of its characters; the cover page, table of contents and forward-looking-statements
  note before Item 1 (4 chunks) get the title only. No finer headings are recovered: the text has
  no line breaks, so sub-headings ("Risks Related to Our Business") cannot be told apart reliably.
* ``debian_faq_ir.json``: the builder (``bench/build_debian_faq.py``) is re-run on the package's HTML
  (checked: it reproduces the data file exactly), and each corpus chunk is matched to the section it
  was cut from, so its chapter and enclosing section headings are known. ``title`` = "The Debian
  GNU/Linux FAQ"; ``title › chapter``; ``title › chapter › parents`` (enclosing section headings, not
  the chunk's own; for a nested question those are other questions' text); ``full path (LEAKS)``
  adds the chunk's own section heading — and the query of this set *is* that heading, so this
  variant puts the question into its answer chunk: it is measured but cannot decide anything.

Get the FAQ's HTML (Debian's archive; the version the data file was built from is 11.1)::

    cd /tmp && apt-get download debian-faq && dpkg-deb -x debian-faq_*_all.deb /tmp/dfaq

Run (about 2-3 minutes on 2 CPU cores)::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/heading_paths.py \\
        --faq-html /tmp/dfaq/usr/share/doc/debian/FAQ
    # writes bench/results/heading_paths-<date>-<time>.json and .md; prints the markdown table
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from application.ingest.documents import HEADING_SEPARATOR, heading_path  # noqa: E402
from training.fusion import FusionSettings  # noqa: E402
from training.irjson import load_ir_json  # noqa: E402
from training.records import IRDataset  # noqa: E402
from training.retrieval_eval import (  # noqa: E402
    DEFAULT_CANDIDATES, PipelineResult, RetrievalLegs, encode_dense_leg, encode_lexical_leg, evaluate_pipeline,
    relevance_of,
)

BUNDLED = "all-MiniLM-L6-v2"
TOKENIZER = "bm25-en"
LYFT_DEFAULT = ROOT.parent / "shared" / "data" / "lyft_10k_ir.json"
FAQ_DEFAULT = ROOT / "bench" / "data" / "debian_faq_ir.json"
FAQ_HTML_DEFAULT = Path("/tmp/dfaq/usr/share/doc/debian/FAQ")
LYFT_TITLE = "Lyft 2021 Form 10-K"
FAQ_TITLE = "The Debian GNU/Linux FAQ"  # index.en.html's <title> and <h1>
SHOWN = ("mrr@10", "accuracy@1", "accuracy@5", "accuracy@10")
BOOTSTRAP = 1000

Paths = dict[str, tuple[str, tuple[str, ...]]]  # chunk id -> (title, headings below the title)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- Lyft: the 10-K's Items, recovered from the chunk texts -------------------------------------
ITEM = re.compile(r"Item\s*(\d+[A-C]?)\.\s*")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def lyft_item_titles(toc: str) -> dict[str, str]:
    """``{"1A": "Risk Factors", ...}`` from the table of contents chunk ("Item 1A.Risk Factors15...")."""
    titles = {}
    for match in ITEM.finditer(toc):
        # the title runs up to its page number, which the next "Item"/"PART" (or the end) follows
        found = re.match(r"(.+?)\d+\s*(?=Item\s*\d|PART\s+[IV]|$)", toc[match.end():], re.S)
        if found:
            titles.setdefault(match.group(1), found.group(1).strip())
    return titles


def _item_order(number: str) -> tuple[int, str]:
    digits = re.match(r"\d+", number).group(0)
    return int(digits), number[len(digits):]


def lyft_sections(ir: IRDataset) -> tuple[dict[str, str | None], dict]:
    """Each chunk's 10-K section ("Item 1A. Risk Factors", "Signatures", "Exhibit 10.13"; None before
    Item 1), and how it was found."""
    ids = list(ir.corpus)
    texts = [ir.corpus[cid] for cid in ids]
    toc_index = max(range(len(texts)), key=lambda i: len(ITEM.findall(texts[i])))
    titles = lyft_item_titles(texts[toc_index])
    # headers: (chunk index, offset, item number); a header whose title starts the next chunk starts there
    headers: list[tuple[int, int, str]] = []
    current = (0, "")
    rejected = []
    for index, text in enumerate(texts):
        if index == toc_index:
            continue
        for match in ITEM.finditer(text):
            number = match.group(1)
            title = titles.get(number)
            rest = text[match.end():]
            at, offset = index, match.start()
            if not rest.strip() and index + 1 < len(texts):
                rest, at, offset = texts[index + 1], index + 1, 0  # "…Item 2." | "Properties.Our corporate…"
            quoted = text[max(0, match.start() - 1):match.start()] in ("“", '"')
            ok = (title is not None and _squash(rest).startswith(_squash(title)[:12]) and not quoted
                  and _item_order(number) > current)
            if ok:
                headers.append((at, offset, number))
                current = _item_order(number)
            else:
                rejected.append({"chunk": index, "offset": match.start(),
                                 "text": text[match.start():match.start() + 60]})
    labels = [(c, o, f"Item {n}. {titles[n]}") for c, o, n in headers]
    # after the last Item: the signatures page, then the exhibits filed with the report, each opening
    # its chunk with its number ("Exhibit 10.13", "Exhibit 31.1"; "Exhibit 31.1(b)" is a page header)
    active_label = labels[-1][2] if labels else None
    for index in range(headers[-1][0] + 1 if headers else 0, len(texts)):
        opening = re.match(r"(SIGNATURES)|Exhibit\s*(\d+\.\d+)(?!\()", texts[index])
        if opening:
            label = "Signatures" if opening.group(1) else f"Exhibit {opening.group(2)}"
            if label != active_label:
                labels.append((index, 0, label))
                active_label = label
    # the section covering most characters of each chunk
    sections: dict[str, str | None] = {}
    active: str | None = None
    pointer = 0
    for index, cid in enumerate(ids):
        spans: dict[str | None, int] = defaultdict(int)
        start = 0
        while pointer < len(labels) and labels[pointer][0] == index:
            _, offset, label = labels[pointer]
            spans[active] += offset - start
            active, start = label, offset
            pointer += 1
        spans[active] += len(texts[index]) - start
        sections[cid] = max(spans.items(), key=lambda item: item[1])[0]
    found = {"toc_chunk": toc_index, "item_titles": titles,
             "headers": [{"chunk": c, "offset": o, "section": label} for c, o, label in labels], "rejected": rejected}
    return sections, found


def lyft_variants(ir: IRDataset) -> tuple[dict[str, Paths], dict]:
    sections, found = lyft_sections(ir)
    variants = {
        "title": {cid: (LYFT_TITLE, ()) for cid in ir.corpus},
        "title › section": {cid: (LYFT_TITLE, (sections[cid],) if sections[cid] else ()) for cid in ir.corpus},
    }
    counts = defaultdict(int)
    for section in sections.values():
        counts[section or "(before Item 1: title only)"] += 1
    found["chunks_per_item"] = dict(counts)
    return variants, found


# -- Debian FAQ: chapter and section headings, by rebuilding the set from the HTML ---------------
def faq_structure(ir: IRDataset, html_dir: Path) -> dict[str, dict]:
    """Per corpus chunk: its chapter title, the headings of the sections enclosing it, its own heading.

    Re-runs ``bench/build_debian_faq.py``'s walk (same files, order, skipping and ids) and checks that
    every rebuilt chunk text equals the data file's.
    """
    from bs4 import BeautifulSoup

    import build_debian_faq as builder

    files = sorted((p for p in html_dir.glob("*.en.html") if p.name != "index.en.html"),
                   key=lambda p: (builder.chapter_number(p), p.name))
    if not files:
        raise SystemExit(f"no *.en.html chapter files under {html_dir}; see --faq-html")
    rebuilt, _ = builder.build(html_dir, 20)
    if rebuilt["corpus"] != ir.corpus or rebuilt["queries"] != ir.queries:
        raise SystemExit(f"{html_dir} does not rebuild the FAQ data set exactly (another debian-faq version?)")
    structure: dict[str, dict] = {}
    number = 0
    for path in files:
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        chapter = soup.find("div", class_=["chapter", "appendix"])
        chapter_title = builder.clean_heading(builder.heading_of(chapter))
        for kind, title, text, anchor in builder.chapter_sections(path):
            if len(text.split()) < 20:  # the builder's --min-words 20: skipped, no id
                continue
            number += 1
            cid = f"c{number:04d}"
            assert ir.corpus[cid] == text, cid
            parents: list[str] = []
            own = ""
            if anchor != (chapter.get("id") or path.stem):  # a section, not the chapter introduction
                element = soup.find(id=anchor)
                sections = [s for s in element.parents if s.name == "div" and "section" in (s.get("class") or [])]
                own = title
                parents = [builder.clean_heading(builder.heading_of(s)) for s in reversed(sections[1:])]
            structure[cid] = {"kind": kind, "chapter": chapter_title, "parents": parents, "own": own}
    if set(structure) != set(ir.corpus):
        raise SystemExit("the rebuilt FAQ chunks do not match the data set's ids")
    return structure


def faq_variants(ir: IRDataset, html_dir: Path) -> tuple[dict[str, Paths], dict]:
    structure = faq_structure(ir, html_dir)
    variants = {
        "title": {cid: (FAQ_TITLE, ()) for cid in ir.corpus},
        "title › chapter": {cid: (FAQ_TITLE, (s["chapter"],)) for cid, s in structure.items()},
        "title › chapter › parents": {cid: (FAQ_TITLE, (s["chapter"], *s["parents"]))
                                      for cid, s in structure.items()},
        "full path (LEAKS)": {cid: (FAQ_TITLE, tuple(h for h in (s["chapter"], *s["parents"], s["own"]) if h))
                              for cid, s in structure.items()},
    }
    relevant = relevance_of(ir)
    # how often the query text itself is inside its relevant chunk's embedded path: the leak
    leaks = {name: sum(any(ir.queries[q] in heading_path(*paths[c]) for c in cids) for q, cids in relevant.items())
             for name, paths in variants.items()}
    return variants, {"queries_whose_text_is_in_their_chunks_path": leaks,
                      "with_parents": sum(bool(s["parents"]) for s in structure.values())}


# -- measuring -----------------------------------------------------------------------------------
def with_paths(ir: IRDataset, paths: Paths | None) -> IRDataset:
    """The data set with ``heading path + "\\n\\n"`` prepended to every chunk that has one."""
    if paths is None:
        return ir
    corpus = {}
    for cid, text in ir.corpus.items():
        shown = heading_path(*paths[cid])
        corpus[cid] = f"{shown}\n\n{text}" if shown else text
    return replace(ir, corpus=corpus)


def group_of(relevant: dict[str, frozenset[str]]) -> dict[str, tuple[str, ...]]:
    return {qid: tuple(sorted(cids)) for qid, cids in relevant.items()}


def paired_bootstrap(base: PipelineResult, other: PipelineResult, groups: dict[str, tuple], seed: int = 0,
                     metric: str = "mrr@10") -> dict:
    """Mean difference ``other - base`` and its 95 % interval, queries resampled by relevant-chunk group."""
    by_group: dict[tuple, list[float]] = defaultdict(list)
    for qid, metrics in base.per_query.items():
        by_group[groups[qid]].append(other.per_query[qid][metric] - metrics[metric])
    clusters = list(by_group.values())
    rng = random.Random(seed)
    means = []
    for _ in range(BOOTSTRAP):
        sample = [clusters[rng.randrange(len(clusters))] for _ in clusters]
        values = [v for cluster in sample for v in cluster]
        means.append(statistics.fmean(values))
    means.sort()
    delta = statistics.fmean(v for cluster in clusters for v in cluster)
    wins = sum(other.per_query[q][metric] > base.per_query[q][metric] for q in base.per_query)
    losses = sum(other.per_query[q][metric] < base.per_query[q][metric] for q in base.per_query)
    return {"delta": delta, "ci95": [means[int(0.025 * BOOTSTRAP)], means[int(0.975 * BOOTSTRAP) - 1]],
            "queries_better": wins, "queries_worse": losses}


def token_stats(embeddings, ir: IRDataset, variant_ir: IRDataset, limit: int) -> dict:
    """How many word-piece tokens the path adds, and how many chunks the model truncates."""
    plain = [embeddings.count_tokens(t) for t in ir.corpus.values()]
    shown = [embeddings.count_tokens(t) for t in variant_ir.corpus.values()]
    return {"path_tokens_mean": round(statistics.fmean(b - a for a, b in zip(plain, shown)), 1),
            "chunks_truncated": sum(n > limit for n in shown), "chunks": len(shown)}


class QueryCache:
    """The embedding backend with its query vectors remembered: the queries are the same in every variant."""

    def __init__(self, backend):
        self.backend = backend
        self.queries: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.backend.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        if text not in self.queries:
            self.queries[text] = self.backend.embed_query(text)
        return self.queries[text]


def measure(name: str, ir: IRDataset, variants: dict[str, Paths], embeddings, default: FusionSettings,
            candidates: int) -> dict:
    cached = QueryCache(embeddings)
    relevant = relevance_of(ir)
    qids = sorted(relevant)
    groups = group_of(relevant)
    limit = embeddings.max_seq_length - 2
    dense_legs, lexical_legs, tokens, examples = {}, {}, {}, {}
    for variant, paths in {"none": None, **variants}.items():
        started = time.perf_counter()
        shown = with_paths(ir, paths)
        dense_legs[variant] = encode_dense_leg(cached, shown, candidates=candidates, query_ids=qids)
        lexical_legs[variant] = encode_lexical_leg(TOKENIZER, shown, candidates=candidates, query_ids=qids)
        tokens[variant] = token_stats(embeddings, ir, shown, limit)
        # the chunk with the longest path, as embedded
        deepest = max(ir.corpus, key=lambda cid: len(paths[cid][1])) if paths else next(iter(ir.corpus))
        examples[variant] = shown.corpus[deepest][:200]
        log(f"{name}: {variant}: legs in {time.perf_counter() - started:.0f} s")
    pipelines = {
        "dense": lambda v: (RetrievalLegs(relevant, dense=dense_legs[v], candidates=candidates),
                            FusionSettings(mode="dense")),
        "lexical": lambda v: (RetrievalLegs(relevant, lexical=lexical_legs[v], candidates=candidates),
                              FusionSettings(mode="lexical")),
        "hybrid": lambda v: (RetrievalLegs(relevant, dense=dense_legs[v], lexical=lexical_legs[v],
                                           candidates=candidates), default),
        # the path in one leg only (the other leg as today)
        "hybrid, path in dense leg only": lambda v: (
            RetrievalLegs(relevant, dense=dense_legs[v], lexical=lexical_legs["none"], candidates=candidates), default),
        "hybrid, path in lexical leg only": lambda v: (
            RetrievalLegs(relevant, dense=dense_legs["none"], lexical=lexical_legs[v], candidates=candidates), default),
    }
    results: dict[str, dict[str, dict]] = {}
    for pipeline, legs_of in pipelines.items():
        base = evaluate_pipeline(*legs_of("none"))
        results[pipeline] = {}
        for variant in ["none", *variants]:
            if variant == "none" and pipeline.startswith("hybrid, path"):
                continue
            result = base if variant == "none" else evaluate_pipeline(*legs_of(variant))
            entry = {"mean": result.mean}
            if variant != "none":
                entry["vs_none"] = paired_bootstrap(base, result, groups)
            results[pipeline][variant] = entry
    return {"queries": len(qids), "chunks": len(ir.corpus), "variants": list(variants), "tokens": tokens,
            "examples": examples, "results": results}


def table(name: str, measured: dict) -> list[str]:
    lines = [f"### {name}: {measured['queries']} queries, {measured['chunks']} chunks", "",
             "| pipeline | embedded text | MRR@10 | hit@1 | hit@5 | hit@10 | Δ MRR@10 vs no path [95 % CI] "
             "| better/worse queries |",
             "|---|---|---|---|---|---|---|---|"]
    for pipeline, by_variant in measured["results"].items():
        for variant, entry in by_variant.items():
            mean = entry["mean"]
            cells = " | ".join(f"{mean[m]:.4f}" for m in SHOWN)
            if "vs_none" in entry:
                vs = entry["vs_none"]
                delta = f"{vs['delta']:+.4f} [{vs['ci95'][0]:+.4f}, {vs['ci95'][1]:+.4f}]"
                moved = f"{vs['queries_better']}/{vs['queries_worse']}"
            else:
                delta, moved = "", ""
            label = "text only (today)" if variant == "none" else f"`{variant}` + text"
            lines.append(f"| {pipeline} | {label} | {cells} | {delta} | {moved} |")
    tokens = measured["tokens"]
    lines += ["", "Tokens: " + "; ".join(
        f"{v}: +{t['path_tokens_mean']:g} per chunk, "
        f"{t['chunks_truncated']}/{t['chunks']} chunks over the model's window"
        for v, t in tokens.items()) + "."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lyft", type=Path, default=LYFT_DEFAULT)
    parser.add_argument("--faq", type=Path, default=FAQ_DEFAULT)
    parser.add_argument("--faq-html", type=Path, default=FAQ_HTML_DEFAULT,
                        help="the debian-faq package's FAQ folder (*.en.html), 11.1 as the data set")
    parser.add_argument("--candidates", type=int, default=DEFAULT_CANDIDATES)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    from plugins import load_embeddings
    from retrieval_table import describe, product_default

    started = time.perf_counter()
    embeddings = load_embeddings(BUNDLED)
    default = replace(product_default(), candidates=args.candidates)
    lyft = load_ir_json(args.lyft)
    faq = load_ir_json(args.faq)
    lyft_paths, lyft_found = lyft_variants(lyft)
    faq_paths, faq_found = faq_variants(faq, args.faq_html)
    measured = {
        args.lyft.name: measure("lyft", lyft, lyft_paths, embeddings, default, args.candidates),
        args.faq.name: measure("faq", faq, faq_paths, embeddings, default, args.candidates),
    }
    measured[args.lyft.name]["structure"] = lyft_found
    measured[args.faq.name]["structure"] = faq_found

    lines = [f"## Heading paths: `Title{HEADING_SEPARATOR}Section` + \"\\n\\n\" + text vs. text only",
             "", f"Dense: {BUNDLED} (the bundled model, embedded as the service embeds); lexical: {TOKENIZER}; "
             f"hybrid: the product default ({describe(default)}, {args.candidates} candidates per leg). "
             f"Δ: paired bootstrap ({BOOTSTRAP} resamples, queries grouped by relevant chunk).", ""]
    for name, result in measured.items():
        lines += table(name, result) + [""]
    text = "\n".join(lines)
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"heading_paths-{stamp}.json"
    target.write_text(json.dumps({"command": " ".join(sys.argv), "model": BUNDLED, "tokenizer": TOKENIZER,
                                  "fusion": describe(default), "candidates": args.candidates,
                                  "seconds": round(time.perf_counter() - started, 1), "data": measured},
                                 indent=2, ensure_ascii=False) + "\n")
    target.with_suffix(".md").write_text(text + "\n")
    log(f"wrote {target} and {target.with_suffix('.md').name} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
