"""The LLM judge against the fake Anthropic and OpenAI-compatible servers: its replies, a reply that is no
score, a timeout and a rate limit (retried, then reported), and a cached re-run that makes no call."""
import pytest

from application.answer_eval.judge import Judge, create_judge, judge_llm, parse_score
from application.llm.anthropic_llm import AnthropicLLM
from application.llm.openai_compatible import OpenAICompatibleLLM
from tests.application.llm.fake_llm_servers import Hang, Reply, Status


def anthropic_judge(server, tmp_path, **options) -> Judge:
    llm = AnthropicLLM(api_key="sk-ant-test", model="claude-judge", base_url=server.base_url, timeout=5,
                       max_retries=0, temperature=0.0)
    return Judge(llm, tmp_path / "cache", **{"retries": 2, "retry_seconds": 0, **options})


def openai_judge(server, tmp_path, **options) -> Judge:
    llm = OpenAICompatibleLLM(base_url=server.base_url, model="judge-model", timeout=5, temperature=0.0)
    return Judge(llm, tmp_path / "cache", **{"retries": 2, "retry_seconds": 0, **options})


def test_claude_scores_an_answer_with_the_prompt_file(fake_anthropic, tmp_path):
    fake_anthropic.enqueue(Reply("SCORE: 0.75\nREASON: Gives the 14 days but not the card."))

    verdict = anthropic_judge(fake_anthropic, tmp_path).score("How long do refunds take?",
                                                              "Within 14 days, to the paying card.", "14 days [1].")

    assert (verdict.score, verdict.reason) == (0.75, "Gives the 14 days but not the card.")
    body = fake_anthropic.requests[-1]["body"]
    # temperature 0 where the SDK still sends one (anthropic 2.x has no such parameter; the cache keeps re-runs equal)
    assert body.get("temperature", 0.0) == 0.0 and body["model"] == "claude-judge"
    asked = body["messages"][0]["content"]
    assert "Within 14 days, to the paying card." in asked and "14 days [1]." in asked
    assert "SCORE:" in body["system"]


def test_an_openai_compatible_server_judges_too(fake_openai, tmp_path):
    fake_openai.enqueue(Reply('{"score": 1, "reason": "Same facts."}'))

    verdict = openai_judge(fake_openai, tmp_path).score("q", "reference", "answer")

    assert (verdict.score, verdict.reason) == (1.0, "Same facts.")
    assert fake_openai.requests[-1]["body"]["temperature"] == 0.0


@pytest.mark.parametrize("reply", ["I think it is quite good.", "SCORE: 7\nREASON: out of ten?", ""])
def test_a_reply_that_is_not_a_score_leaves_the_question_unjudged_with_the_reason(fake_anthropic, tmp_path, reply):
    fake_anthropic.enqueue(Reply(reply or " "))

    verdict = anthropic_judge(fake_anthropic, tmp_path).score("q", "reference", "answer")

    assert verdict.score is None
    assert "judge" in verdict.reason and ("no score" in verdict.reason or "not from 0 to 1" in verdict.reason)


def test_scores_are_read_in_the_shapes_judges_write():
    assert parse_score("Score: 0.5\nReason: half of it.") == (0.5, "half of it.")
    assert parse_score("**SCORE:** 8/10\nREASON: close") == (0.8, "close")
    assert parse_score("1") == (1.0, "(no reason given)")
    assert parse_score("SCORE: -0.2")[0] is None


def test_a_rate_limit_is_retried_and_then_succeeds(fake_anthropic, tmp_path):
    fake_anthropic.enqueue(Status(429, "slow down"), Reply("SCORE: 0.5\nREASON: partly."))

    verdict = anthropic_judge(fake_anthropic, tmp_path).score("q", "reference", "answer")

    assert verdict.score == 0.5
    assert len(fake_anthropic.requests) == 2


def test_a_rate_limit_that_persists_is_reported_after_the_retries(fake_openai, tmp_path):
    fake_openai.enqueue(Status(429), Status(429), Status(429))

    verdict = openai_judge(fake_openai, tmp_path).score("q", "reference", "answer")

    assert verdict.score is None
    assert "after 3 tries" in verdict.reason and "rate limiting" in verdict.reason
    assert len(fake_openai.requests) == 3


def test_a_timeout_is_retried_then_reported(fake_anthropic, tmp_path):
    fake_anthropic.enqueue(Hang(3), Hang(3))
    llm = AnthropicLLM(api_key="k", model="m", base_url=fake_anthropic.base_url, timeout=0.5, max_retries=0,
                       temperature=0.0)

    verdict = Judge(llm, tmp_path / "cache", retries=1, retry_seconds=0).score("q", "reference", "answer")

    assert verdict.score is None and "timed out" in verdict.reason and "after 2 tries" in verdict.reason


def test_a_rerun_is_answered_from_the_cache_without_a_call(fake_anthropic, tmp_path):
    fake_anthropic.enqueue(Reply("SCORE: 0.25\nREASON: mostly wrong."))
    first = anthropic_judge(fake_anthropic, tmp_path).score("q", "reference", "answer")
    calls = len(fake_anthropic.requests)

    again = anthropic_judge(fake_anthropic, tmp_path)
    second = again.score("q", "reference", "answer")

    assert (second.score, second.reason, second.cached) == (first.score, first.reason, True)
    assert len(fake_anthropic.requests) == calls and again.calls == 0
    # another answer is another question for the judge
    again.score("q", "reference", "another answer")
    assert len(fake_anthropic.requests) == calls + 1


def test_support_is_a_yes_or_no(fake_anthropic, tmp_path):
    fake_anthropic.enqueue(Reply("YES"), Reply("No."), Reply("maybe"))
    judge = anthropic_judge(fake_anthropic, tmp_path)

    assert judge.supports("Refunds take 14 days.", "Refunds are paid within 14 days.") is True
    assert judge.supports("Refunds take a year.", "Refunds are paid within 14 days.") is False
    assert judge.supports("Something.", "Other.") is None


def test_the_judge_follows_the_settings(make_settings, fake_anthropic):
    assert judge_llm(make_settings())[0] is None
    assert "ANTHROPIC_API_KEY" in judge_llm(make_settings())[1]
    llm, note = judge_llm(make_settings(ANTHROPIC_API_KEY="sk-ant-x", ANTHROPIC_BASE_URL=fake_anthropic.base_url,
                                        JUDGE_MODEL="claude-haiku-9"))
    assert note is None and llm.name == "anthropic/claude-haiku-9" and llm.temperature == 0.0
    llm, _ = judge_llm(make_settings(OPENAI_BASE_URL="http://127.0.0.1:9/v1"))
    assert llm.name == "openai_compatible/local-model"
    assert create_judge(make_settings(ANTHROPIC_API_KEY="sk-ant-x"), choice="none")[0] is None
