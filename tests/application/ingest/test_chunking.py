"""Chunks follow sections: none crosses one, the first of each starts with its heading line, the heading is
never a chunk of its own, every chunk fits the model, and a chunk's id is its text's."""
import pytest

from application.ingest.chunking import Chunker, chunk_id_for, chunk_ids_for
from application.ingest.parsers import ParsedDocument, Section


@pytest.fixture(scope="module")
def chunker():
    from plugins import load_embeddings

    return Chunker(load_embeddings("all-MiniLM-L6-v2"))


def test_a_long_section_starts_with_its_heading_and_the_heading_is_never_alone(chunker):
    long = " ".join(f"Sentence {i} tells how refunds reach the original card." for i in range(90))
    document = ParsedDocument("Handbook", "md", [
        Section(long, headings=("Refund policy",)),
        Section("Bikes are parked in the basement.", headings=("Office", "Parking"), location="page 2"),
    ])
    drafts = chunker.split(document)
    refunds = [d for d in drafts if d.headings == ("Refund policy",)]
    assert len(refunds) >= 3
    assert refunds[0].text.startswith("Refund policy\n\nSentence 0 ")
    assert all(d.text.strip() != "Refund policy" for d in drafts)
    assert all(d.token_count <= chunker.chunk_tokens for d in drafts)
    parking = drafts[-1]
    assert parking.text == "Parking\n\nBikes are parked in the basement."
    assert parking.headings == ("Office", "Parking") and parking.location == "page 2"
    assert [d.position for d in drafts] == list(range(len(drafts)))


def test_a_chunk_id_is_its_text_and_repeats_are_numbered():
    ids = chunk_ids_for("doc", ["same", "other", "same"])
    assert ids[0] == chunk_id_for("doc", "same", 0) and ids[2] == chunk_id_for("doc", "same", 1)
    assert len(set(ids)) == 3
    assert chunk_id_for("doc", "same") != chunk_id_for("another doc", "same")
