"""Which embedding model is configured, and loading models by name (the plugin registry caches them).

EMBEDDINGS_NAME set to a folder or a plugin's name wins; a registry version (``v3``) or ``active``
names a registry entry; left unset, the registry's active version is used when there is one, else the
bundled model. The configured model may not be the one serving yet (``ServingIndex.current`` says which).
"""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from application.errors import BadRequest
from application.settings import EMBEDDINGS_BACKENDS, Settings
from application.vectorstore import collection_name_for
from plugins.lexical import LexicalEncoder

if TYPE_CHECKING:  # plugins.base imports langchain (a quarter second): only when a model is loaded
    from plugins import EmbeddingBackend


class ModelLoader:
    """The configured embedding model, any other model by name, and the lexical encoder."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._configured: EmbeddingBackend | None = None
        self._lock = threading.Lock()

    def configured_model(self) -> tuple[str, str | None]:
        """(name to load, registry version or None): what EMBEDDINGS_NAME and the registry ask for."""
        return resolve_configured_model(self.settings)

    def configured(self) -> EmbeddingBackend:
        """The configured model, loaded (again when the registry's pointer moved: a promotion)."""
        name, _ = self.configured_model()
        with self._lock:
            if self._configured is None or self._configured.name != name:
                self._configured = self.load(name)
            return self._configured

    def load(self, name: str, fingerprint: str | None = None) -> EmbeddingBackend:
        """``name`` with the configured options. Given the ``fingerprint`` a collection records, the
        EMBEDDINGS_BACKEND (torch, onnx, onnx-int8) that made it: a backend switch re-indexes, and until
        then the old collection keeps serving with the encoder that made its vectors."""
        from plugins import load_embeddings

        options = self.settings.embedding_options()
        embeddings = load_embeddings(name, **options)
        if fingerprint is None or embeddings.fingerprint == fingerprint:
            return embeddings
        for backend in EMBEDDINGS_BACKENDS:  # a fingerprint needs no loaded weights: cheap to try
            other = load_embeddings(name, **{**options, "backend": backend})
            if other.fingerprint == fingerprint:
                return other
        return embeddings

    def lexical(self) -> LexicalEncoder:
        """The lexical encoder of LEXICAL_TOKENIZER (BM25 sparse vectors, ``plugins.lexical``)."""
        from plugins.lexical import load_lexical

        return load_lexical(self.settings.lexical_tokenizer)

    def configured_info(self) -> dict:
        """What EMBEDDINGS_NAME / the registry ask for (it serves once its collection is complete)."""
        name, version = self.configured_model()
        info = {"version": version, "model_name": name, "fingerprint": None, "collection": None, "dimension": None}
        try:
            embeddings = self.configured()
        except Exception as exc:
            info["error"] = str(exc)
            return info
        info.update(fingerprint=embeddings.fingerprint, collection=collection_name_for(embeddings.fingerprint),
                    dimension=embeddings.dimension)
        return info


def resolve_configured_model(settings: Settings) -> tuple[str, str | None]:
    """(name to load, registry version or None) of the configured embedding model."""
    from training.registry import ModelRegistry, RegistryError

    name = settings.embeddings_name
    explicit = "embeddings_name" in settings.model_fields_set and name != "active"
    registry = ModelRegistry(settings.models_dir)
    if not explicit:
        active = registry.active() if registry.root.is_dir() else None
        if active is not None:
            return active.model_path, active.version
        if name == "active":
            return Settings.model_fields["embeddings_name"].default, None
        return name, None
    if re.fullmatch(r"v?\d+", name) and not Path(name).exists():
        try:
            version = registry.get(name)
        except RegistryError as exc:
            raise BadRequest(f"EMBEDDINGS_NAME={name}: {exc}") from exc
        return version.model_path, version.version
    return name, None
