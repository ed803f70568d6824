#!/usr/bin/env python3
"""Build an IR dev set (queries / corpus / relevant_docs) from the lsof FAQ.

Source: ``/usr/share/doc/lsof/00FAQ.gz`` of the Debian package ``lsof`` (Vic Abell's
"Frequently Asked Questions about lsof", plain text). Human-written questions, the same kind
as ``bench/build_debian_faq.py``'s Debian FAQ, on another subject (a Unix tool and its ports).

Rules
-----
* The body starts after the table of contents (the second "1.0 General Concepts" line).
* A heading is a line that starts at column 0 with a section number ("3.1.2<tab>");
  indented lines that follow it before the first blank line continue it.
* Every heading that ends with "?" becomes a query (the number removed, whitespace
  normalised); the text up to the next heading becomes its one relevant chunk.
* Other headings ("3.0 Lsof Problems", "1.10 Language locale support") become distractor
  chunks (relevant to no query): their heading and their own text.
* Sections with fewer than ``--min-words`` words of text are skipped (query and chunk).
* Ids: ``q0001…`` and ``c0001…`` in document order.

    .venv/bin/python bench/build_lsof_faq.py            # writes bench/data/lsof_faq_ir.json
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
from pathlib import Path

DEFAULT_SRC = Path("/usr/share/doc/lsof/00FAQ.gz")
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "lsof_faq_ir.json"
HEADING = re.compile(r"^(\d+(?:\.\d+)+)\s+(\S.*)$")


def norm(text: str) -> str:
    return " ".join(text.split())


def sections(lines: list[str]):
    """(number, heading, body) of every section of the FAQ's body, in order."""
    starts = [i for i, line in enumerate(lines) if line.startswith("1.0") and "General Concepts" in line]
    if len(starts) < 2:
        raise SystemExit("could not find the start of the FAQ body (the second '1.0 General Concepts')")
    current = None
    in_heading = False
    for line in lines[starts[1]:]:
        match = HEADING.match(line)
        if match:
            if current:
                yield current
            current = [match.group(1), match.group(2), []]
            in_heading = True
            continue
        if current is None:
            continue
        if in_heading and line.strip() and line[:1].isspace():
            current[1] += " " + line.strip()
            continue
        in_heading = False
        current[2].append(line)
    if current:
        yield current


def build(src: Path, min_words: int):
    text = gzip.open(src, "rt", encoding="latin-1").read() if src.suffix == ".gz" else src.read_text("latin-1")
    queries, corpus, relevant = {}, {}, {}
    skipped, distractors = [], 0
    for number, heading, body in sections(text.splitlines()):
        heading, body = norm(heading), norm("\n".join(body))
        words = len(body.split())
        if words < min_words:
            skipped.append((number, heading, words))
            continue
        cid = f"c{len(corpus) + 1:04d}"
        if heading.endswith("?"):
            qid = f"q{len(queries) + 1:04d}"
            queries[qid], corpus[cid], relevant[qid] = heading, body, [cid]
        else:
            corpus[cid] = f"{heading}. {body}"
            distractors += 1
    return {"queries": queries, "corpus": corpus, "relevant_docs": relevant}, skipped, distractors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src", nargs="?", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--min-words", type=int, default=20)
    args = parser.parse_args(argv)
    data, skipped, distractors = build(args.src, args.min_words)
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "lsof"], capture_output=True, text=True).stdout
    words = [len(t.split()) for t in data["corpus"].values()]
    print(f"source: {args.src} (lsof {version or 'version unknown'})")
    print(f"queries: {len(data['queries'])}; corpus: {len(data['corpus'])} ({distractors} distractors)")
    print(f"skipped (< {args.min_words} words): {len(skipped)}")
    print(f"words/chunk: p50 {statistics.median(words):.0f} mean {statistics.mean(words):.0f} max {max(words)}")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
