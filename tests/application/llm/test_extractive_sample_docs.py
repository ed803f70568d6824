"""The offline answer a new user sees first: the repository's own README.md and docs/ (what `make run` ingests),
through the real pipeline and POST /api/answer with LLM_PROVIDER=extractive."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from application.llm import cited_numbers
from application.ingest.parsers import SUPPORTED_EXTENSIONS
from application.llm.extractive import INTRO
from tests.conftest import app_factory

REPO = Path(__file__).resolve().parents[3]
FORMATS_HEADER = "| format | extensions |"


@pytest.fixture(scope="module")
def sample_docs(tmp_path_factory):
    from application.container import DocsTune
    from application.settings import Settings

    data_dir = tmp_path_factory.mktemp("sample-docs") / "data"
    services = DocsTune(Settings(DATA_DIR=data_dir))
    report = services.documents.ingest_paths([REPO / "README.md", REPO / "docs"])
    assert report.ok
    yield services, data_dir
    services.close()


@pytest.fixture(scope="module")
def client(sample_docs):
    from application.settings import Settings

    services, data_dir = sample_docs
    settings = {"DATA_DIR": data_dir, "RATE_LIMIT_ENABLED": False, "LLM_PROVIDER": "extractive",
                "ANTHROPIC_API_KEY": ""}
    with app_factory(services, lambda **overrides: Settings(**{**settings, **overrides})) as make:
        yield make().test_client()


def answer(client, question: str) -> tuple[str, list[dict]]:
    response = client.post("/api/answer", json={"question": question})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["answer"], body["sources"]


def quoted_sentences(text: str) -> list[str]:
    """The quoted bullets of an answer, without their citations."""
    return [re.sub(r"(\s*\[\d+\])+$", "", line[2:]) for line in text.splitlines() if line.startswith("- ")]


def formats_table(text: str) -> list[str]:
    """The rows of the formats table quoted in ``text`` (header and rule left out)."""
    lines = text[text.index(FORMATS_HEADER):].split("\n\n")[0].splitlines()
    assert lines[1] == "|---|---|"
    return lines[2:]


def test_which_formats_can_i_ingest_quotes_the_formats_table_whole(client):
    """The question a new user asks first (issue 26): the answer is the guide's formats table, whole and cited."""
    text, sources = answer(client, "Which file formats can I ingest?")

    assert text.startswith(INTRO)
    rows = formats_table(text)
    quoted = set(re.findall(r"`(\.[a-z]+)`", "\n".join(rows)))
    assert quoted == set(SUPPORTED_EXTENSIONS)  # every row: every format DocsTune reads
    # the citation is the paragraph right after the table, and names the ingestion guide's chunk
    after = text[text.index(rows[-1]) + len(rows[-1]):].lstrip("\n").splitlines()[0]
    cited = re.fullmatch(r"\[(\d+)\]", after)
    assert cited and sources[int(cited.group(1)) - 1]["source"].endswith("ingestion.md")
    # and no dangling fragment, as the answer quoted before: "... for formats and chunking, [2]"
    assert "](" not in text and not re.search(r",\s*\[\d+\]", text)
    for line in text[len(INTRO):].splitlines():
        if line.strip() and not line.startswith("|") and not line.endswith(":"):
            assert cited_numbers(line, len(sources)), f"a quote without a citation: {line!r}"


def test_the_guide_lists_exactly_the_formats_docstune_reads():
    """The formats table of docs/ingestion.md is the answer above: it must not drift from the parsers."""
    guide = (REPO / "docs" / "ingestion.md").read_text(encoding="utf-8")
    table = guide[guide.index(FORMATS_HEADER):].split("\n\n")[0]
    assert set(re.findall(r"`(\.[a-z]+)`", table)) == set(SUPPORTED_EXTENSIONS)


def test_the_first_question_a_new_user_asks_gets_whole_cited_sentences(client):
    text, sources = answer(client, "Which file extensions are supported?")

    assert text.startswith(INTRO)
    assert "](" not in text  # no raw markdown link
    for line in text[len(INTRO):].splitlines():
        if line.strip() and not line.startswith("|") and not line.endswith(":"):
            assert cited_numbers(line, len(sources)), f"a quote without a citation: {line!r}"
    for quote in quoted_sentences(text):
        assert quote[0].isupper() or quote[0] in "`*\"'(", f"starts mid-sentence: {quote!r}"
        assert re.search(r"[.!?)`*]$", quote), f"ends mid-sentence: {quote!r}"
        assert not quote.endswith(","), quote


@pytest.mark.parametrize("question", [
    "How do I add a git repository as a source?",
    "What limits apply when ingesting files?",
    "How does chunking work?",
    "How do I fine-tune the model from feedback?",
])
def test_answers_on_the_sample_docs_quote_only_whole_cited_passages(client, question):
    text, sources = answer(client, question)

    assert "](" not in text and "```" not in text
    for quote in quoted_sentences(text):
        assert not quote[0].islower(), f"{question!r} starts mid-sentence: {quote!r}"
        assert re.search(r"[.!?)`*:]$|\|$", quote), f"{question!r} ends mid-sentence: {quote!r}"
    assert cited_numbers(text, len(sources))
