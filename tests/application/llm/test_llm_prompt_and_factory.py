"""The prompt template an admin can override, citations, and the provider factory."""
import pytest

from application.errors import ServiceUnavailable
from application.llm import PromptTemplate, cited_numbers, create_llm
from application.llm.anthropic_llm import AnthropicLLM
from application.llm.extractive import ExtractiveLLM
from application.llm.openai_compatible import OpenAICompatibleLLM
from application.settings import Settings
from application.retrieval.hits import SearchHit

HIT = SearchHit("c-1", "s-1", "Use {curly} braces freely.", 0.8, 1, "Braces", "b.md", None, 0)


def test_an_admin_prompt_file_replaces_the_default_template(tmp_path):
    custom = tmp_path / "prompt.txt"
    custom.write_text("# mine\n[system]\nReply in French.\n{sources}\n[user]\nQ: {question}\n")

    prompt = PromptTemplate.load(custom).render("Why?", [HIT])

    assert prompt.system == "Reply in French.\n[1] Braces\nUse {curly} braces freely."
    assert prompt.messages[-1]["content"] == "Q: Why?"


def test_the_default_template_asks_for_numbered_citations():
    prompt = PromptTemplate.load().render("Why?", [HIT])
    assert "[1]" in prompt.system and "square brackets" in prompt.system


def test_a_template_without_sections_is_refused_with_the_reason(tmp_path):
    broken = tmp_path / "broken.txt"
    broken.write_text("Answer the question.")
    with pytest.raises(ServiceUnavailable, match=r"\[system\] and a \[user\] section"):
        PromptTemplate.load(broken)
    with pytest.raises(ServiceUnavailable, match="PROMPT_FILE"):
        PromptTemplate.load(tmp_path / "missing.txt")


def test_citations_are_read_from_the_answer_and_out_of_range_numbers_ignored():
    assert cited_numbers("A [1]. B [2][3]. C [2, 4]. D [9].", 4) == {1, 2, 3, 4}
    assert cited_numbers("no citations", 3) == set()


def test_the_provider_defaults_to_anthropic_only_when_a_key_is_set():
    def no_model():
        raise AssertionError("the embedding model must not be loaded by the factory")

    assert isinstance(create_llm(Settings(ANTHROPIC_API_KEY=""), no_model), ExtractiveLLM)
    claude = create_llm(Settings(ANTHROPIC_API_KEY="k", ANTHROPIC_MODEL="claude-x"), no_model)
    assert isinstance(claude, AnthropicLLM) and claude.name == "anthropic/claude-x"
    local = create_llm(Settings(LLM_PROVIDER="openai_compatible", OPENAI_BASE_URL="http://h:1/v1"), no_model)
    assert isinstance(local, OpenAICompatibleLLM) and local.base_url == "http://h:1/v1"


def test_asking_for_anthropic_without_a_key_fails_at_start_up():
    with pytest.raises(ServiceUnavailable, match="ANTHROPIC_API_KEY"):
        create_llm(Settings(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY=""), lambda: None)
