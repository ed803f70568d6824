"""The offline answerer: best-matching sentences of the retrieved chunks, cited, on the bundled model."""
import pytest

from application.llm import PromptTemplate, cited_numbers
from application.llm.extractive import INTRO, NOTHING_INDEXED, WEAK_MATCH, ExtractiveLLM, split_sentences
from application.retrieval.hits import SearchHit
from plugins import load_embeddings


@pytest.fixture(scope="module")
def llm():
    return ExtractiveLLM(lambda: load_embeddings("all-MiniLM-L6-v2"))


def hit(n, text, title):
    return SearchHit(f"c-{n}", f"s-{n}", text, 0.5, n, title, f"{title}.md", None, 0)


HITS = [
    hit(1, "# Shipping\nWe ship to every country in the EU. Parcels to Norway take three working days.", "shipping"),
    hit(2, "Refunds are paid back to the original card within 14 days of the request. "
           "The office cat is called Miso and sleeps on the printer.", "refunds"),
]


def test_it_quotes_the_sentence_that_answers_and_cites_its_source(llm):
    answer = llm.complete(PromptTemplate.load().render("How many days until I get my refund?", HITS))

    assert answer.startswith(INTRO)
    assert "Refunds are paid back to the original card within 14 days of the request. [2]" in answer
    assert "Miso" not in answer
    assert 2 in cited_numbers(answer, len(HITS))


def test_it_says_plainly_when_nothing_was_retrieved(llm):
    assert llm.complete(PromptTemplate.load().render("Anything?", [])) == NOTHING_INDEXED


def test_a_weak_match_is_offered_as_the_closest_passage_not_as_an_answer(llm):
    answer = llm.complete(PromptTemplate.load().render("Quantum chromodynamics lattice gauge theory", HITS))
    assert answer.startswith(WEAK_MATCH)


def test_the_answer_is_streamed_in_word_pieces(llm):
    pieces = list(llm.stream(PromptTemplate.load().render("refund days", HITS)))
    assert len(pieces) > 10 and "".join(pieces) == llm.complete(PromptTemplate.load().render("refund days", HITS))


def test_headings_and_list_markers_are_not_quoted():
    assert split_sentences("# Title here\n- First item is long. Second one too.") == [
        "Title here", "First item is long.", "Second one too."
    ]
