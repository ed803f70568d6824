"""Realistic vectors at 20k-100k chunks without embedding them all (shared by the benchmarks).

Embedding is the slow part of a benchmark on a CPU (MiniLM: tens of chunks/s), but the vector
store does not care where a vector came from, only what the vectors look like. So:

1. **Seed** (real, once, cached): the first ``--seed-chunks`` chunks of the corpus — Lyft's 10-K
   (``../shared/data/lyft_10k_ir.json``) then the .md/.rst/.txt documentation of the installed
   packages — parsed and chunked by the project's own parser and ``Chunker``, embedded with the
   bundled model, plus the embedded queries of the data set. Cached in
   ``bench/results/seed/`` (git-ignored) under the model's fingerprint.
2. **Scale** (synthetic): ``n`` chunks cycle through the seed in order; the first pass keeps the
   real vectors, every later pass adds gaussian noise (``noise`` per dimension, ~0.9 cosine to the
   original at the default) and renormalises, so the copies stay near the data's own manifold
   instead of being uniform random points. The chunk sequence is cut into ``sources`` documents
   of log-normal sizes (positions restart at 0 in each), each with a title, uri and page, so a
   ``source_id`` filter selects a realistic, uneven share of the points.

Example::

    seed = load_seed(embeddings, chunk_tokens=96, seed_chunks=3000)
    data = synthesize(seed, 20000, sources=300)
    data.vectors.shape, data.source_of[:5], data.seed_of[:5]
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED_CACHE = ROOT / "bench" / "results" / "seed"
DOC_SUFFIXES = (".md", ".rst", ".txt")
DEFAULT_LYFT = ROOT.parent / "shared" / "data" / "lyft_10k_ir.json"


def corpus_documents(lyft: Path):
    """(name, text) in a fixed order: the 10-K's chunks first, then the packages' documentation."""
    if lyft.exists():
        data = json.loads(lyft.read_text())
        for cid, text in data["corpus"].items():
            yield f"lyft-{cid}.txt", text
    site = Path(sys.prefix) / "lib"
    for path in sorted(site.rglob("*")):
        if path.suffix.lower() in DOC_SUFFIXES and path.is_file() and path.stat().st_size > 200:
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            name = "-".join(path.relative_to(site).parts[-4:])
            yield hashlib.sha1(str(path).encode()).hexdigest()[:8] + "-" + Path(name).stem + ".txt", text


def questions_from(lyft: Path) -> list[str]:
    if lyft.exists():
        return list(json.loads(lyft.read_text())["queries"].values())
    return ["What are the main risk factors?", "How is revenue recognized?", "How do I install it?",
            "What does the configuration file contain?", "Which license applies?"]


@dataclass
class Seed:
    """Real chunks and their real vectors (unit length), and real query vectors."""

    model: str
    fingerprint: str
    chunk_tokens: int
    doc_titles: list[str]          # per seed document
    doc_of: np.ndarray             # per seed chunk: index into doc_titles
    pages: list[int | None]        # per seed chunk
    token_counts: list[int]        # per seed chunk
    texts: list[str]               # per seed chunk
    vectors: np.ndarray            # (seed chunks, d) float32, unit length
    queries: list[str]
    query_vectors: np.ndarray      # (queries, d) float32, unit length
    embed_seconds: float           # what embedding the seed chunks took (when it was not cached)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def load_seed(embeddings, chunk_tokens: int = 96, seed_chunks: int = 3000, lyft: Path = DEFAULT_LYFT,
              cache: Path = SEED_CACHE, log=print) -> Seed:
    """The seed for ``embeddings`` (parsed, chunked and embedded once, then read from the cache)."""
    from application.ingest.chunking import Chunker
    from application.ingest.parsers import parse_file

    key = f"{embeddings.fingerprint[:24]}-{chunk_tokens}-{seed_chunks}"
    meta_path, array_path = cache / f"{key}.json", cache / f"{key}.npz"
    if meta_path.exists() and array_path.exists():
        meta = json.loads(meta_path.read_text())
        arrays = np.load(array_path)
        log(f"seed: {len(meta['texts'])} real chunks and {len(meta['queries'])} queries from the cache {array_path}")
        return Seed(meta["model"], meta["fingerprint"], chunk_tokens, meta["doc_titles"], arrays["doc_of"],
                    meta["pages"], meta["token_counts"], meta["texts"], arrays["vectors"], meta["queries"],
                    arrays["query_vectors"], meta["embed_seconds"])

    chunker = Chunker(embeddings, chunk_tokens)
    titles, doc_of, pages, tokens, texts = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in corpus_documents(lyft):
            if len(texts) >= seed_chunks:
                break
            path = Path(tmp) / name
            path.write_text(text, encoding="utf-8")
            try:
                document = parse_file(path)
            except Exception:  # noqa: BLE001 - a file the product would refuse is no seed either
                continue
            drafts = chunker.split(document)[: seed_chunks - len(texts)]
            if not drafts:
                continue
            titles.append(document.title or name)
            for draft in drafts:
                doc_of.append(len(titles) - 1)
                pages.append(draft.page)
                tokens.append(draft.token_count)
                texts.append(draft.text)
    log(f"seed: embedding {len(texts)} real chunks from {len(titles)} documents with {embeddings.name} ...")
    started = time.perf_counter()
    vectors = _unit(embeddings.embed_documents(texts))
    embed_seconds = time.perf_counter() - started
    log(f"seed: {len(texts)} chunks in {embed_seconds:.0f} s = {len(texts) / embed_seconds:.1f} chunks/s")
    queries = questions_from(lyft)
    query_vectors = _unit([embeddings.embed_query(q) for q in queries])
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(array_path, doc_of=np.asarray(doc_of, dtype=np.int32), vectors=vectors, query_vectors=query_vectors)
    meta_path.write_text(json.dumps({"model": embeddings.name, "fingerprint": embeddings.fingerprint,
                                     "doc_titles": titles, "pages": pages, "token_counts": tokens, "texts": texts,
                                     "queries": queries, "embed_seconds": round(embed_seconds, 1)}))
    return Seed(embeddings.name, embeddings.fingerprint, chunk_tokens, titles, np.asarray(doc_of, dtype=np.int32),
                pages, tokens, texts, vectors, queries, query_vectors, embed_seconds)


@dataclass
class Synthetic:
    """``n`` chunks made from the seed: which seed chunk each copies, its source, position and vector."""

    vectors: np.ndarray       # (n, d) float32, unit length
    seed_of: np.ndarray       # (n,) index of the seed chunk whose text/vector it copies
    source_of: np.ndarray     # (n,) index into source_titles
    position: np.ndarray      # (n,) position inside its source
    source_titles: list[str]
    source_uris: list[str]
    noise: float
    cosine_to_seed: float     # mean cosine of a perturbed copy to its real vector

    @property
    def source_sizes(self) -> np.ndarray:
        return np.bincount(self.source_of, minlength=len(self.source_titles))


def synthesize(seed: Seed, n: int, sources: int = 300, noise: float = 0.025, rng_seed: int = 0) -> Synthetic:
    """``n`` chunks: the seed's real vectors first, then noisy, renormalised copies (see the module doc)."""
    rng = np.random.default_rng(rng_seed)
    m, d = seed.vectors.shape
    seed_of = np.arange(n) % m
    vectors = seed.vectors[seed_of].copy()
    copies = np.arange(n) >= m
    vectors[copies] += rng.normal(0.0, noise, size=(int(copies.sum()), d)).astype(np.float32)
    vectors = _unit(vectors)
    cosine = float(np.mean(np.sum(vectors[copies] * seed.vectors[seed_of[copies]], axis=1))) if copies.any() else 1.0
    # uneven document sizes: log-normal weights, at least one chunk each, summing to n
    sources = max(1, min(sources, n))
    weights = rng.lognormal(0.0, 1.0, size=sources)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * n)).astype(int)
    while sizes.sum() > n:
        sizes[np.argmax(sizes)] -= 1
    sizes[np.argmax(sizes)] += n - sizes.sum()
    source_of = np.repeat(np.arange(sources), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.arange(n) - starts[source_of]
    titles, uris = [], []
    for s, start in enumerate(starts):
        title = seed.doc_titles[int(seed.doc_of[seed_of[start]])]
        titles.append(f"{title} (bench source {s})"[:500])
        uris.append(f"bench://source-{s:05d}/{hashlib.sha1(title.encode()).hexdigest()[:8]}")
    return Synthetic(vectors, seed_of, source_of, position, titles, uris, noise, cosine)
