"""Model swaps as the admin sees them: which versions exist, which serves, what may be promoted."""
from __future__ import annotations

from pathlib import Path

from application.errors import BadRequest, Conflict, NotFound



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


def validate_promotion(services, name: str, *, force: bool = False):
    """The version to promote, or a clear 4xx why not; nothing changes here."""
    version = get_version(services.settings, name)
    registry = registry_for(services.settings)
    if version.status == "rejected" and not force:
        reason = (version.gate or {}).get("reason", "")
        raise Conflict(f"{version.version} was rejected by the evaluation gate ({reason}); "
                       f"promote with force to use it anyway.")
    from plugins.sentence_transformers_backend import is_model_folder

    if not is_model_folder(version.model_path):
        raise Conflict(f"The checkpoint of {version.version} is missing on disk ({version.model_path}); "
                       f"it cannot be promoted. Serving is unchanged.")
    serving = services.serving.info()
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
        "gate": {"verdict": gate.get("status"), "reason": gate.get("reason")} if gate else
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


def models_overview(services) -> dict:
    """``GET /api/admin/models``: what serves, what is configured, what is being built, every version."""
    settings = services.settings
    registry = registry_for(settings)
    pending = None
    swap = services.jobs.running_swap()
    if swap is not None:
        params = swap["params"]
        pending = {"job_id": swap["id"], "kind": swap["kind"], "status": swap["status"],
                   "version": params.get("version"), "model_name": params.get("model_name") or params.get("model"),
                   "progress": swap["progress"]}
    return {
        "serving": services.serving.info(),
        "configured": services.configured_info(),
        "pending": pending,
        "versions": [version_summary(settings, v, registry) for v in reversed(registry.versions())],
    }


def parse_retrain_options(body: dict) -> dict:
    """The body of ``POST /api/admin/retrain`` (and ``docstune retrain``'s options), checked."""
    options: dict = {}
    from training.finetune import LOSSES

    loss = body.get("loss")
    if loss is not None:
        if loss not in LOSSES:
            raise BadRequest(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}.")
        options["loss"] = loss
    for key, low, high in (("epochs", 1, 50), ("max_seq_length", 8, 8192), ("batch_size", 2, 1024)):
        value = body.get(key)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise BadRequest(f"{key} must be a whole number from {low} to {high}.")
            options[key] = value
    for key in ("include_synthetic", "auto_promote"):
        value = body.get(key)
        if value is not None:
            if not isinstance(value, bool):
                raise BadRequest(f"{key} must be true or false.")
            options[key] = value
    unknown = set(body) - {"loss", "epochs", "max_seq_length", "batch_size", "include_synthetic", "auto_promote"}
    if unknown:
        raise BadRequest(f"Unknown option(s): {', '.join(sorted(unknown))}.")
    return options


def follow_serving_in_registry(services) -> None:
    """After a rollback the registry's active pointer names what serves again (``None``: the base model)."""
    from training.registry import RegistryError

    registry = registry_for(services.settings)
    serving = services.serving.info()["version"]
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
