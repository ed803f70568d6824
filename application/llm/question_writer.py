"""The configured LLM as the writer of synthetic questions (``training.synthetic``).

``training/`` may not import the application, so the generator takes a small
:class:`~training.synthetic.QuestionLLM`; this adapter is that, over the same backends the chat uses
(Claude through the SDK, or an OpenAI-compatible server), with their error messages and token counts.
``docstune synth``, ``docstune train --synthetic`` and the retrain job all build it here.

Example::

    options = synthetic_generator_options(settings)       # {} when no LLM is configured
    queries = generate_synthetic_queries(chunks, **options)
"""
from __future__ import annotations

from application.llm import configured_llm_provider, create_llm
from application.llm.base import LLM, RETRYABLE_KINDS, LLMError, Prompt

#: failures that waiting may cure; the generator retries them (LLM_MAX_RETRIES) before it gives up
#: room for a batch's questions: SYNTH_BATCH_SIZE x questions x ~30 tokens stays well under it by default
MIN_MAX_TOKENS = 4096


class QuestionWriter:
    """A :class:`~training.synthetic.QuestionLLM` over one of our LLM backends."""

    def __init__(self, llm: LLM):
        self.llm = llm
        self.name = llm.name

    def complete(self, system: str, user: str, usage: dict) -> str:
        from training.synthetic import QuestionLLMError

        prompt = Prompt(system=system, messages=[{"role": "user", "content": user}], question=user)
        try:
            return self.llm.complete(prompt, usage)
        except LLMError as exc:
            raise QuestionLLMError(exc.message, retryable=exc.kind in RETRYABLE_KINDS) from exc


def question_llm(settings) -> LLM | None:
    """The backend that writes synthetic questions (SYNTH_MODEL, else the provider's model), or None when no
    LLM is configured. It does not retry by itself: the generator's retries are the only ones."""
    provider = configured_llm_provider(settings)
    max_tokens = max(settings.llm_max_tokens, MIN_MAX_TOKENS)
    if provider is not None:

        return create_llm(settings, provider=provider, model=settings.synth_model, max_tokens=max_tokens,
                          max_retries=0)
    return None


def synthetic_generator_options(settings) -> dict:
    """The options of ``training.synthetic.generate_synthetic_queries`` that write with the configured LLM
    (cache folder, batch size, concurrency, retries, price); {} when no LLM is configured (inverse cloze)."""
    llm = question_llm(settings)
    if llm is None:
        return {}
    return {
        "llm": QuestionWriter(llm),
        "cache_dir": settings.synth_cache_dir,
        "batch_size": settings.synth_batch_size,
        "concurrency": settings.synth_concurrency,
        "retries": settings.llm_max_retries,
        "price": settings.price_of(llm.name),
    }
