"""docstune eval-answers over a small FAQ set: offline (no key) it still reports similarity, faithfulness,
latency and cost; with Claude (the fake Messages API) it answers and judges, with token counts and cost;
Ctrl-C keeps what was answered."""
import csv
import json
import os

import pytest
from click.testing import CliRunner

from application.answer_eval import AnswerConfig, ConfigError, evaluate_answers, parse_config
from application.answer_eval.faithfulness import citation_support, claims_of
from application.llm.extractive import WEAK_MATCH
from application.retrieval.hits import SearchHit
from training.irjson import load_ir_json
from tests.application.llm.fake_llm_servers import Reply


def run_cli(*args, **env):
    from application.cli import main

    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "LLM_", "JUDGE_"))}
    return CliRunner().invoke(main, list(args), env={**base, **env}, catch_exceptions=False)


def test_offline_it_reports_everything_but_the_judge_and_says_so_in_one_line(faq_set, tmp_path):
    out = tmp_path / "out"
    result = run_cli("eval-answers", "--dataset", str(faq_set), "--config", "serving",
                     "--config", "dense=mode=dense,k=2", "--out", str(out), DATA_DIR=str(tmp_path / "data"),
                     HF_HUB_OFFLINE="1")

    assert result.exit_code == 0, result.output
    judge_lines = [line for line in result.output.splitlines() if line.startswith("No judge")]
    assert len(judge_lines) == 1 and "ANTHROPIC_API_KEY" in judge_lines[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"] == "relevant-chunk" and summary["judge"] is None
    assert "BERTScore F1" in summary["similarity_method"]
    serving, dense = summary["configs"]
    assert serving["pipeline"]["retrieval"].startswith("hybrid") and dense["pipeline"]["retrieval"] == "dense"
    for config in (serving, dense):
        assert config["answered"] == 3 and config["errors"] == 0 and config["judge_score"] is None
        assert 0.5 < config["similarity"] <= 1 and 0 < config["cosine"] <= 1
        # the offline answerer quotes its sources: every cited claim is found in the cited chunk
        assert config["faithfulness"]["supported_citations"] == 1.0
        assert config["latency"]["full_p50"] > 0 and config["cost_per_question"] == 0.0
        assert config["monthly_cost"] == 0.0
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert len(answers) == 6 and {a["config"] for a in answers} == {"serving", "dense"}
    assert all(len(a["retrieved"]) == (2 if a["config"] == "dense" else 4) for a in answers)
    refunds = next(a for a in answers if a["question_id"] == "q1" and a["config"] == "serving")
    assert "14 days" in refunds["answer"] and refunds["reference"].startswith("Refunds are paid")
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["config"] for r in rows] == ["serving", "dense"]
    report = (out / "report.md").read_text()
    assert "| serving |" in report and "docstune eval-answers --dataset" in report and "No judge" in report
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_with_claude_it_answers_and_judges_and_prices_the_tokens(faq_set, tmp_path, fake_anthropic):
    # the fake answers every request with this: the answerer's reply and the judge's score alike
    fake_anthropic.default = Reply("SCORE: 0.9\nREASON: Refunds are paid within 14 days [1].")
    out = tmp_path / "out"
    result = run_cli("eval-answers", "--dataset", str(faq_set), "--config", "claude=llm=anthropic:claude-sonnet-test",
                     "--users", "50", "--questions-per-day", "4", "--out", str(out), DATA_DIR=str(tmp_path / "data"),
                     HF_HUB_OFFLINE="1", ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake_anthropic.base_url,
                     LLM_MAX_RETRIES="0")

    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    claude = summary["configs"][0]
    assert summary["judge"] == "anthropic/claude-sonnet-5-5" and summary["judge_note"] is None
    assert claude["pipeline"]["llm"] == "anthropic/claude-sonnet-test"
    assert claude["judged"] == 3 and claude["judge_score"] == 0.9
    output_tokens = len(fake_anthropic.default.text.split())
    assert claude["tokens"] == {"input": 10.0, "output": float(output_tokens)}
    # LLM_PRICES: anthropic/claude-sonnet is $3 / $15 per million tokens
    cost = (10 * 3 + output_tokens * 15) / 1e6
    assert claude["cost_per_question"] == pytest.approx(cost)
    assert claude["monthly_cost"] == pytest.approx(round(cost * 50 * 4 * 30, 2))
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert all(a["judge_reason"] == "Refunds are paid within 14 days [1]." for a in answers)
    assert claude["faithfulness"]["method"] == "judge"
    calls = len(fake_anthropic.requests)

    # a re-run judges from the cache: only the answers are asked again
    again = run_cli("eval-answers", "--dataset", str(faq_set), "--config", "claude=llm=anthropic:claude-sonnet-test",
                    "--out", str(tmp_path / "again"), DATA_DIR=str(tmp_path / "data"), HF_HUB_OFFLINE="1",
                    ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake_anthropic.base_url, LLM_MAX_RETRIES="0")
    assert again.exit_code == 0, again.output
    assert len(fake_anthropic.requests) - calls == 3
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["judge_calls"] == 0


def test_an_openai_compatible_answerer_reports_its_usage(faq_set, tmp_path, fake_openai, make_app):
    fake_openai.default = Reply("Shipping takes three working days [1].")
    app = make_app(OPENAI_BASE_URL=fake_openai.base_url, OPENAI_MODEL="llama-test",
                   LLM_PRICES='{"openai_compatible/llama": [0.5, 1.0]}')

    summary = evaluate_answers(app, load_ir_json(faq_set), [AnswerConfig("local", llm="openai_compatible")],
                               out_dir=tmp_path / "out", judge="none")

    local = summary["configs"][0]
    assert local["tokens"] == {"input": 12.0, "output": 6.0}
    assert local["cost_per_question"] == pytest.approx((12 * 0.5 + 6 * 1.0) / 1e6)
    assert fake_openai.requests[-1]["body"]["stream_options"] == {"include_usage": True}


def test_ctrl_c_stops_with_what_was_answered(faq_set, tmp_path, make_app):
    app = make_app()

    def progress(done, total, message):
        if done == 2:
            raise KeyboardInterrupt

    summary = evaluate_answers(app, load_ir_json(faq_set), [AnswerConfig("serving")], out_dir=tmp_path / "out",
                               progress=progress)

    assert summary["interrupted"] and summary["configs"][0]["answered"] == 2
    assert len((tmp_path / "out" / "answers.jsonl").read_text().splitlines()) == 2
    assert "answered before it was interrupted" in (tmp_path / "out" / "report.md").read_text()


def test_a_configuration_is_read_from_its_spec():
    assert parse_config("v3-hybrid=model=v3,mode=hybrid,weight=0.7,k=3,llm=anthropic:claude-x") == AnswerConfig(
        "v3-hybrid", model="v3", mode="hybrid", weight=0.7, k=3, llm="anthropic:claude-x")
    assert parse_config("serving") == AnswerConfig("serving")
    for bad, said in [("x=mode=fuzzy", "mode"), ("x=weight=2", "from 0 to 1"), ("x=k=0", "k must"),
                      ("x=colour=red", "key among"), ("x=llm=gpt", "must start with"), ("x=k=two", "not a number"),
                      ("a b=mode=dense", "name")]:
        with pytest.raises(ConfigError, match=said):
            parse_config(bad)


def test_a_bad_configuration_is_one_readable_line(faq_set, tmp_path):
    result = run_cli("eval-answers", "--dataset", str(faq_set), "--config", "x=weight=7",
                     DATA_DIR=str(tmp_path / "data"))
    assert result.exit_code == 2 and "weight 7 is not from 0 to 1" in result.output


HITS = [SearchHit("a", "s", "Refunds are paid within 14 days of the request.", 1.0, 1, "t", "", None, 0),
        SearchHit("b", "s", "| Format | Extension |\n|---|---|\n| PDF | .pdf |\n| Word | .docx |", 0.5, 2, "t", "", None, 1)]


def test_faithfulness_checks_each_claim_against_the_source_it_cites():
    answer = ("Refunds are paid within 14 days of the request [1]. Refunds arrive by carrier pigeon every "
              "Tuesday [1]. Shipping is free worldwide for everyone.\n\n"
              "| Format | Extension |\n|---|---|\n| PDF | .pdf |\n| Word | .docx |\n\n[2]")
    checked = citation_support(answer, HITS)

    assert [c.supported for c in checked.claims] == [True, False, None, True]
    assert checked.supported_citations == pytest.approx(2 / 3)
    assert checked.unsupported_sentences == pytest.approx(2 / 4)
    assert not checked.cites_nothing
    assert citation_support("Nothing cited here at all, just words.", HITS).cites_nothing


def test_a_lead_in_line_is_not_a_claim():
    claims = claims_of("Here is what the documents say:\n\n- Refunds are paid within 14 days [1]", 1)
    assert [c.text for c in claims] == ["Refunds are paid within 14 days"]


def test_a_citation_after_a_sentence_end_belongs_to_that_sentence():
    claims = claims_of("Refunds take fourteen days to arrive. [1] Shipping is free for members in Europe. [2]", 2)
    assert [(c.text, c.cited) for c in claims] == [("Refunds take fourteen days to arrive.", (1,)),
                                                   ("Shipping is free for members in Europe.", (2,))]

    closest = claims_of(f"{WEAK_MATCH}> Contribution Margin is a key measure of profitability. [2]", 2)
    assert [(c.text, c.cited) for c in closest] == [("Contribution Margin is a key measure of profitability.", (2,))]
