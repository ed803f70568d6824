"""``GET /health`` (the process answers) and ``GET /ready`` (model, vector store, database and job queue work).

``/ready`` answers 503 when a check fails, so that a load balancer keeps traffic away. Anyone
sees which check failed and a reason that names no path, host or URL; the admin
(``Authorization: Bearer <admin token>``) also sees each check's details and the failing one's
``error`` (e.g. ``vector_store``: "Cannot reach Qdrant at http://qdrant:6333: ..."), less passwords and keys.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from application.api.context import chat_state, is_admin_request

bp = Blueprint("health", __name__)

#: what an anonymous client may see of each check, besides ``ok`` (no paths, no hosts, no URLs)
PUBLIC_FIELDS = {
    "vector_store": ("collection", "points"),
    "embeddings": ("fingerprint", "dimension"),
    "jobs": ("waiting", "worker"),
    "llm": ("name",),
}
PUBLIC_REASONS = {
    "database": "the database cannot be reached or refused the check",
    "vector_store": "the vector store (or the serving model) cannot be used",
    "jobs": "the job queue cannot be reached",
}
DETAILS_HINT = "the admin sees why: GET /ready with 'Authorization: Bearer <admin token>'"


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready():
    from application.jobs.queue import queue_check
    from application.redaction import Redactor

    state = chat_state()
    services = state.services
    checks = services.ready()
    runtime = services.jobs
    jobs = queue_check(runtime.huey, services.settings)
    jobs["worker"] = ("in this process" if runtime.worker_running
                      else "immediate" if runtime.huey.immediate else "separate (docstune worker)")
    checks["jobs"] = jobs
    checks["llm"] = {"ok": True, "name": state.llm.name}
    checks["ok"] = all(v.get("ok") for k, v in checks.items() if isinstance(v, dict))
    status = 200 if checks["ok"] else 503
    if is_admin_request():
        return jsonify(Redactor.of(services.settings, state.admin_token).hide_secrets_in(checks)), status
    return jsonify(public_checks(checks)), status


def public_checks(checks: dict) -> dict:
    """``checks`` as anyone may see them: ok or not per check, the harmless counts and names, a fixed reason."""
    shown: dict = {"ok": bool(checks["ok"])}
    for name, check in checks.items():
        if not isinstance(check, dict):
            continue
        view = {"ok": bool(check.get("ok"))}
        view.update({field: check[field] for field in PUBLIC_FIELDS.get(name, ()) if field in check})
        if name == "embeddings" and check.get("pending") is not None:
            view["pending"] = {"fingerprint": check["pending"].get("fingerprint")}
        if not view["ok"]:
            view["reason"] = f"{PUBLIC_REASONS.get(name, 'this check failed')}; {DETAILS_HINT}"
        shown[name] = view
    return shown
