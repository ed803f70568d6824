"""One small accessor per resource (like flaskr's ``get_db``), the owner of the
request, the admin check, and the JSON body."""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from functools import wraps

from flask import current_app, g, request

from application.chat.owners import OWNER_COOKIE, OWNER_HEADER, new_owner_token, owner_key
from application.errors import BadRequest, DocsTuneError, ServiceUnavailable


class AdminAuthRequired(DocsTuneError):
    status_code = 401


@dataclass
class ChatState:
    """Everything an app serves with; built once by ``create_app``."""

    settings: object
    services: object
    llm: object
    template: object
    tasks: object
    admin_token: str | None
    owns_services: bool = True
    closed: bool = field(default=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.tasks.shutdown(wait=True)  # an ingestion in progress finishes (it is not resumable)
        if self.owns_services:
            self.services.close()


def chat_state() -> ChatState:
    return current_app.extensions["docstune"]


def get_services():
    return chat_state().services


def get_settings():
    return chat_state().settings


def current_owner(create: bool = False) -> str | None:
    """The owner key of this client; with ``create``, a client without a token gets one
    (sent back as a cookie and an ``X-Owner-Token`` header)."""
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


def json_body():
    """The request's JSON object; a body that is not JSON is a 400 with the reason."""
    body = request.get_json(force=True, silent=True)
    if body is None:
        if request.get_data(cache=True):
            raise BadRequest("The request body is not valid JSON.")
        raise BadRequest("The request needs a JSON body (Content-Type: application/json).")
    if not isinstance(body, dict):
        raise BadRequest("The JSON body must be an object.")
    return body


def require_admin(view):
    """``Authorization: Bearer <ADMIN_TOKEN>``, compared in constant time."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        expected = chat_state().admin_token
        if not expected:
            raise ServiceUnavailable(
                "Admin routes are off: set ADMIN_TOKEN, or start the server with `docstune serve`, which creates one."
            )
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise AdminAuthRequired("This route needs 'Authorization: Bearer <admin token>' (ADMIN_TOKEN).")
        return view(*args, **kwargs)

    return wrapper
