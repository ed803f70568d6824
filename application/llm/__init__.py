"""LLM backends, chosen by ``LLM_PROVIDER``: ``anthropic`` (Claude through the
official SDK), ``openai_compatible`` (llama.cpp, Ollama, vLLM ...) and
``extractive`` (offline: quotes the best-matching sentences, no LLM at all)."""
from __future__ import annotations

from typing import Callable

from application.errors import ServiceUnavailable
from application.llm.base import LLM, LLMError, Prompt
from application.llm.prompt import PromptTemplate, cited_numbers

PROVIDERS = ("anthropic", "openai_compatible", "extractive")


def configured_llm_provider(settings) -> str | None:
    """The LLM that work beyond the chat (the answer judge, synthetic questions) may use: ``anthropic`` when
    ANTHROPIC_API_KEY is set, else ``openai_compatible`` when LLM_PROVIDER says so or OPENAI_BASE_URL was
    set (its default names no server anyone started); None when no LLM is configured."""
    if settings.anthropic_api_key:
        return "anthropic"
    if settings.llm_provider == "openai_compatible" or "openai_base_url" in settings.model_fields_set:
        return "openai_compatible"
    return None


def create_llm(settings, get_embeddings: Callable[[], object] | None = None, *, provider: str | None = None,
               model: str | None = None, **options) -> LLM:
    """The LLM ``settings`` ask for; ``get_embeddings`` lazily gives the extractive answerer its model.
    ``provider``/``model`` choose another one than the chat's (the judge, the question writer); ``options``
    (``max_tokens``, ``max_retries``, ``temperature``) override the settings' for it."""
    provider = provider or settings.llm_provider_resolved
    if provider == "anthropic":
        if not settings.anthropic_api_key:
            raise ServiceUnavailable(
                "LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY; set it, or use LLM_PROVIDER=extractive to run offline."
            )
        from application.llm.anthropic_llm import AnthropicLLM

        return AnthropicLLM(**{
            "api_key": settings.anthropic_api_key,
            "model": model or settings.anthropic_model,
            "base_url": settings.anthropic_base_url,
            "timeout": settings.llm_timeout,
            "max_retries": settings.llm_max_retries,
            "max_tokens": settings.llm_max_tokens,
            **options,
        })
    if provider == "openai_compatible":
        from application.llm.openai_compatible import OpenAICompatibleLLM

        options.pop("max_retries", None)  # no retries of its own: its callers retry
        return OpenAICompatibleLLM(**{
            "base_url": settings.openai_base_url,
            "model": model or settings.openai_model,
            "api_key": settings.openai_api_key,
            "timeout": settings.llm_timeout,
            "max_tokens": settings.llm_max_tokens,
            **options,
        })
    if provider == "extractive":
        from application.llm.extractive import ExtractiveLLM

        return ExtractiveLLM(get_embeddings)
    raise ServiceUnavailable(f"Unknown LLM_PROVIDER {provider!r}; use one of {', '.join(PROVIDERS)}.")


__all__ = ["LLM", "LLMError", "Prompt", "PromptTemplate", "cited_numbers", "configured_llm_provider", "create_llm", "PROVIDERS"]
