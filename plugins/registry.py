"""Finds embedding backends by name.

Built-in backends and third-party ones register the same way (as in Simon
Willison's ``llm``): a plugin is a module with a hook function
``register_embedding_models(register)``, advertised in the entry point group
``docstune.embeddings``. Our own backend is listed in ``setup.cfg`` under that
group too; ``DEFAULT_PLUGINS`` keeps it usable from a source checkout that was
never installed.

``register(name, factory, *, aliases=(), handles=None)``:

* ``name`` / ``aliases`` — exact names ``load_embeddings`` accepts;
* ``factory(name, **options) -> EmbeddingBackend`` builds the backend;
* ``handles(name) -> bool`` claims names that are not registered exactly (for
  example "any folder that holds a sentence-transformers model").
"""
from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Callable

from plugins.base import EmbeddingBackend, EmbeddingModelError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "docstune.embeddings"
DEFAULT_PLUGINS = ("plugins.sentence_transformers_backend",)

Factory = Callable[..., EmbeddingBackend]


@dataclass
class RegisteredModel:
    name: str
    factory: Factory
    aliases: tuple[str, ...] = ()
    handles: Callable[[str], bool] | None = None
    plugin: str = ""


@dataclass
class EmbeddingRegistry:
    models: dict[str, RegisteredModel] = field(default_factory=dict)
    claimers: list[RegisteredModel] = field(default_factory=list)

    def register(self, name: str, factory: Factory, *, aliases=(), handles=None, plugin: str = "") -> None:
        entry = RegisteredModel(name, factory, tuple(aliases), handles, plugin)
        for key in (name, *aliases):
            self.models[key] = entry
        if handles is not None:
            self.claimers.append(entry)

    def resolve(self, name: str) -> RegisteredModel:
        if name in self.models:
            return self.models[name]
        for entry in self.claimers:
            if entry.handles(name):
                return entry
        known = ", ".join(sorted({m.name for m in self.models.values()})) or "none"
        raise EmbeddingModelError(
            f"Unknown embedding model {name!r}: it is not a local model folder and no plugin registers it "
            f"(registered: {known}). DocsTune never downloads weights: pass the path of a local "
            f"sentence-transformers folder in EMBEDDINGS_NAME."
        )


_registry: EmbeddingRegistry | None = None
_lock = threading.Lock()


def _load_plugin(registry: EmbeddingRegistry, hook: Callable, plugin: str) -> None:
    def register(name, factory, **kwargs):
        registry.register(name, factory, plugin=plugin, **kwargs)

    hook(register)


def get_registry(refresh: bool = False) -> EmbeddingRegistry:
    """The process-wide registry: default plugins first, then entry points."""
    global _registry
    with _lock:
        if _registry is not None and not refresh:
            return _registry
        registry = EmbeddingRegistry()
        seen = set()
        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            _load_plugin(registry, module.register_embedding_models, module_name)
            seen.add(f"{module_name}:register_embedding_models")
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.value in seen:
                continue
            seen.add(ep.value)
            try:
                _load_plugin(registry, ep.load(), ep.value)
            except Exception as exc:  # a broken third-party plugin must not take the service down
                log.warning("Embedding plugin %s failed to load: %s", ep.value, exc)
        _registry = registry
        return registry


_instances: dict[tuple, EmbeddingBackend] = {}


def load_embeddings(name: str, **options) -> EmbeddingBackend:
    """The backend for ``name``; one instance per (name, options) per process."""
    key = (name, tuple(sorted(options.items())))
    backend = _instances.get(key)
    if backend is None:
        entry = get_registry().resolve(name)
        with _lock:
            backend = _instances.get(key)
            if backend is None:
                backend = entry.factory(name, **options)
                _instances[key] = backend
    return backend


def clear_instances() -> None:
    """Forget cached backends (tests, and a model swap that replaces a folder)."""
    with _lock:
        _instances.clear()
