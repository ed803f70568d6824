#!/usr/bin/env python3
"""Build an IR dev set from four small FAQs shipped with Debian packages, in one corpus.

Sources (installed on this machine; each FAQ's questions were written by its maintainers):

* ``/usr/share/doc/zlib1g-dev/FAQ.gz`` (zlib1g-dev): "N. question" entries;
* ``/usr/share/doc/xz-utils/faq.txt.gz`` (xz-utils): "Q: … A: …" entries;
* ``/usr/share/doc/valgrind/FAQ.txt.gz`` (valgrind): "N.N. question" entries between rules;
* ``/usr/share/man/man7/gitfaq.7.gz`` (git-man), rendered by ``man`` as plain text:
  a question at indent 7, its answer at indent 11.

Rules: every FAQ entry is a query, its entry text the query (whitespace normalised, the number
removed; some entries state a problem rather than ask, "compress() returns Z_BUF_ERROR.",
and are kept as the FAQ wrote them); the answer is its one relevant chunk. Each chunk starts with
the FAQ's name ("zlib FAQ: …"), as a document's title would be. Entries whose answer has fewer
than ``--min-words`` words are skipped. There are no distractors: the four FAQs are each other's.
Ids ``q0001…``/``c0001…`` in the order above.

    .venv/bin/python bench/build_package_faqs.py      # writes bench/data/package_faqs_ir.json
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
from pathlib import Path

DOC = Path("/usr/share/doc")
GITFAQ = Path("/usr/share/man/man7/gitfaq.7.gz")
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "package_faqs_ir.json"
PACKAGES = ("zlib1g-dev", "xz-utils", "valgrind", "git-man")


def norm(text: str) -> str:
    return " ".join(text.split())


def read(path: Path) -> str:
    return gzip.open(path, "rt", encoding="utf-8", errors="replace").read()


def split_blocks(lines, is_question_start, continues=lambda line: bool(line.strip())):
    """(question, answer) pairs: a question starts where ``is_question_start(line)`` and goes on
    while ``continues(line)`` (default: to the first blank line); the answer runs to the next question."""
    entries, current, in_question = [], None, False
    for line in lines:
        if is_question_start(line):
            if current:
                entries.append(current)
            current, in_question = [line, []], True
            continue
        if current is None:
            continue
        if in_question and continues(line):
            current[0] += " " + line
            continue
        in_question = False
        current[1].append(line)
    if current:
        entries.append(current)
    return [(norm(q), norm("\n".join(a))) for q, a in entries]


def zlib_faq() -> list[tuple[str, str]]:
    entries = split_blocks(read(DOC / "zlib1g-dev/FAQ.gz").splitlines(), lambda l: re.match(r"^ ?\d+\. \S", l))
    return [(re.sub(r"^\d+\.\s*", "", q), a) for q, a in entries]


def xz_faq() -> list[tuple[str, str]]:
    text = read(DOC / "xz-utils/faq.txt.gz")
    entries = []
    for block in re.split(r"\n(?=Q:)", text)[1:]:
        question, _, answer = block.partition("\nA:")
        entries.append((norm(question.removeprefix("Q:")), norm(answer)))
    return entries


def valgrind_faq() -> list[tuple[str, str]]:
    lines = [l for l in read(DOC / "valgrind/FAQ.txt.gz").splitlines() if not l.startswith("-----")]
    # the entries start after the table of contents; a question runs to its first line ending in
    # "?" or ":" (or the first blank line), the answer after it
    body = lines[next(i for i, l in enumerate(lines) if re.match(r"^1\.1\. ", l)):]
    entries, current = [], None
    for line in body:
        if re.match(r"^\d+\.\d+\. \S", line):
            if current:
                entries.append(current)
            current = [line, [], not line.rstrip().endswith(("?", ":"))]
            continue
        if re.match(r"^\d+\. \S", line) or current is None:
            continue
        if current[2] and line.strip():
            current[0] += " " + line
            current[2] = not line.rstrip().endswith(("?", ":"))
            continue
        current[2] = False
        current[1].append(line)
    if current:
        entries.append(current)
    return [(re.sub(r"^\d+\.\d+\.\s*", "", norm(q)), norm("\n".join(a))) for q, a, _ in entries]


def git_faq() -> list[tuple[str, str]]:
    rendered = subprocess.run(["man", "-l", str(GITFAQ)], capture_output=True, text=True,
                              env={**os.environ, "MANWIDTH": "1000", "MAN_KEEP_FORMATTING": ""}).stdout
    lines = [re.sub(r".\x08", "", l) for l in rendered.splitlines()]
    body = lines[next(i for i, l in enumerate(lines) if l.strip() == "CONFIGURATION"):]
    # a question: indent 7 and not the "SEE ALSO"-style section titles (indent 0); answer: indent 11+
    stop = next((i for i, l in enumerate(body) if l.strip() in ("SEE ALSO", "GIT")), len(body))
    question = lambda line: re.match(r"^ {7}\S", line) is not None  # noqa: E731
    return split_blocks(body[:stop], question, continues=question)


SOURCES = (("zlib FAQ", zlib_faq), ("XZ Utils FAQ", xz_faq), ("Valgrind FAQ", valgrind_faq), ("gitfaq", git_faq))


def build(min_words: int):
    queries, corpus, relevant, counts, skipped = {}, {}, {}, {}, 0
    for name, entries in SOURCES:
        kept = 0
        for question, answer in entries():
            if len(answer.split()) < min_words:
                skipped += 1
                continue
            n = len(queries) + 1
            queries[f"q{n:04d}"], corpus[f"c{n:04d}"] = question, f"{name}: {answer}"
            relevant[f"q{n:04d}"] = [f"c{n:04d}"]
            kept += 1
        counts[name] = kept
    return {"queries": queries, "corpus": corpus, "relevant_docs": relevant}, counts, skipped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--min-words", type=int, default=10)
    args = parser.parse_args(argv)
    data, counts, skipped = build(args.min_words)
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    versions = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Version}\n", *PACKAGES],
                              capture_output=True, text=True).stdout.split("\n")
    words = [len(t.split()) for t in data["corpus"].values()]
    print("packages: " + "; ".join(v for v in versions if v))
    print(f"queries: {len(data['queries'])} ({', '.join(f'{k} {v}' for k, v in counts.items())}); "
          f"skipped (< {args.min_words} words): {skipped}")
    print(f"words/chunk: p50 {statistics.median(words):.0f} mean {statistics.mean(words):.0f} max {max(words)}")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
