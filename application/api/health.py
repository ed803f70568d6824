"""``GET /health`` (the process answers) and ``GET /ready`` (model, vector store, database and job queue work).

``/ready`` answers 503 with the failing check's ``error`` (e.g. ``vector_store``: "Cannot reach
Qdrant at http://qdrant:6333: ...") so that a load balancer keeps traffic away and a person
sees why.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from application.api.context import chat_state

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready():
    from application.jobs.queue import queue_check

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
    return jsonify(checks), 200 if checks["ok"] else 503
