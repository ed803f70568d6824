"""The offline answerer: whole sentences (or a whole table or list) of the retrieved chunks, each cited,
on the bundled model."""
import re
import threading

import pytest

from application.llm import PromptTemplate, cited_numbers
from application.llm.extractive import (
    INTRO, NOTHING_INDEXED, WEAK_MATCH, ExtractiveLLM, is_enumeration_question, split_sentences,
)
from application.retrieval.hits import SearchHit
from plugins import load_embeddings


@pytest.fixture(scope="module")
def llm():
    return ExtractiveLLM(lambda: load_embeddings("all-MiniLM-L6-v2"))


def hit(n, text, title, headings=()):
    return SearchHit(f"c-{n}", f"s-{n}", text, 0.5, n, title, f"{title}.md", None, 0, headings=list(headings))


def ask(llm, question, hits):
    return llm.complete(PromptTemplate.load().render(question, hits))


HITS = [
    hit(1, "# Shipping\nWe ship to every country in the EU. Parcels to Norway take three working days.", "shipping"),
    hit(2, "Refunds are paid back to the original card within 14 days of the request. "
           "The office cat is called Miso and sleeps on the printer.", "refunds"),
]

EXPORTS = hit(1, (
    "Exports\n\n"
    "Reports can be exported from the admin page. Each export is written in one of the\n"
    "formats below and kept for thirty days.\n\n"
    "| format | what it holds | opened with |\n"
    "|---|---|---|\n"
    "| CSV | one row per answer, with its rating | any spreadsheet |\n"
    "| JSON Lines | one record per conversation | jq, pandas |\n"
    "| PDF | a printable summary with charts | a PDF reader |\n"
), "reports", ["Exports"])

SETTINGS = hit(2, (
    "The exporter is configured with environment variables:\n\n"
    "* `EXPORT_DIR`: the folder the exports are written to.\n"
    "* `EXPORT_KEEP_DAYS` (30): how long an export is kept before it is deleted.\n"
    "* `EXPORT_MAX_ROWS` (100,000): rows written per export; the rest is left out with a warning.\n"
), "configuration")


def claims(answer):
    """Each quoted sentence, list item or table of an answer (with its citation), as answer evaluation
    cuts an answer into claims (``application.answer_eval.faithfulness``: one definition)."""
    from application.answer_eval.faithfulness import claims_of

    return [claim.text + "".join(f" [{n}]" for n in claim.cited) for claim in claims_of(answer, 99)]


def test_it_quotes_the_sentence_that_answers_and_cites_its_source(llm):
    answer = ask(llm, "How many days until I get my refund?", HITS)

    assert answer.startswith(INTRO)
    assert "Refunds are paid back to the original card within 14 days of the request. [2]" in answer
    assert "Miso" not in answer
    assert 2 in cited_numbers(answer, len(HITS))


def test_it_says_plainly_when_nothing_was_retrieved(llm):
    assert ask(llm, "Anything?", []) == NOTHING_INDEXED


def test_a_weak_match_is_offered_as_the_closest_passage_not_as_an_answer(llm):
    answer = ask(llm, "Quantum chromodynamics lattice gauge theory", HITS)
    assert answer.startswith(WEAK_MATCH)
    assert re.search(r"\[\d\]$", answer)


def test_the_answer_is_streamed_in_pieces_of_a_few_words_that_end_at_line_ends(llm):
    answer = ask(llm, "refund days", HITS)
    pieces = list(llm.stream(PromptTemplate.load().render("refund days", HITS)))
    assert "".join(pieces) == answer
    assert 3 < len(pieces) < len(answer.split())  # several frames, fewer than one per word
    assert all(1 <= len(piece.split()) <= 8 for piece in pieces)
    assert all("\n" not in piece.rstrip("\n") for piece in pieces)  # a line break ends a piece


def test_a_table_that_answers_a_which_question_is_quoted_whole_with_its_citation(llm):
    answer = ask(llm, "Which formats can reports be exported in?", [SETTINGS, EXPORTS])

    table = "\n".join(line for line in EXPORTS.text.splitlines() if line.startswith("|"))
    assert f"{table}\n\n[2]" in answer  # header, rule and every row, in order, then the citation in a paragraph
    assert "Exports\n" not in answer  # the section's heading line is not quoted


def test_a_list_that_answers_a_what_question_is_quoted_whole_each_item_cited(llm):
    answer = ask(llm, "What settings does the exporter have?", [EXPORTS, SETTINGS])

    assert ("- `EXPORT_DIR`: the folder the exports are written to. [2]\n"
            "- `EXPORT_KEEP_DAYS` (30): how long an export is kept before it is deleted. [2]\n"
            "- `EXPORT_MAX_ROWS` (100,000): rows written per export; the rest is left out with a warning. [2]"
            ) in answer
    assert "The exporter is configured with environment variables:\n\n- `EXPORT_DIR`" in answer


def test_a_question_for_one_fact_gets_a_sentence_not_the_whole_list(llm):
    answer = ask(llm, "How long is an export kept before it is deleted?", [SETTINGS])

    assert "EXPORT_KEEP_DAYS" in answer
    assert "EXPORT_MAX_ROWS" not in answer and "EXPORT_DIR`:" not in answer


def test_hard_wrapped_lines_are_quoted_as_one_sentence(llm):
    answer = ask(llm, "How long are exports kept?", [EXPORTS])

    assert "Each export is written in one of the formats below and kept for thirty days. [1]" in answer


def test_short_pieces_of_sentences_cut_by_the_chunk_boundaries_are_never_quoted(llm):
    cut = hit(1, "ingested twice is skipped because its bytes did not change. A document is re-read when "
                 "its bytes change, and only its changed chunks are embedded again. Ingesting a file whose "
                 "bytes", "sync")
    answer = ask(llm, "When is a document ingested again?", [cut])

    assert "A document is re-read when its bytes change, and only its changed chunks are embedded again. [1]" in answer
    assert "ingested twice is skipped" not in answer
    assert "Ingesting a file whose bytes" not in answer


def test_link_only_lines_headings_and_code_are_not_quoted_and_links_lose_their_syntax(llm):
    chunk = hit(1, (
        "## Installing\n\n"
        "[docs/install.md](docs/install.md)\n\n"
        "```sh\npip install docstune  # installs the package with its command\n```\n\n"
        "Install the package with pip; see [the install guide](docs/install.md) for the system packages it needs.\n"
    ), "readme")
    answer = ask(llm, "How do I install the package?", [chunk])

    assert "- Install the package with pip; see the install guide for the system packages it needs. [1]" in answer
    assert "](" not in answer and "Installing" not in answer and "pip install docstune" not in answer


def test_a_table_whose_header_is_in_another_chunk_is_not_quoted(llm):
    rows = hit(1, "| JSON Lines | one record per conversation | jq, pandas |\n"
                  "| PDF | a printable summary with charts | a PDF reader |\n\n"
                  "Exports older than thirty days are deleted by the nightly job.", "reports")
    answer = ask(llm, "Which formats can reports be exported in?", [rows])

    assert "|" not in answer


def test_every_quote_carries_a_citation_of_a_retrieved_source(llm):
    hits = [EXPORTS, SETTINGS, *HITS]
    for question in ("Which formats can reports be exported in?", "What settings does the exporter have?",
                     "How are refunds paid?", "Where do you ship?"):
        answer = ask(llm, question, hits)
        quoted = claims(answer)
        assert quoted, answer
        for claim in quoted:
            assert cited_numbers(claim, len(hits)), f"{question!r}: {claim!r} cites nothing"


def test_enumeration_questions_are_told_from_questions_for_one_fact():
    assert is_enumeration_question("Which file formats can I ingest?")
    assert is_enumeration_question("What options does the sync command take?")
    assert is_enumeration_question("What kinds of sources are there?")
    assert is_enumeration_question("List the settings of the exporter")
    assert not is_enumeration_question("What is the market value of the stock?")
    assert not is_enumeration_question("What does this setting do?")
    assert not is_enumeration_question("How do refunds work?")


def test_sentences_are_whole_and_free_of_markup():
    assert split_sentences("# Title here\n- First item is long. Second one too.\n\nA wrapped\nline ends here.") == [
        "First item is long.", "Second one too.", "A wrapped line ends here."
    ]
    # text extracted from a PDF often glues a sentence to the next one
    assert split_sentences("Revenue grew by ten percent.Further, costs fell.") == [
        "Revenue grew by ten percent.", "Further, costs fell."
    ]


def test_a_chunk_that_starts_with_a_lowercase_name_is_not_taken_for_a_cut(llm):
    chunk = hit(1, "apt-cacher keeps one copy of every package your machines download. It saves bandwidth.",
                "faq")
    answer = ask(llm, "What does apt-cacher keep?", [chunk])

    assert "- apt-cacher keeps one copy of every package your machines download." in answer


def test_passages_without_a_whole_sentence_are_offered_as_the_closest_passage(llm):
    flattened = hit(1, "Total revenue 3,208,323 2,364,681 Cost of revenue 1,649,532 1,447,516 Operations and support "
                       "402,233 453,963 Research and development 911,946 909,126", "statements")
    answer = ask(llm, "What was the total revenue?", [flattened])

    assert answer.startswith(WEAK_MATCH) and answer.endswith("[1]")


CLAUSE = ("the Employee hereby forever waives and agrees never to assert any and all Moral Rights the Employee may "
          "have in or with respect to any Assigned Inventions, even after termination of the work on behalf of the "
          "Company, and agrees that such waiver survives any assignment of the Assigned Inventions to a successor of "
          "the Company, whether by merger, acquisition or operation of law")


def test_a_long_passage_cut_by_a_chunk_boundary_is_quoted_with_an_ellipsis_where_it_is_cut(llm):
    starts_cut = hit(1, CLAUSE + ". The Company may register the inventions in its own name.", "agreement")
    answer = ask(llm, "Does the employee waive moral rights in the assigned inventions?", [starts_cut])

    assert "- … the Employee hereby forever waives and agrees never to assert any and all Moral Rights" in answer
    assert answer.rstrip().endswith("[1]")

    ends_cut = hit(2, "Moral Rights are waived as follows. As of the start date, " + CLAUSE + ", provided that", "agreement")
    answer = ask(llm, "Does the employee waive moral rights in the assigned inventions?", [ends_cut])

    quoted = next(line for line in answer.splitlines() if "Moral Rights the Employee" in line)
    assert quoted.endswith("… [1]") and "provided that" in quoted  # the cut is marked, the words are the chunk's


def test_a_passage_longer_than_the_limit_is_cut_at_a_word_with_an_ellipsis():
    llm = ExtractiveLLM(lambda: load_embeddings("all-MiniLM-L6-v2"), passage_chars=120)
    answer = ask(llm, "Does the employee waive moral rights?", [hit(1, CLAUSE + " and", "agreement")])

    quoted = next(line for line in answer.splitlines() if "Moral Rights" in line)
    text = quoted.removeprefix("- … ").removesuffix(" … [1]")
    assert len(text) <= 120 and CLAUSE.startswith(text) and CLAUSE[len(text)] == " "


def test_the_sentences_are_embedded_by_the_thread_that_embeds_the_questions(monkeypatch):
    """One model thread serves every request (plugins/batching.py): the answerer hands its sentences to the
    question batcher's worker instead of running the model on the request's thread. A table or a list is
    not embedded for a question it cannot answer (not an enumeration)."""
    embeddings = load_embeddings("all-MiniLM-L6-v2")
    model = embeddings.model
    original, seen = model.encode, []

    def recording(texts, *args, **kwargs):
        seen.append((threading.current_thread().name, list(texts)))
        return original(texts, *args, **kwargs)

    monkeypatch.setattr(model, "encode", recording)
    fresh = ExtractiveLLM(lambda: embeddings)  # an empty sentence cache
    answer = ask(fresh, "How long is an export kept?", [EXPORTS, SETTINGS])

    assert "kept for thirty days" in answer or "EXPORT_KEEP_DAYS" in answer
    assert seen and {name for name, _ in seen} == {embeddings.query_batcher()._worker.name}
    encoded = [text for _, texts in seen for text in texts]
    assert not any("| CSV" in text or "CSV one row per answer" in text for text in encoded)  # the table
    assert not any(text.count("EXPORT_") > 1 for text in encoded)  # the list as one block
    assert any("EXPORT_KEEP_DAYS" in text for text in encoded)  # its items, as sentences
