"""A configuration to evaluate answers of: which embedding model, which retrieval, how many chunks,
which LLM. ``docstune eval-answers --config NAME=SPEC`` and the Evaluate page's rows are these.

SPEC is ``key=value`` pairs separated by commas, every key optional::

    serving                                   # the pipeline in service, the configured LLM
    base-dense=model=all-MiniLM-L6-v2,mode=dense
    v3-hybrid=model=v3,mode=hybrid,weight=0.7,k=4
    claude=llm=anthropic:claude-haiku-4-5     # or llm=openai_compatible:llama3.1, llm=extractive
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

MODES = ("dense", "lexical", "hybrid")
LLM_PROVIDERS = ("anthropic", "openai_compatible", "extractive")
KEYS = ("model", "mode", "weight", "k", "llm")
MAX_K = 20
_NAME = re.compile(r"[\w.+-]{1,40}")


class ConfigError(ValueError):
    """A configuration that cannot be read; the message says which part and why."""


@dataclass(frozen=True)
class AnswerConfig:
    """``model``: a registry version (``v3``, ``active``), a model folder or an embedding name (None: the
    model in service); ``mode``/``weight``: the retrieval (None: as served); ``k``: chunks given to the
    LLM; ``llm``: ``provider[:model]`` (None: the configured LLM)."""

    name: str
    model: str | None = None
    mode: str | None = None
    weight: float | None = None
    k: int = 4
    llm: str | None = None

    def __post_init__(self):
        if not _NAME.fullmatch(self.name or ""):
            raise ConfigError(f"Configuration name {self.name!r}: use 1-40 letters, digits, '.', '_', '+' or '-'.")
        if self.mode is not None and self.mode not in MODES:
            raise ConfigError(f"{self.name}: mode {self.mode!r} is not one of {', '.join(MODES)}.")
        if self.weight is not None and not 0 <= self.weight <= 1:
            raise ConfigError(f"{self.name}: weight {self.weight:g} is not from 0 to 1 (the dense leg's share).")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise ConfigError(f"{self.name}: k must be a whole number from 1 to {MAX_K}.")
        if self.llm is not None and self.llm.partition(":")[0] not in LLM_PROVIDERS:
            raise ConfigError(f"{self.name}: llm {self.llm!r} must start with one of {', '.join(LLM_PROVIDERS)} "
                              "(e.g. anthropic:claude-haiku-4-5).")

    def spec(self) -> dict:
        return asdict(self)


def parse_config(text: str) -> AnswerConfig:
    """``NAME`` or ``NAME=key=value,key=value`` (see the module's examples)."""
    name, _, spec = text.strip().partition("=")
    values: dict = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in KEYS:
            raise ConfigError(f"{name}: {part!r} is not key=value with a key among {', '.join(KEYS)}.")
        if key in values:
            raise ConfigError(f"{name}: {key} is given twice.")
        try:
            values[key] = float(value) if key == "weight" else int(value) if key == "k" else value
        except ValueError:
            raise ConfigError(f"{name}: {key}={value!r} is not a number.") from None
    return AnswerConfig(name.strip(), **values)


DEFAULT_CONFIGS = (AnswerConfig("serving"),)
