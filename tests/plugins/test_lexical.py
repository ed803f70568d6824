"""The lexical encoder: Qdrant's BM25 tokens, the same ids in every process, ids that are
``abs(murmur3_32(token))`` (what fastembed's Qdrant/bm25 and the Qdrant server use)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from plugins.lexical import LEXICAL_TOKENIZERS, load_lexical
from tests.live_server import ROOT

TEXT = "Refunds are refunded to the original card within five business days; refunding takes time."


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86_32, signed, written out so the test needs no hashing package."""
    c1, c2, h, length = 0xCC9E2D51, 0x1B873593, seed, len(data)
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & 0xFFFFFFFF  # noqa: E731
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = rotl((k * c1) & 0xFFFFFFFF, 15) * c2 & 0xFFFFFFFF
        h = (rotl(h ^ k, 13) * 5 + 0xE6546B64) & 0xFFFFFFFF
    tail, k = data[length - length % 4:], 0
    for i, byte in enumerate(tail):
        k |= byte << (8 * i)
    if tail:
        h ^= rotl((k * c1) & 0xFFFFFFFF, 15) * c2 & 0xFFFFFFFF
    h ^= length
    for shift, mult in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
        h = (h ^ (h >> shift)) * mult & 0xFFFFFFFF
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def test_token_ids_are_qdrants_murmur3_of_the_stemmed_words():
    encoder = load_lexical("bm25-en")
    expected = {abs(murmur3_32(word.encode())) for word in ("refund", "origin", "card", "within", "five", "busi", "day", "take",
                                                             "time")}
    assert set(encoder.embed_documents([TEXT])[0].indices) == expected
    # stop words ("are", "to", "the") carry no token; a repeated stem weighs more
    vector = encoder.embed_documents([TEXT])[0]
    weights = dict(zip(vector.indices, vector.values))
    assert weights[abs(murmur3_32(b"refund"))] > weights[abs(murmur3_32(b"card"))] > 0
    assert set(encoder.embed_query("how do refunds work").indices) == {abs(murmur3_32(b"refund")),
                                                                        abs(murmur3_32(b"work"))}


def test_another_process_gets_the_same_vectors():
    code = ("import json; from plugins.lexical import load_lexical; "
            f"v = load_lexical('bm25-en').embed_documents([{TEXT!r}])[0]; "
            "print(json.dumps([v.indices, v.values]))")
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"})
    assert other.returncode == 0, other.stderr
    here = load_lexical("bm25-en").embed_documents([TEXT])[0]
    assert json.loads(other.stdout) == [here.indices, pytest.approx(here.values)]


def test_every_tokenizer_has_its_own_version_and_an_unknown_one_is_refused():
    versions = {load_lexical(name).version for name in LEXICAL_TOKENIZERS}
    assert len(versions) == len(LEXICAL_TOKENIZERS)
    with pytest.raises(ValueError, match="Unknown lexical tokenizer 'klingon'"):
        load_lexical("klingon")
