"""API keys, as DocsGPT has them: an admin creates a key with a name and, optionally, the sources it may
search; a client sends it as ``api_key`` in the JSON body or as ``Authorization: Bearer <key>``. The key
identifies the owner of the conversations it creates (``owners.api_key_owner``), rate limits count per
key, and a key with sources searches only those. Only the key's sha256 is stored."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from application.db import transactions
from application.db.api_keys import ApiKey
from application.db.base import utcnow
from application.db.models import Source
from application.errors import BadRequest, NotFound
from application.request_values import quoted, some_of, text

KEY_PREFIX = "dtk_"
NAME_CHARS = 200
_LAST_USED_RESOLUTION = timedelta(minutes=5)  # last_used_at is written at most this often per key


@dataclass(frozen=True)
class KeyHolder:
    """The API key a request carries, as the routes need it."""

    id: str
    name: str
    sources: tuple[str, ...] | None  # None: every source


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _public(row: ApiKey) -> dict:
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "sources": row.sources,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None}


def _parse_name(name) -> str:
    if name is None or (isinstance(name, str) and not name.strip()) or not isinstance(name, str):
        raise BadRequest("'name' is missing: give the key a name that says who uses it (e.g. \"docs widget\").")
    name = text(name, "name", max_chars=NAME_CHARS, collapse_spaces=True)
    if not name.isprintable():
        raise BadRequest("'name' must be printable characters (no control characters).")
    return name


def _parse_sources(session, sources) -> list[str] | None:
    if sources in (None, [], ""):
        return None
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources) or len(sources) > 1000:
        raise BadRequest("'sources' must be a list of source ids (GET /api/sources lists them), or left out for all.")
    wanted = [text(s, "sources", max_chars=64) for s in dict.fromkeys(sources)]
    known = set(session.scalars(select(Source.id).where(Source.id.in_(wanted))))
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise BadRequest(f"No source with id {some_of(unknown)}; GET /api/sources lists them.")
    return wanted


def create_api_key(db, name, sources=None) -> dict:
    """A new key: its public fields and ``key``, the only time the key itself is shown."""
    name = _parse_name(name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)

    def insert(session) -> dict:
        row = ApiKey(id=uuid.uuid4().hex, name=name, key_hash=hash_key(key), prefix=key[:len(KEY_PREFIX) + 4],
                     sources=_parse_sources(session, sources), created_at=utcnow())
        session.add(row)
        session.flush()
        return {**_public(row), "key": key}

    return transactions.write(db, insert)


def list_api_keys(db) -> list[dict]:
    return transactions.read(db, lambda s: [_public(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.created_at))])


def revoke_api_key(db, key_id: str) -> dict:
    """Delete a key; its conversations stay, and no request can reach them with it any more."""

    def delete(session) -> dict:
        row = session.get(ApiKey, key_id) if isinstance(key_id, str) and len(key_id) <= 32 else None
        if row is None:
            raise NotFound(f"No API key with id {quoted(key_id)}; GET /api/admin/api_keys lists them.")
        public = _public(row)
        session.delete(row)
        return public

    return transactions.write(db, delete)


def find_api_key(db, key: str) -> KeyHolder | None:
    """The holder of ``key``, or None when no such key exists (never created, or revoked)."""
    digest = hash_key(key)

    def lookup(session) -> KeyHolder | None:
        row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
        if row is None:
            return None
        now = utcnow()
        last = row.last_used_at
        if last is not None and last.tzinfo is None:  # SQLite returns naive UTC datetimes
            last = last.replace(tzinfo=now.tzinfo)
        if last is None or now - last > _LAST_USED_RESOLUTION:
            row.last_used_at = now
        return KeyHolder(row.id, row.name, tuple(row.sources) if row.sources else None)

    return transactions.write(db, lookup)
