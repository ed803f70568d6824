"""``GET /health`` (the process answers) and ``GET /ready`` (model, vector store and database work)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from application.api.context import chat_state

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready():
    state = chat_state()
    checks = state.services.ready()
    checks["llm"] = {"ok": True, "name": state.llm.name}
    return jsonify(checks), 200 if checks.get("ok") else 503
