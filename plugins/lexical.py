"""The lexical signal: BM25 term weights as sparse vectors, next to the dense embedding.

A chunk's sparse vector holds, per token, BM25's saturated term frequency
``tf·(k+1) / (tf + k·(1 - b + b·len/avg_len))``; the engine (Qdrant, ``Modifier.IDF``) multiplies
in the inverse document frequency over the collection at query time, so a document's vector
never changes when others are added. Tokens are Qdrant's own: Qdrant Edge's ``Bm25``
(lowercase words, English stop words, Snowball stemmer), with token id
``abs(murmur3_32(token))`` — the ids fastembed's ``Qdrant/bm25`` and the Qdrant server's BM25
use, so the same text gets the same vector in every process, on every machine, in Edge and on
a server (``tests/plugins/test_lexical.py`` checks the ids against ``mmh3``).

Example::

    encoder = load_lexical("bm25-en")
    encoder.embed_documents(["Refunds are paid within five days."])[0].indices
    encoder.embed_query("how do refunds work").indices
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LEXICAL = "bm25-en"


@dataclass(frozen=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class TokenizerSpec:
    """How text becomes tokens; ``version`` changes whenever a stored vector would."""

    language: str = "english"
    stem: bool = True
    k: float = 1.2
    b: float = 0.75
    # a fixed expected chunk length in tokens (after stop words): a corpus statistic would change
    # every stored vector as documents are added. ~ what a 254-token MiniLM chunk keeps.
    avg_len: float = 150.0

    @property
    def version(self) -> str:
        return (f"qdrant-edge-bm25:{self.language}:{'snowball' if self.stem else 'nostem'}"
                f":k{self.k:g}:b{self.b:g}:avg{self.avg_len:g}")


# the tokenizers a deployment may choose (LEXICAL_TOKENIZER); one definition, imported everywhere
LEXICAL_TOKENIZERS: dict[str, TokenizerSpec] = {
    "bm25-en": TokenizerSpec(),
    "bm25-en-nostem": TokenizerSpec(stem=False),
}


class LexicalEncoder:
    """BM25 sparse vectors from Qdrant Edge's tokenizer (offline, no server, deterministic)."""

    def __init__(self, name: str, spec: TokenizerSpec):
        from qdrant_edge import Bm25, Bm25Config, DisabledStemmer

        self.name, self.spec = name, spec
        options = {"k": spec.k, "b": spec.b, "avg_len": spec.avg_len, "language": spec.language}
        if not spec.stem:
            options["stemmer"] = DisabledStemmer()
        self._bm25 = Bm25(Bm25Config(**options))

    @property
    def version(self) -> str:
        return self.spec.version

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        return [self._convert(self._bm25.embed_document(text)) for text in texts]

    def embed_query(self, text: str) -> SparseVector:
        return self._convert(self._bm25.embed_query(text))

    @staticmethod
    def _convert(vector) -> SparseVector:
        return SparseVector(list(vector.indices), [float(v) for v in vector.values])


_loaded: dict[str, LexicalEncoder] = {}


def load_lexical(name: str = DEFAULT_LEXICAL) -> LexicalEncoder:
    """The encoder ``name`` (one of ``LEXICAL_TOKENIZERS``), built once per process."""
    if name not in LEXICAL_TOKENIZERS:
        raise ValueError(f"Unknown lexical tokenizer {name!r}; one of: {', '.join(LEXICAL_TOKENIZERS)}")
    encoder = _loaded.get(name)
    if encoder is None:
        encoder = _loaded[name] = LexicalEncoder(name, LEXICAL_TOKENIZERS[name])
    return encoder
