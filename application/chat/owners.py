"""Who owns a conversation: the client holds a random owner token (cookie or
``X-Owner-Token`` header); the database keeps only its sha256."""
from __future__ import annotations

import hashlib
import re
import secrets

from application.errors import BadRequest

OWNER_HEADER = "X-Owner-Token"
OWNER_COOKIE = "docstune_owner"
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{8,256}$")


def new_owner_token() -> str:
    return secrets.token_urlsafe(32)


def owner_key(token: str) -> str:
    """The stored identity of a token holder (also the ``voter`` of exported feedback)."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise BadRequest(
            f"The owner token ({OWNER_HEADER} header or {OWNER_COOKIE} cookie) must be 8 to 256 characters "
            "of letters, digits and ._~+/=-"
        )
    return hashlib.sha256(token.encode()).hexdigest()


def api_key_owner(key_id: str) -> str:
    """The stored identity of the conversations an API key creates (all requests with that key share it)."""
    return f"apikey:{key_id}"
