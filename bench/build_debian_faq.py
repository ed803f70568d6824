#!/usr/bin/env python3
"""Build an IR dev set (queries / corpus / relevant_docs) from the Debian FAQ.

Source: the Debian package ``debian-faq`` (DocBook-generated, chunked HTML, one
file per chapter, under ``/usr/share/doc/debian/FAQ/``).  Every section whose
heading is a question (ends with "?") becomes a query; the text of that
section becomes its one relevant corpus chunk.  Non-question sections and the
chapter introductions become distractor chunks (relevant to no query).

Fetch the files without installing the package::

    apt-get download debian-faq                   # -> debian-faq_<ver>_all.deb
    dpkg-deb -x debian-faq_*_all.deb /tmp/dfaq
    python bench/build_debian_faq.py /tmp/dfaq/usr/share/doc/debian/FAQ \
        --deb debian-faq_*_all.deb

(or ``apt-get install debian-faq`` and run the script with no argument).

Rules
-----
* Query text: the heading text with its section number ("7.12. ") removed and
  whitespace normalised.
* Chunk of a question section: its own body text up to the next heading of
  any level, plus the text of nested subsections that are *not* questions
  (e.g. 8.1 "What programs does Debian provide ...?" keeps its "dpkg", "APT",
  ... subsections, with their headings as text, numbers removed).  Nested question subsections are their own query/chunk
  pairs and are not repeated inside the parent's chunk (that would put the
  child's answer in two chunks, only one of them labelled relevant).
* Footnotes are appended to the chunk that references them; footnote markers
  ("[1]") are dropped.  The chapter tables of contents and navigation bars are
  dropped (the TOCs list every question verbatim).  ``index.en.html`` (book
  title page + full TOC) is not used.
* Code / ``<pre>`` text is kept as text; all whitespace is collapsed.
* Question sections whose chunk has fewer than ``--min-words`` words are
  skipped (query and chunk both); distractors under that size are skipped too.
* Long chunks are kept whole.
* Ids: ``q0001``... and ``c0001``... in document (chapter-number) order.

Only the standard library and beautifulsoup4 are needed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag

DEFAULT_SRC = Path("/usr/share/doc/debian/FAQ")
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "debian_faq_ir.json"

BLOCK_TAGS = {
    "p", "div", "pre", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr",
    "td", "th", "blockquote", "br", "h1", "h2", "h3", "h4", "h5", "h6",
}
SECNUM = re.compile(r"^\s*(?:Chapter\s+)?\d+(?:\.\d+)*\.?\s+")


def norm(text: str) -> str:
    return " ".join(text.split())


def heading_of(section: Tag) -> Tag | None:
    tp = section.find("div", class_="titlepage", recursive=False)
    if tp is None:
        return None
    return tp.find(re.compile(r"^h[1-6]$"))


def clean_heading(h: Tag) -> str:
    return norm(SECNUM.sub("", norm(h.get_text())))


def is_question(title: str) -> bool:
    # "... what is Linux?!" counts; "...? I thought this CD contains just
    # `stable'!" (a question followed by a remark) does not.
    return title.rstrip().rstrip("!").endswith("?")


def text_of(node: Tag, footnotes: dict[str, str], skip) -> str:
    """Text of ``node`` with block elements separated, skipping nodes for
    which ``skip(tag)`` is true.  Footnote texts referenced inside are
    appended at the end."""
    parts: list[str] = []
    notes: list[str] = []

    def walk(el):
        for child in el.children:
            if isinstance(child, NavigableString):
                if child.__class__.__name__ in ("Comment", "Doctype"):
                    continue
                parts.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            if skip(child):
                continue
            if child.name == "a" and "footnote" in (child.get("class") or []):
                ref = (child.get("href") or "").lstrip("#")
                if ref in footnotes:
                    notes.append(footnotes[ref])
                continue
            if re.fullmatch(r"h[1-6]", child.name):
                parts.append(" " + clean_heading(child) + ". ")
                continue
            block = child.name in BLOCK_TAGS
            if block:
                parts.append(" ")
            walk(child)
            if block:
                parts.append(" ")

    walk(node)
    return norm("".join(parts) + " " + " ".join(notes))


def chapter_sections(path: Path):
    """Yield (kind, title, text, anchor) for one chapter file in order.

    kind is "question" or "distractor"."""
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    chapter = soup.find("div", class_=["chapter", "appendix"])
    if chapter is None:
        return
    # footnote id -> text (markers inside the footnote itself removed)
    footnotes: dict[str, str] = {}
    fdiv = chapter.find("div", class_="footnotes")
    for fn in chapter.select("div.footnote"):
        for sup in fn.find_all("sup"):
            sup.decompose()
        fid = fn.get("id")
        if fid:
            footnotes[fid] = norm(fn.get_text())
    if fdiv is not None:
        fdiv.extract()

    def base_skip(t: Tag) -> bool:
        cls = t.get("class") or []
        return (
            "titlepage" in cls or "toc" in cls or "navheader" in cls
            or "navfooter" in cls or "footnotes" in cls
        )

    # chapter introduction: everything except titlepage, toc and sections
    ch_title = heading_of(chapter)
    intro = text_of(
        chapter, footnotes,
        lambda t: base_skip(t) or "section" in (t.get("class") or []),
    )
    yield ("distractor", clean_heading(ch_title) if ch_title else path.stem,
           intro, chapter.get("id") or path.stem)

    def visit(section: Tag, absorbed: bool):
        h = heading_of(section)
        title = clean_heading(h) if h is not None else ""
        q = is_question(title)
        anchor = h.find("a", id=True)["id"] if h is not None and h.find("a", id=True) else ""
        subs = section.find_all("div", class_="section", recursive=False)
        if q:
            # own text + non-question subsections (recursively), stopping at
            # question subsections
            own_tp = section.find("div", class_="titlepage", recursive=False)

            def skip(t: Tag) -> bool:
                cls = t.get("class") or []
                if t is own_tp:
                    return True
                if "titlepage" in cls:
                    # heading of an absorbed non-question subsection: keep
                    # it as text, without its number
                    return False
                if base_skip(t):
                    return True
                if "section" in cls:
                    sh = heading_of(t)
                    return sh is not None and is_question(clean_heading(sh))
                return False

            yield ("question", title, text_of(section, footnotes, skip), anchor)
            for s in subs:
                yield from visit(s, absorbed=True)
        else:
            if not absorbed:
                own = text_of(
                    section, footnotes,
                    lambda t: base_skip(t) or "section" in (t.get("class") or []),
                )
                yield ("distractor", title, own, anchor)
            for s in subs:
                yield from visit(s, absorbed=absorbed)

    for s in chapter.find_all("div", class_="section", recursive=False):
        yield from visit(s, absorbed=False)


def chapter_number(path: Path) -> int:
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    h = soup.find("h1")
    m = re.search(r"Chapter\s+(\d+)", h.get_text()) if h else None
    return int(m.group(1)) if m else 10_000


def build(src: Path, min_words: int):
    files = sorted(
        (p for p in src.glob("*.en.html") if p.name != "index.en.html"),
        key=lambda p: (chapter_number(p), p.name),
    )
    if not files:
        sys.exit(f"no *.en.html chapter files under {src}")
    queries: dict[str, str] = {}
    corpus: dict[str, str] = {}
    rel: dict[str, list[str]] = {}
    meta = {"skipped_questions": [], "skipped_distractors": 0,
            "distractors": 0, "files": [p.name for p in files]}
    qn = cn = 0
    for p in files:
        for kind, title, text, _anchor in chapter_sections(p):
            nwords = len(text.split())
            if kind == "question":
                if nwords < min_words:
                    meta["skipped_questions"].append((title, nwords))
                    continue
                qn += 1
                cn += 1
                qid, cid = f"q{qn:04d}", f"c{cn:04d}"
                queries[qid] = title
                corpus[cid] = text
                rel[qid] = [cid]
            else:
                if nwords < min_words:
                    meta["skipped_distractors"] += 1
                    continue
                cn += 1
                corpus[f"c{cn:04d}"] = text
                meta["distractors"] += 1
    return {"queries": queries, "corpus": corpus, "relevant_docs": rel}, meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", nargs="?", type=Path, default=DEFAULT_SRC,
                    help=f"folder with the FAQ's *.en.html (default {DEFAULT_SRC})")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--min-words", type=int, default=20)
    ap.add_argument("--long-words", type=int, default=350,
                    help="only reported: chunks above this many words")
    ap.add_argument("--deb", type=Path, default=None,
                    help="the .deb the files came from (its version is printed)")
    args = ap.parse_args(argv)

    data, meta = build(args.src, args.min_words)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n",
                        encoding="utf-8")

    if args.deb:
        ver = subprocess.run(["dpkg-deb", "-f", str(args.deb), "Version"],
                             capture_output=True, text=True).stdout.strip()
        print(f"package: {args.deb.name} version {ver}")
    words = [len(t.split()) for t in data["corpus"].values()]
    rel_ids = {c for v in data["relevant_docs"].values() for c in v}
    rel_words = [len(data["corpus"][c].split()) for c in rel_ids]
    print(f"files: {len(meta['files'])}")
    print(f"queries: {len(data['queries'])}")
    print(f"corpus: {len(data['corpus'])} "
          f"(relevant {len(rel_ids)}, distractors {meta['distractors']})")
    print(f"skipped question sections (< {args.min_words} words): "
          f"{len(meta['skipped_questions'])} {meta['skipped_questions']}")
    print(f"skipped distractor sections (< {args.min_words} words): "
          f"{meta['skipped_distractors']}")
    print(f"words/chunk all: p50 {statistics.median(words):.0f} "
          f"mean {statistics.mean(words):.0f} max {max(words)} min {min(words)}")
    print(f"words/chunk relevant: p50 {statistics.median(rel_words):.0f} "
          f"max {max(rel_words)}")
    print(f"chunks over {args.long_words} words: "
          f"{sum(w > args.long_words for w in words)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
