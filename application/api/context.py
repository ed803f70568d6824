"""One small accessor per resource (like flaskr's ``get_db``), the owner of the
request, the admin check, and the JSON body."""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, g, request

from application.chat.owners import OWNER_COOKIE, OWNER_HEADER, api_key_owner, new_owner_token, owner_key
from application.container import DocsTune
from application.errors import BadRequest, DocsTuneError, ServiceUnavailable
from application.settings import Settings


class AdminAuthRequired(DocsTuneError):
    status_code = 401


def docstune() -> DocsTune:
    """The app's container (its settings, LLM, template and admin token over the shared resources)."""
    return current_app.extensions["docstune"]


def get_settings() -> Settings:
    return docstune().settings


class ApiKeyRefused(DocsTuneError):
    status_code = 401


_NO_KEY = object()
_KEY_ENVIRON = "docstune.api_key"


def _bearer() -> str | None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() or None if scheme.lower() == "bearer" else None


def offered_api_key():
    """What the request offers as an API key, unchecked: ``api_key`` in the JSON body, else the bearer token
    unless it is the admin's own; None without one."""
    body = request.get_json(silent=True) if request.is_json else None
    key = body.get("api_key") if isinstance(body, dict) else None
    if key not in (None, ""):
        return key
    return None if is_admin_request() else _bearer()


def current_api_key():
    """The API key this request carries (``api_key`` in the JSON body, or ``Authorization: Bearer <key>``
    on a route that is not an admin route), as a ``KeyHolder``; None without one. A key that does not
    exist (never created, or revoked) is a 401: the request must not silently become anonymous."""
    cached = request.environ.get(_KEY_ENVIRON, _NO_KEY)  # per request (g may outlive one, e.g. in tests)
    if cached is not _NO_KEY:
        return cached
    from application.chat.api_keys import find_api_key

    key = offered_api_key()
    holder = None
    if key is not None:
        if not isinstance(key, str) or not 8 <= len(key) <= 256 or not key.isascii():
            raise ApiKeyRefused("'api_key' is not an API key of this server; an admin creates keys "
                                "(docstune keys create, or POST /api/admin/api_keys).")
        holder = find_api_key(docstune().db, key)
        if holder is None:
            raise ApiKeyRefused("Unknown or revoked API key; ask an admin for a valid one (docstune keys list).")
    request.environ[_KEY_ENVIRON] = holder
    return holder


def rate_limit_key() -> str:
    """Whom a rate limit counts: the API key, when the request carries a valid one, else the client address."""
    from flask_limiter.util import get_remote_address

    try:
        holder = current_api_key()
    except Exception:  # noqa: BLE001  (a bad key, a body too large: the route itself answers with the error)
        holder = None
    return f"apikey:{holder.id}" if holder else get_remote_address()


def current_source_filter() -> tuple[str, ...] | None:
    """The sources this request may search: its API key's, or None (every source)."""
    holder = current_api_key()
    return holder.sources if holder else None


def current_owner(create: bool = False) -> str | None:
    """The owner key of this client: its API key's owner, else its owner token's; with ``create``, a client
    without either gets a token (sent back as a cookie and an ``X-Owner-Token`` header)."""
    holder = current_api_key()
    if holder is not None:
        return api_key_owner(holder.id)
    token = request.headers.get(OWNER_HEADER) or request.cookies.get(OWNER_COOKIE)
    if token:
        return owner_key(token)
    if not create:
        return None
    g.new_owner_token = new_owner_token()
    return owner_key(g.new_owner_token)


def hand_out_owner_token(response):
    token = g.pop("new_owner_token", None)
    if token:
        response.headers[OWNER_HEADER] = token
        response.set_cookie(
            OWNER_COOKIE, token, max_age=365 * 24 * 3600, httponly=True, samesite="Lax", secure=request.is_secure
        )
    return response


class UnsupportedMediaType(DocsTuneError):
    status_code = 415


def json_body():
    """The request's JSON object; a body that is not JSON is a 400 with the reason. The body must be sent as
    ``Content-Type: application/json``: a page of another site can send ``text/plain`` (a "simple request")
    without asking, but never JSON, so this also keeps cross-site forms from writing."""
    if request.get_data(cache=True) and not request.is_json:
        raise UnsupportedMediaType(
            f"Send the body as JSON with Content-Type: application/json (not {request.mimetype or 'none'!r})."
        )
    body = request.get_json(silent=True)
    if body is None:
        if request.get_data(cache=True):
            raise BadRequest("The request body is not valid JSON.")
        raise BadRequest("The request needs a JSON body (Content-Type: application/json).")
    if not isinstance(body, dict):
        raise BadRequest("The JSON body must be an object.")
    return body


def is_admin_request() -> bool:
    """Whether the request carries the admin token (``Authorization: Bearer <ADMIN_TOKEN>``)."""
    expected = docstune().admin_token
    given = _bearer()
    return bool(expected and given) and hmac.compare_digest(given.encode(), expected.encode())


def check_admin() -> None:
    """``Authorization: Bearer <ADMIN_TOKEN>``, compared in constant time (every route of the admin group)."""
    if not docstune().admin_token:
        raise ServiceUnavailable(
            "Admin routes are off: set ADMIN_TOKEN, or start the server with `docstune serve`, which creates one."
        )
    if not is_admin_request():
        raise AdminAuthRequired("This route needs 'Authorization: Bearer <admin token>' (ADMIN_TOKEN).")


def require_admin(view):
    """:func:`check_admin` before ``view`` (a route outside the admin group)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        check_admin()
        return view(*args, **kwargs)

    return wrapper
