"""Admin: API keys (``GET``/``POST /api/admin/api_keys``, ``DELETE /api/admin/api_keys/<id>``).

A key identifies the owner of the conversations it creates (DocsGPT's ``api_key``); ``sources``, when
given, is the list of source ids it may search. The key itself is in the POST's answer only."""
from __future__ import annotations

from flask import jsonify
from pydantic import BaseModel, Field, RootModel

from application.api.context import docstune
from application.api.fields import ID_CHARS, Text
from application.api.groups import ADMIN
from application.api.openapi import Error
from application.chat.api_keys import NAME_CHARS, create_api_key, list_api_keys, revoke_api_key

bp = ADMIN.blueprint("api_keys", __name__, tag="admin")


class ApiKeyRequest(BaseModel):
    name: Text(NAME_CHARS, collapse_spaces=True) = Field(description="Who uses the key (printable characters).")
    sources: list[Text(ID_CHARS, strip=False)] | None = Field(
        None, max_length=1000, description="The source ids it may search (GET /api/sources); left out: all.")


class ApiKeyPath(BaseModel):
    key_id: Text(ID_CHARS, strip=False) = Field(description="The key's `id` (not the key).")


class ApiKey(BaseModel):
    """An API key as the admin list shows it: never the key itself."""

    id: str
    name: str
    prefix: str
    sources: list[str] | None = Field(description="The source ids it may search; null: every source.")
    created_at: str | None
    last_used_at: str | None


class NewApiKey(ApiKey):
    key: str = Field(description="The key: shown this once, never again.")


@bp.get("/api/admin/api_keys", operation_id="listApiKeys", responses={200: RootModel[list[ApiKey]]})
def list_keys():
    """The API keys (never the keys themselves), oldest first"""
    return jsonify(list_api_keys(docstune().db))


@bp.post("/api/admin/api_keys", operation_id="createApiKey", responses={201: NewApiKey})
def create_key(body: ApiKeyRequest):
    """Create an API key"""
    return jsonify(create_api_key(docstune().db, body.name, body.sources)), 201


@bp.delete("/api/admin/api_keys/<key_id>", operation_id="revokeApiKey", responses={200: ApiKey, 404: Error})
def revoke_key(path: ApiKeyPath):
    """Revoke an API key (its conversations stay)"""
    return jsonify(revoke_api_key(docstune().db, path.key_id))
