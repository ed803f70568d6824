"""The model registry: immutable versions under ``<root>/<version>/`` and an active pointer.

Layout::

    <root>/active.json                 {"active": "v0002", "history": ["v0001"], ...}
    <root>/v0002/version.json          metadata, written once
    <root>/v0002/docstune-v0002/       the sentence-transformers folder (EMBEDDINGS_NAME can point here)
    <root>/v0002/report.md, metrics.json, hit_rate.png   the evaluation that judged it

A version folder is assembled in a temp folder and renamed into place, so it is
either complete or absent; it never changes afterwards. The only mutable file is
``active.json``, replaced atomically. A version's *status* is therefore derived:
``active`` (the pointer names it), ``archived`` (it was active before), otherwise what
it was registered as: ``candidate`` (the gate said better, or no gate ran) or ``rejected``.

``fingerprint`` is computed by the serving backend's own code
(``plugins.sentence_transformers_backend``), so it equals what the service will see.

Example::

    from training.registry import ModelRegistry
    registry = ModelRegistry("data/models")
    version = registry.register("/tmp/ft-model", base_model="all-MiniLM-L6-v2", metrics={"mrr@10": 0.61})
    registry.promote(version.version)
    registry.active().model_path
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

from training.files import atomic_write_text
from training.records import TrainingDataError

METADATA_FILE = "version.json"
ACTIVE_FILE = "active.json"
STATUSES = ("candidate", "active", "archived", "rejected")
#: the names of a version (``3``, ``v3``, ``v0003``; ASCII digits only) and of the active one
VERSION_NAME = re.compile(r"v?0*([0-9]{1,9})")
ACTIVE_NAME = "active"


def is_version_name(name) -> bool:
    """Whether ``name`` names a registry version (it may still be unregistered); paths never do."""
    return name == ACTIVE_NAME or (isinstance(name, str) and VERSION_NAME.fullmatch(name.strip()) is not None)


def _shown(name) -> str:
    """A name as an error message repeats it: quoted, cut short."""
    text = repr(name)
    return text if len(text) <= 40 else text[:37] + "...'"


class RegistryError(TrainingDataError):
    """A registry operation that cannot be done; the message says why."""


@dataclass
class ModelVersion:
    version: str
    model_path: str
    fingerprint: str
    base_model: str
    parent: str | None = None
    status: str = "candidate"  # as registered; see ModelRegistry.status_of for the live status
    created_at: str = ""
    data_stats: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    gate: dict | None = None
    training: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    #: the retrieval settings the version serves with (``training.fusion.FusionSettings`` fields, the
    #: fitted weight, the lexical tokenizer, where the weight came from); {}: registered before them
    retrieval: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelVersion":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)

    def fitted_fusion(self) -> dict | None:
        """The fusion weight fitted for this version at training, as the serving collection stores it
        (``application``'s ``vector_collections.fusion``); None when none was fitted."""
        retrieval = self.retrieval or {}
        if retrieval.get("mode") != "hybrid" or "questions" not in retrieval:
            return None
        return {**retrieval, "origin": f"registry {self.version}: {retrieval.get('origin', 'fitted at training')}",
                "fitted_at": self.created_at, "registry_version": self.version}


def compute_fingerprint(model_path: str | os.PathLike, query_prefix: str = "", document_prefix: str = "") -> str:
    """The fingerprint the serving backend computes for this folder (same code, same answer)."""
    from plugins.sentence_transformers_backend import SentenceTransformerEmbeddings

    path = str(model_path)
    backend = SentenceTransformerEmbeddings(path, path, query_prefix=query_prefix, document_prefix=document_prefix)
    return backend.fingerprint


class ModelRegistry:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # -- reading -----------------------------------------------------------------
    def versions(self) -> list[ModelVersion]:
        """Every registered version, oldest first."""
        if not self.root.is_dir():
            return []
        found = []
        for child in sorted(self.root.iterdir()):
            meta = child / METADATA_FILE
            if child.is_dir() and not child.name.startswith(".") and meta.is_file():
                found.append(ModelVersion.from_dict(json.loads(meta.read_text(encoding="utf-8"))))
        return found

    def _pointer(self) -> dict:
        path = self.root / ACTIVE_FILE
        if not path.is_file():
            return {"active": None, "history": []}
        return json.loads(path.read_text(encoding="utf-8"))

    def normalize_name(self, name: str) -> str:
        """``3``, ``v3`` and ``v0003`` all name version ``v0003``; ``active`` names the active one.
        Nothing else names a version: a path (``../x``, ``/srv/x``) is refused, never looked up."""
        if name == ACTIVE_NAME:
            active = self._pointer().get("active")
            if not active:
                raise RegistryError("no version is active yet; the service uses EMBEDDINGS_NAME")
            return active
        match = VERSION_NAME.fullmatch(name.strip()) if isinstance(name, str) else None
        if match is None:
            raise RegistryError(f"{_shown(name)} is not a version name: versions are named v0001, v0002, ... "
                                f"(or 1, v1), and '{ACTIVE_NAME}' names the active one")
        return f"v{int(match.group(1)):04d}"

    def get(self, name: str) -> ModelVersion:
        version = self.normalize_name(name)
        meta = self.root / version / METADATA_FILE
        if not meta.is_file():
            known = ", ".join(v.version for v in self.versions()) or "none"
            raise RegistryError(f"no model version {_shown(name)} in the registry (registered: {known})")
        return ModelVersion.from_dict(json.loads(meta.read_text(encoding="utf-8")))

    def active(self) -> ModelVersion | None:
        name = self._pointer().get("active")
        return self.get(name) if name else None

    def rollback_target(self) -> str | None:
        """The version a :meth:`rollback` would re-activate (``None``: the base model)."""
        history = self._pointer().get("history", [])
        return history[-1] if history else None

    def status_of(self, version: ModelVersion) -> str:
        pointer = self._pointer()
        if pointer.get("active") == version.version:
            return "active"
        if version.version in pointer.get("history", []) or version.version in pointer.get("archived", []):
            return "archived"
        return version.status

    # -- writing -----------------------------------------------------------------
    @contextmanager
    def _locked(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _next_version(self) -> str:
        numbers = [int(m.group(1)) for p in self.root.iterdir() if (m := re.fullmatch(r"v(\d+)", p.name))]
        return f"v{max(numbers, default=0) + 1:04d}"

    def register(
        self,
        model_folder: str | os.PathLike,
        *,
        base_model: str,
        parent: str | None = None,
        data_stats: dict | None = None,
        metrics: dict | None = None,
        gate: dict | None = None,
        training: dict | None = None,
        files: dict[str, str | os.PathLike] | None = None,
        move: bool = False,
        query_prefix: str = "",
        document_prefix: str = "",
        retrieval: dict | None = None,
    ) -> ModelVersion:
        """Add a new immutable version holding ``model_folder`` (moved if ``move``, else copied).

        ``files`` are extra files (report, metrics, plot) copied next to the model.
        The status is ``candidate`` when ``gate`` says ``better`` (or no gate ran), else ``rejected``.
        """
        source = Path(model_folder)
        from plugins.sentence_transformers_backend import is_model_folder

        if not is_model_folder(source):
            raise RegistryError(f"{source} is not a sentence-transformers model folder; nothing was registered")
        # only a "better" verdict makes a candidate; "worse" and "not_enough_evidence" need --force
        status = "rejected" if gate and gate.get("status") not in (None, "better") else "candidate"
        with self._locked():
            version = self._next_version()
            staging = self.root / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
            model_dir = staging / f"docstune-{version}"
            try:
                staging.mkdir()
                if move:
                    os.rename(source, model_dir)
                else:
                    shutil.copytree(source, model_dir)
                copied = {}
                for key, path in (files or {}).items():
                    target = staging / Path(path).name
                    shutil.copy2(path, target)
                    copied[key] = target.name
                final = self.root / version
                record = ModelVersion(
                    version=version,
                    model_path=str((final / model_dir.name).resolve()),
                    # the folder name is part of the fingerprint, and it is final already
                    fingerprint=compute_fingerprint(model_dir, query_prefix, document_prefix),
                    base_model=str(base_model),
                    parent=parent,
                    status=status,
                    created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    data_stats=data_stats or {},
                    metrics=metrics or {},
                    gate=gate,
                    training=training or {},
                    files=copied,
                    retrieval=retrieval or {},
                )
                atomic_write_text(staging / METADATA_FILE, json.dumps(record.to_dict(), indent=1, default=str))
                os.rename(staging, final)
            except BaseException:
                if move and model_dir.exists() and not source.exists():
                    os.rename(model_dir, source)  # give the caller its folder back
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return record

    def _write_pointer(self, pointer: dict) -> None:
        pointer["updated_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        atomic_write_text(self.root / ACTIVE_FILE, json.dumps(pointer, indent=1))

    def promote(self, name: str, *, force: bool = False) -> ModelVersion:
        """Make ``name`` the active version; a rejected one only with ``force``."""
        with self._locked():
            version = self.get(name)
            pointer = self._pointer()
            if pointer.get("active") == version.version:
                raise RegistryError(f"{version.version} is already active")
            if version.status == "rejected" and not force:
                reason = (version.gate or {}).get("reason", "")
                raise RegistryError(
                    f"{version.version} was rejected by the gate ({reason}); use --force to promote it anyway"
                )
            history = [v for v in pointer.get("history", []) if v != version.version]
            if pointer.get("active"):
                history.append(pointer["active"])
            archived = [v for v in pointer.get("archived", []) if v != version.version]
            self._write_pointer({"active": version.version, "history": history, "archived": archived})
            return version

    def rollback(self) -> ModelVersion | None:
        """Re-activate the previously active version; ``None`` means back to the base model (EMBEDDINGS_NAME)."""
        with self._locked():
            pointer = self._pointer()
            if not pointer.get("active"):
                raise RegistryError("nothing to roll back: no version is active")
            history = list(pointer.get("history", []))
            previous = history.pop() if history else None
            # the version rolled back from stays "archived"
            archived = pointer.get("archived", [])
            self._write_pointer(
                {"active": previous, "history": history, "archived": [*archived, pointer["active"]]}
            )
            return self.get(previous) if previous else None


def resolve_model_path(name: str, settings) -> str:
    """A registry version (``v3``, ``active``), a model folder, or a name the embedding plugins know, as a
    local model folder (``settings``: the application's, for MODELS_DIR and the embedding options)."""
    from plugins import load_embeddings
    from plugins.base import EmbeddingModelError

    registry = ModelRegistry(settings.models_dir)
    if name == "active":
        active = registry.active()
        if active is not None:
            return active.model_path
        name = settings.embeddings_name
    elif re.fullmatch(r"v?\d+", name) and not Path(name).exists():
        return registry.get(name).model_path
    backend = load_embeddings(name, **settings.embedding_options())
    path = getattr(backend, "path", None)
    if not path:
        raise EmbeddingModelError(f"{name}: this embedding backend has no local folder to train or evaluate")
    return str(path)


def model_in_service(settings) -> tuple[str, str, str | None]:
    """(path, label, parent version) of the model the service uses now."""
    active = ModelRegistry(settings.models_dir).active()
    if active is not None:
        return active.model_path, active.version, active.version
    return resolve_model_path(settings.embeddings_name, settings), settings.embeddings_name, None


def serving_fusion(settings, version: str | None):
    """The retrieval settings a model runs with in service: the configured ones with the weight fitted for
    its registry ``version`` (FUSION_WEIGHT, when set, wins)."""
    from training.fusion import fitted_weight

    fitted = ModelRegistry(settings.models_dir).get(version).fitted_fusion() if version else None
    return settings.fusion(weight=fitted_weight(fitted, settings.fusion()))
