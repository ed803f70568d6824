"""Model swaps as the admin sees them: which versions exist, which serves, what may be promoted."""
from __future__ import annotations

from pathlib import Path

from application.errors import BadRequest, Conflict, NotFound
from application.request_values import some_of



def registry_for(settings):
    from training.registry import ModelRegistry

    return ModelRegistry(settings.models_dir)


def get_version(settings, name: str):
    """A registry version by name (``v3``, ``3``, ``v0003``); 404 if unknown."""
    from training.registry import RegistryError

    try:
        return registry_for(settings).get(name)
    except RegistryError as exc:
        raise NotFound(f"Unknown model version: {exc}") from exc


def validate_promotion(app, name: str, *, force: bool = False):
    """The version to promote, or a clear 4xx why not; nothing changes here."""
    version = get_version(app.settings, name)
    registry = registry_for(app.settings)
    if version.status == "rejected" and not force:
        reason = (version.gate or {}).get("reason", "")
        raise Conflict(f"{version.version} was rejected by the evaluation gate ({reason}); "
                       f"promote with force to use it anyway.")
    from plugins.sentence_transformers_backend import is_model_folder

    if not is_model_folder(version.model_path):
        raise Conflict(f"The checkpoint of {version.version} is missing on disk ({version.model_path}); "
                       f"it cannot be promoted. Serving is unchanged.")
    serving = app.serving.info()
    if serving["fingerprint"] == version.fingerprint:
        raise Conflict(f"{version.version} already serves (collection {serving['collection']}).")
    if registry.status_of(version) == "active" and serving["fingerprint"] != version.fingerprint:
        pass  # the pointer names it but its index is not serving (an interrupted swap): build it again
    return version


def version_summary(settings, version, registry) -> dict:
    gate = version.gate or {}
    base = f"/api/admin/models/{version.version}"
    return {
        "version": version.version,
        "parent": version.parent,
        "created_at": version.created_at,
        "status": registry.status_of(version),
        "gate": {"verdict": gate.get("status"), "reason": gate.get("reason"), "questions": gate.get("questions"),
                 "interval": gate.get("interval"), "wins": gate.get("wins"), "losses": gate.get("losses"),
                 "evaluation_set": gate.get("evaluation_set")} if gate else
                {"verdict": None, "reason": "no evaluation gate ran"},
        "metrics": {"candidate": version.metrics or {}, "baseline": gate.get("baseline_metrics") or {}},
        "report_url": f"{base}/report" if "report" in (version.files or {}) or _file(registry, version, ".md") else None,
        "plot_url": f"{base}/plot.png" if _file(registry, version, ".png") else None,
        "model_path": version.model_path,
        "fingerprint": version.fingerprint,
        "base_model": version.base_model,
        "checkpoint_exists": Path(version.model_path).is_dir(),
        # the retrieval settings it serves with (its fitted fusion weight); {}: registered before them
        "retrieval": version.retrieval or {},
    }


def _file(registry, version, suffix: str) -> Path | None:
    for name in (version.files or {}).values():
        if str(name).endswith(suffix):
            path = registry.root / version.version / name
            if path.is_file():
                return path
    return None


def report_file(settings, name: str, suffix: str) -> Path:
    version = get_version(settings, name)
    path = _file(registry_for(settings), version, suffix)
    if path is None:
        what = "report" if suffix == ".md" else "plot"
        raise NotFound(f"{version.version} has no {what} (it was registered without an evaluation).")
    return path


def models_overview(app) -> dict:
    """``GET /api/admin/models``: what serves, what is configured, what is being built, every version."""
    settings = app.settings
    registry = registry_for(settings)
    pending = None
    swap = app.jobs.running_swap()
    if swap is not None:
        params = swap["params"]
        pending = {"job_id": swap["id"], "kind": swap["kind"], "status": swap["status"],
                   "version": params.get("version"), "model_name": params.get("model_name") or params.get("model"),
                   "progress": swap["progress"]}
    from application.db.evaluation_set import evaluation_summary

    return {
        "serving": app.serving.info(),
        "evaluation": evaluation_summary(app.db),
        "configured": app.models.configured_info(),
        "pending": pending,
        "versions": [version_summary(settings, v, registry) for v in reversed(registry.versions())],
    }


def parse_retrain_options(body: dict) -> dict:
    """The body of ``POST /api/admin/retrain`` (and ``docstune retrain``'s options), checked: the
    training options of ``docstune train`` (``training.pipeline.TrainingOptions``), plus
    ``include_synthetic`` and ``auto_promote``."""
    from training.pipeline import SyntheticOptions, TrainingOptions
    from training.records import TrainingDataError

    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object of retrain options.")
    flags = ("include_synthetic", "auto_promote")
    unknown = set(body) - set(TrainingOptions.__dataclass_fields__) - set(flags) - {"device", "synthetic_chunks"}
    if "device" in body:
        raise BadRequest("device is the server's setting (EMBEDDINGS_DEVICE), not a retrain option.")
    if unknown:
        raise BadRequest(f"Unknown option(s): {some_of(sorted(unknown, key=str))}.")
    try:
        options = {**TrainingOptions.from_params(body).to_params(), **SyntheticOptions.from_params(body).to_params()}
    except TrainingDataError as exc:
        raise BadRequest(f"{exc}.") from exc
    for key in flags:
        value = body.get(key)
        if value is not None:
            if not isinstance(value, bool):
                raise BadRequest(f"{key} must be true or false.")
            options[key] = value
    return options


def follow_serving_in_registry(app) -> None:
    """After a rollback the registry's active pointer names what serves again (``None``: the base model)."""
    from training.registry import RegistryError

    registry = registry_for(app.settings)
    serving = app.serving.info()["version"]
    try:
        active = registry.active()
        if (active.version if active else None) == serving:
            return
        if registry.rollback_target() == serving:
            registry.rollback()  # the usual case: one step back in both
        elif serving is not None:
            registry.promote(serving, force=True)
    except RegistryError:  # the registry cannot say it; what serves is in the admin API either way
        pass
