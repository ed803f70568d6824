"""Synthetic questions written by an LLM: the real anthropic SDK and the OpenAI-compatible client talking to the
local fake servers, through the application's question writer (``application/llm/question_writer.py``):
batching, the per-chunk cache, a chunk asked again alone, retries, the estimate, the inverse-cloze fallback."""
import json
import re
import threading

import pytest
from click.testing import CliRunner

from application.commands.training import synth
from application.llm import configured_llm_provider
from application.llm.question_writer import synthetic_generator_options
from tests.application.llm.fake_llm_servers import FakeAnthropicServer, FakeOpenAIServer, FromRequest, Status
from tests.training.conftest import LLM_VARIABLES, chunk_texts, write_jsonl
from training.records import SyntheticQuery, TrainingDataError
from training.synthetic import LLMQuestionGenerator, generate_synthetic_queries, parse_batch_reply

PASSAGE = re.compile(r'<passage number="(\d+)">\n(.*?)\n</passage>', re.S)


def topic(text: str) -> str:
    return " ".join(text.split()[:3])


def expected_questions(text: str) -> list[str]:
    return [f"What does '{topic(text)}' say?", f"Why does '{topic(text)}' matter?"]


def passages(body: dict) -> list[str]:
    return [text for _, text in PASSAGE.findall(body["messages"][-1]["content"])]


def questions_for(body: dict, leave_out: str | None = None) -> str:
    """The reply the prompt asks for: two questions per passage, each naming the passage's first words."""
    lines = []
    for number, text in enumerate(passages(body), 1):
        if text != leave_out:
            lines += [f"Passage {number}:", *expected_questions(text)]
    return "\n".join(lines)


@pytest.fixture(params=["anthropic", "openai_compatible"])
def llm_server(request, monkeypatch, make_settings):
    """(the fake server of the provider, settings that configure it); every request answered in the asked form."""
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if request.param == "anthropic":
        server = FakeAnthropicServer().start()
        settings = make_settings(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=server.base_url,
                                 SYNTH_MODEL="claude-test", SYNTH_BATCH_SIZE=4)
    else:
        server = FakeOpenAIServer().start()
        settings = make_settings(OPENAI_BASE_URL=server.base_url, OPENAI_MODEL="local-test", SYNTH_BATCH_SIZE=4)
    server.default = FromRequest(questions_for)
    yield server, settings
    server.stop()


def ten_chunks() -> dict[str, str]:
    return dict(list(chunk_texts().items())[:10])


def generate(settings, chunks, **overrides):
    options = {**synthetic_generator_options(settings), "retry_seconds": 0.01, **overrides}
    reports = []
    queries = generate_synthetic_queries(chunks, questions_per_chunk=2, show_progress=False,
                                         announce=reports.append, **options)
    return queries, reports


def test_ten_chunks_in_batches_of_four_take_three_requests_and_each_chunk_gets_its_own_questions(llm_server):
    server, settings = llm_server
    chunks = ten_chunks()

    queries, (estimate, report) = generate(settings, chunks)

    assert len(server.requests) == 3 == estimate.requests == report.requests
    assert sorted(len(passages(r["body"])) for r in server.requests) == [2, 4, 4]
    assert queries == [SyntheticQuery(cid, question, "llm") for cid, text in chunks.items()
                       for question in expected_questions(text)]
    assert (report.written, report.cached, report.fallback, report.retries) == (10, 0, 0, 0)
    body = server.requests[0]["body"]
    assert body["model"] in ("claude-test", "local-test")
    system = body["system"] if "system" in body else body["messages"][0]["content"]
    assert "search evaluation set" in system
    assert "write 2 different" in body["messages"][-1]["content"]


def test_a_rerun_is_served_from_the_per_chunk_cache_whatever_the_batch_size(llm_server):
    server, settings = llm_server
    chunks = ten_chunks()
    first, _ = generate(settings, chunks)

    again, (estimate, report) = generate(settings, chunks, batch_size=3)  # other batches, same cache keys
    assert again == first and len(server.requests) == 3  # nothing new was asked
    assert (estimate.requests, estimate.cached, report.cached, report.requests) == (0, 10, 10, 0)
    assert "all 10 chunks are cached" in estimate.describe()

    chunks["billing-1"] = "Nimbus Notes Pro now costs 9 dollars per month. The yearly plan costs 90 dollars."
    generate(settings, chunks)
    assert len(server.requests) == 4 and passages(server.requests[-1]["body"]) == [chunks["billing-1"]]


def test_requests_go_out_concurrently(llm_server):
    server, settings = llm_server
    together = threading.Barrier(3, timeout=10)  # a handler waits here until three requests are in at once

    def after_the_others(body):
        together.wait()
        return questions_for(body)

    server.default = FromRequest(after_the_others)
    queries, (_, report) = generate(settings, ten_chunks(), concurrency=3, retries=0)
    assert report.requests == 3 and len(queries) == 20


def test_a_chunk_missing_from_a_batch_reply_is_asked_again_alone(llm_server):
    server, settings = llm_server
    chunks = ten_chunks()
    forgotten = chunks["account-1"]

    def forget_it_in_batches(body):
        if len(passages(body)) > 1:
            return questions_for(body, leave_out=forgotten)
        return "\n".join(f"- {q}" for q in expected_questions(passages(body)[0]))  # alone: a bare list

    server.default = FromRequest(forget_it_in_batches)
    queries, (_, report) = generate(settings, chunks)

    assert len(server.requests) == 4 and passages(server.requests[-1]["body"]) == [forgotten]
    assert [q.question for q in queries if q.chunk_id == "account-1"] == expected_questions(forgotten)
    assert (report.asked_again, report.fallback, report.written) == (1, 0, 10)


def test_a_chunk_the_llm_never_writes_for_falls_back_to_inverse_cloze_and_is_counted(llm_server):
    server, settings = llm_server
    chunks = ten_chunks()
    forgotten = chunks["sync-1"]
    server.default = FromRequest(lambda body: questions_for(body, leave_out=forgotten))

    queries, (_, report) = generate(settings, chunks)

    assert {q.method for q in queries if q.chunk_id == "sync-1"} == {"inverse_cloze"}
    assert {q.method for q in queries if q.chunk_id != "sync-1"} == {"llm"}
    assert (report.asked_again, report.fallback, report.written) == (1, 1, 9)
    assert "1 by inverse cloze (the LLM gave no questions)" in report.describe()
    generate(settings, chunks)  # not cached: the next run asks for it again, alone
    assert len(server.requests) == 5 and passages(server.requests[-1]["body"]) == [forgotten]


def test_a_rate_limit_is_retried_with_backoff_and_then_succeeds(llm_server):
    server, settings = llm_server
    server.enqueue(Status(429, "slow down"), Status(429, "slow down"))

    queries, (_, report) = generate(settings, ten_chunks(), batch_size=10)

    assert len(server.requests) == 3 and (report.requests, report.retries, report.written) == (3, 2, 10)
    assert {q.method for q in queries} == {"llm"}


def test_a_rate_limit_that_lasts_fails_with_one_clear_error_after_the_retries(llm_server):
    server, settings = llm_server
    server.enqueue(*[Status(429, "slow down")] * 3)

    with pytest.raises(TrainingDataError, match=r"could not write questions \(after 3 tries\): .*rate limiting us"
                                                r".*run again to go on"):
        generate(settings, ten_chunks(), batch_size=10, retries=2)
    assert len(server.requests) == 3


def test_a_refused_key_is_not_retried(llm_server):
    server, settings = llm_server
    server.enqueue(Status(401, "bad key"))

    with pytest.raises(TrainingDataError, match="could not write questions: .*(ANTHROPIC_API_KEY|OPENAI_API_KEY)"):
        generate(settings, ten_chunks(), batch_size=10, retries=2)
    assert len(server.requests) == 1


def test_the_estimate_counts_the_uncached_chunks_and_prices_their_tokens(llm_server, tmp_path):
    server, settings = llm_server
    chunks = ten_chunks()
    writer = synthetic_generator_options(settings)["llm"]
    generator = LLMQuestionGenerator(writer, cache_dir=tmp_path / "cache", batch_size=4, concurrency=2,
                                     price=(1.0, 2.0))
    before = generator.estimate(chunks)
    assert (before.chunks, before.cached, before.requests, before.measured_rate) == (10, 0, 3, False)
    assert before.output_tokens == 10 * (2 * 30 + 4)
    assert before.usd == pytest.approx((before.input_tokens * 1.0 + before.output_tokens * 2.0) / 1e6)
    rendered = sum(len(generator.system) // 4 + len(generator.render(list(chunks.values())[i:i + 4])) // 4
                   for i in (0, 4, 8))
    assert before.input_tokens == rendered

    generator.generate(dict(list(chunks.items())[:4]), show_progress=False)
    after = generator.estimate(chunks)
    assert (after.cached, after.requests, after.measured_rate) == (4, 2, True)  # 6 left: two batches of four
    assert f"{writer.name}: 6 chunks to write (4 cached) in 2 requests" in after.describe()
    assert "at the measured rate" in after.describe()


def test_the_batch_reply_is_read_back_per_passage():
    reply = "**Passage 1:**\n1. How much is Pro?\n2. Is VAT included?\n\nPassage 3:\n- When do refunds arrive?\nPassage 9:\n- Out of range?"
    assert parse_batch_reply(reply, 3, 2) == {1: ["How much is Pro?", "Is VAT included?"],
                                              3: ["When do refunds arrive?"]}
    assert parse_batch_reply("How much is Pro?\nIs VAT included?", 1, 2) == {1: ["How much is Pro?",
                                                                                    "Is VAT included?"]}
    assert parse_batch_reply("How much is Pro?", 2, 2) == {}  # several passages and no headers: nothing is sure


def test_which_llm_counts_as_configured(make_settings, monkeypatch):
    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert configured_llm_provider(make_settings()) is None
    assert synthetic_generator_options(make_settings()) == {}
    assert configured_llm_provider(make_settings(ANTHROPIC_API_KEY="sk")) == "anthropic"
    assert configured_llm_provider(make_settings(LLM_PROVIDER="openai_compatible")) == "openai_compatible"
    assert configured_llm_provider(make_settings(OPENAI_BASE_URL="http://127.0.0.1:1/v1")) == "openai_compatible"
    options = synthetic_generator_options(make_settings(OPENAI_BASE_URL="http://127.0.0.1:1/v1", OPENAI_MODEL="m",
                                                        SYNTH_CONCURRENCY=2, LLM_PRICES='{"openai_compatible/m": [0, 0]}'))
    assert (options["llm"].name, options["concurrency"], options["batch_size"], options["price"]) == \
        ("openai_compatible/m", 2, 8, (0.0, 0.0))


# -- through the command -------------------------------------------------------------------------
@pytest.fixture
def corpus_file(tmp_path):
    chunks = dict(list(chunk_texts().items())[:3])
    return write_jsonl(tmp_path / "chunks.jsonl", [{"chunk_id": cid, "text": text} for cid, text in chunks.items()])


def run_synth(corpus, out, *extra):
    return CliRunner().invoke(synth, ["--corpus", str(corpus), "--out", str(out), *extra])


def test_docstune_synth_with_an_openai_compatible_server_prints_the_estimate_then_writes_its_questions(
        environment, corpus_file, tmp_path):
    server = FakeOpenAIServer().start()
    server.default = FromRequest(questions_for)
    environment(OPENAI_BASE_URL=server.base_url, OPENAI_MODEL="local-test",
                LLM_PRICES='{"openai_compatible/local-test": [1, 2]}')
    out = tmp_path / "synthetic.json"
    try:
        result = run_synth(corpus_file, out, "--questions-per-chunk", "2")
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        estimate = next(i for i, line in enumerate(lines) if line.startswith("Estimate: "))
        assert re.fullmatch(r"Estimate: openai_compatible/local-test: 3 chunks to write \(0 cached\) in 1 requests, "
                            r"~[\d,]+ input \+ 192 output tokens, ~\$0\.\d{4}, ~\d+ s at the assumed rate",
                            lines[estimate]), lines[estimate]
        done = next(i for i, line in enumerate(lines) if "Done: " in line)  # after the progress bar's last frame
        assert estimate < done and "3 chunks written in 1 requests (0 retries), 0 from the cache" in lines[done]
        assert f"Wrote 6 llm questions for 3 chunks to {out}" in result.output
        data = json.loads(out.read_text())
        asked = [q for text in data["corpus"].values() for q in expected_questions(text)]
        assert sorted(data["queries"].values()) == sorted(asked) and len(server.requests) == 1

        again = run_synth(corpus_file, tmp_path / "again.json", "--questions-per-chunk", "2")
        assert "Estimate: openai_compatible/local-test: all 3 chunks are cached" in again.output
        assert len(server.requests) == 1
    finally:
        server.stop()


def test_the_estimate_comes_before_the_first_request_even_one_that_fails(environment, corpus_file, tmp_path):
    server = FakeAnthropicServer().start()
    server.enqueue(Status(401, "invalid x-api-key"))
    environment(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=server.base_url, ANTHROPIC_MODEL="claude-haiku-4-5")
    try:
        result = run_synth(corpus_file, tmp_path / "out.json")
    finally:
        server.stop()
    assert result.exit_code == 1
    assert "Estimate: anthropic/claude-haiku-4-5: 3 chunks to write (0 cached) in 1 requests" in result.output
    assert "~$0.00" in result.output  # Haiku's price from LLM_PRICES' defaults
    assert result.output.strip().splitlines()[-1] == (
        "Error: anthropic/claude-haiku-4-5 could not write questions: The Anthropic API refused the API key (401): "
        "check ANTHROPIC_API_KEY. The questions written so far are cached: run again to go on.")
    assert not (tmp_path / "out.json").exists()


def test_without_an_llm_synth_uses_inverse_cloze_and_asks_nobody(environment, corpus_file, tmp_path):
    out = tmp_path / "synthetic.json"
    result = run_synth(corpus_file, out, "--questions-per-chunk", "1")
    assert result.exit_code == 0, result.output
    assert "Estimate" not in result.output and f"Wrote 3 inverse_cloze questions for 3 chunks to {out}" in result.output


def test_offline_ignores_a_configured_llm(environment, corpus_file, tmp_path):
    environment(OPENAI_BASE_URL="http://127.0.0.1:9/v1")  # nothing listens there: a request would fail
    result = run_synth(corpus_file, tmp_path / "out.json", "--offline")
    assert result.exit_code == 0 and "inverse_cloze questions" in result.output and "Estimate" not in result.output


# -- the retrain job ----------------------------------------------------------------------------
def test_the_retrain_job_writes_its_synthetic_questions_with_the_configured_llm(make_settings, monkeypatch):
    from application.container import DocsTune
    from application.db.models import Chunk, Source
    from application.jobs.contract import JobContext
    from application.jobs.handlers import _add_synthetic
    from application.jobs.store import JobStore
    from training.pipeline import PreparedData
    from training.records import IRDataset, TrainingSet

    for name in LLM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    server = FakeOpenAIServer().start()
    server.default = FromRequest(questions_for)
    app = DocsTune(make_settings(OPENAI_BASE_URL=server.base_url, OPENAI_MODEL="local-test", SYNTH_BATCH_SIZE=4))
    try:
        chunks = ten_chunks()
        with app.db.session() as session:
            session.add(Source(id="help", uri="file:///help.md", title="Help", kind="file", content_hash="h",
                               size_bytes=1, chunk_count=len(chunks)))
            for position, (cid, text) in enumerate(chunks.items()):
                session.add(Chunk(id=cid, source_id="help", position=position, text=text, content_hash=cid,
                                  token_count=40))
        store = JobStore(app.db)
        job = store.create("retrain", {"include_synthetic": True})
        context = JobContext(store, job["id"], job["params"], lambda kind, params: {})
        held_out = IRDataset({"q": "How much is Pro?"}, dict(chunks), {"q": ["billing-1"]})
        prepared = PreparedData("feedback", TrainingSet(positives=[]), held_out, [], "mnrl", {})

        _add_synthetic(app, context, prepared)

        assert len(server.requests) == 3  # nine chunks (not the held-out one) in batches of four
        assert len(prepared.train.positives) == 18 and prepared.stats["synthetic_positives"] == 18
        assert chunks["billing-1"] not in {text for _, text in prepared.train.positives}  # held out: not asked
        written = prepared.stats["synthetic_llm"]
        assert (written["written"], written["requests"], written["fallback"]) == (9, 3, 0)
        assert (written["estimate"]["requests"], written["estimate"]["cached"]) == (3, 0)
        assert store.get(job["id"])["progress"]["message"].startswith(
            "wrote synthetic questions: openai_compatible/local-test: 9 chunks written in 3 requests")
    finally:
        app.close()
        server.stop()


def test_train_synthetic_prepares_its_data_with_the_llm_and_says_how(llm_server):
    from training.pipeline import prepare_from_synthetic

    server, settings = llm_server
    heard = []
    options = {**synthetic_generator_options(settings), "announce": heard.append}
    prepared = prepare_from_synthetic(ten_chunks(), held_out_fraction=0.2, seed=42, questions_per_chunk=2,
                                      show_progress=False, **options)
    assert prepared.stats["method"] == "llm" and len(server.requests) == 3
    assert len(prepared.train) + len(prepared.held_out.queries) == 20
    assert [type(news).__name__ for news in heard] == ["SynthEstimate", "SynthReport"]
