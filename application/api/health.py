"""``GET /health`` (the process answers) and ``GET /ready`` (model, vector store, database and job queue work).

``/ready`` answers 503 when a check fails, so that a load balancer keeps traffic away. Anyone
sees which check failed and a reason that names no path, host or URL; the admin
(``Authorization: Bearer <admin token>``) also sees each check's details, what each part runs on and where
(``application.readiness``) and the failing one's ``error`` (e.g. ``vector_store``: "Cannot reach Qdrant at
http://qdrant:6333: ..."), less passwords and keys. Any other token is refused (401) as on the admin routes.
"""
from __future__ import annotations

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict

from application.api.context import docstune, require_admin
from application.api.groups import ANYONE, error_responses

bp = ANYONE.blueprint("health", __name__, tag="health")


class Alive(BaseModel):
    status: str = "ok"


class Ready(BaseModel):
    """Anonymous: ``ok`` and, per check, ``ok`` with harmless counts; the admin: each part's details."""

    model_config = ConfigDict(extra="allow")
    ok: bool

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


@bp.get("/health", operation_id="health", responses={200: Alive})
def health():
    """Liveness: the process answers"""
    return jsonify({"status": "ok"})


@bp.get("/ready", operation_id="ready", responses={
    200: Ready,
    503: {"description": "Not ready (`ok` is false).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}},
    **error_responses(401, 429)})
def ready():
    """Readiness: model, vector store, database, job queue and LLM

    Anonymous: `{ok}` and each check's `ok`. With the admin token: what serves and where. A wrong token is a
    401 and spends the failed-credential budget.
    """
    if request.headers.get("Authorization") is not None:
        # a token offered is checked like on every admin route: a wrong one is a 401 that spends the
        # failed-credential budget, and while that budget is spent the details wait (429); plain /ready never does
        return admin_ready()
    checks = report()
    return jsonify(public_checks(checks)), 200 if checks["ok"] else 503


@require_admin
def admin_ready():
    from application.redaction import Redactor

    state = docstune()
    checks = report()
    return jsonify(Redactor.of(state.settings, state.admin_token).hide_secrets_in(checks)), 200 if checks["ok"] else 503


def report() -> dict:
    """Every check, with what each part runs on and where (``application.readiness``)."""
    from application.readiness import dependency_report, worker_mode

    state = docstune()
    return dependency_report(state, worker_mode(state.settings, state.jobs))


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
