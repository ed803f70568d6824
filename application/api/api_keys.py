"""Admin: API keys (``GET``/``POST /api/admin/api_keys``, ``DELETE /api/admin/api_keys/<id>``).

A key identifies the owner of the conversations it creates (DocsGPT's ``api_key``); ``sources``, when
given, is the list of source ids it may search. The key itself is in the POST's answer only."""
from __future__ import annotations

from flask import Blueprint, jsonify

from application.api.context import get_services, json_body, require_admin
from application.chat.api_keys import create_api_key, list_api_keys, revoke_api_key

bp = Blueprint("api_keys", __name__)


@bp.get("/api/admin/api_keys")
@require_admin
def list_keys():
    return jsonify(list_api_keys(get_services().db))


@bp.post("/api/admin/api_keys")
@require_admin
def create_key():
    body = json_body()
    return jsonify(create_api_key(get_services().db, body.get("name"), body.get("sources"))), 201


@bp.delete("/api/admin/api_keys/<key_id>")
@require_admin
def revoke_key(key_id: str):
    return jsonify(revoke_api_key(get_services().db, key_id))
