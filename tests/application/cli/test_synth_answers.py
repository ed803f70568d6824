"""``docstune synth --answers``: reference answers written by the configured LLM (the real anthropic SDK and
OpenAI-compatible client talking to the local fake servers), and one clear line when there is none."""
import json

import pytest
from click.testing import CliRunner

from application.commands.training import synth
from tests.application.llm.fake_llm_servers import Reply
from tests.training.conftest import chunk_texts, environment, write_jsonl  # noqa: F401  (environment: a fixture)



@pytest.fixture
def corpus(tmp_path):
    chunks = {cid: text for cid, text in list(chunk_texts().items())[:3]}
    return write_jsonl(tmp_path / "chunks.jsonl", [{"chunk_id": cid, "text": text} for cid, text in chunks.items()]), chunks


def run_synth(corpus_file, out, *extra):
    return CliRunner().invoke(synth, ["--corpus", str(corpus_file), "--out", str(out), "--questions-per-chunk", "1",
                                      "--offline", *extra])


def test_anthropic_writes_one_reference_answer_per_question_from_its_chunk(environment, corpus, fake_anthropic,
                                                                          tmp_path):
    environment(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake_anthropic.base_url, ANTHROPIC_MODEL="claude-test",
                LLM_MAX_RETRIES="0")
    corpus_file, chunks = corpus
    fake_anthropic.enqueue(*(Reply(f"Answer number {i} [1].") for i in range(3)))
    out = tmp_path / "synthetic.json"

    result = run_synth(corpus_file, out, "--answers")

    assert result.exit_code == 0, result.output
    assert f"Wrote 3 inverse_cloze questions and 3 reference answers by anthropic/claude-test for 3 chunks to {out}" \
        in result.output
    data = json.loads(out.read_text())
    qids = list(data["queries"])
    assert data["answers"] == {qid: f"Answer number {i}." for i, qid in enumerate(qids)}  # [n] markers removed
    asked = fake_anthropic.requests
    assert len(asked) == 3
    for qid, request in zip(qids, asked):
        cid = data["relevant_docs"][qid][0]
        body = request["body"]
        # the chat's own prompt: its system text with the chunk as source [1], the question as the user turn
        assert "Answer only from the numbered sources below" in body["system"]
        assert body["system"].endswith(f"Sources:\n\n[1] {cid}\n{chunks[cid]}")  # the one source
        assert body["messages"] == [{"role": "user", "content": data["queries"][qid]}]


def test_an_openai_compatible_server_named_by_openai_base_url_writes_them_too(environment, corpus, fake_openai,
                                                                              tmp_path):
    environment(OPENAI_BASE_URL=fake_openai.base_url, OPENAI_MODEL="local-test")
    corpus_file, _ = corpus
    out = tmp_path / "synthetic.json"

    result = run_synth(corpus_file, out, "--answers")

    assert result.exit_code == 0, result.output
    assert "and 3 reference answers by openai_compatible/local-test" in result.output
    data = json.loads(out.read_text())
    assert data["answers"] == {qid: "The documents answer this." for qid in data["queries"]}
    assert len(fake_openai.requests) == 3 and fake_openai.requests[0]["path"] == "/v1/chat/completions"


def test_without_an_llm_answers_are_refused_in_one_line_and_nothing_is_written(environment, corpus, tmp_path):
    corpus_file, _ = corpus
    out = tmp_path / "synthetic.json"

    result = run_synth(corpus_file, out, "--answers")

    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: --answers needs an LLM")
    assert "set ANTHROPIC_API_KEY or OPENAI_BASE_URL" in lines[0]
    assert "docstune eval-answers --reference relevant-chunk" in lines[0]
    assert not out.exists()


def test_an_llm_that_fails_is_one_line_and_nothing_is_written(environment, corpus, fake_anthropic, tmp_path):
    from tests.application.llm.fake_llm_servers import Status

    environment(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake_anthropic.base_url, LLM_MAX_RETRIES="0")
    corpus_file, _ = corpus
    fake_anthropic.enqueue(Reply("Fine [1]."), Status(401, "invalid x-api-key"))
    out = tmp_path / "synthetic.json"

    result = run_synth(corpus_file, out, "--answers")

    assert result.exit_code == 1 and "Traceback" not in result.output
    last = [line for line in result.output.splitlines() if line.strip()][-1]
    assert last.startswith("Error: The LLM failed on question") and "(1 answered, nothing written)" in last
    assert not out.exists()


def test_without_answers_the_ir_json_has_no_answers_key(environment, corpus, tmp_path):
    corpus_file, _ = corpus
    out = tmp_path / "synthetic.json"
    assert run_synth(corpus_file, out).exit_code == 0
    assert "answers" not in json.loads(out.read_text())
