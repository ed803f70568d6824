"""One error handler: every failure is ``{"error": "<what happened and what to do>"}`` with its status."""
from __future__ import annotations

import logging
import re
from typing import Callable

from flask import current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, TooManyRequests

from application.errors import ECHOES, BadRequest, DocsTuneError, database_unavailable

log = logging.getLogger(__name__)


def client_text(message: str) -> str:
    """``message`` as the client of this request may read it: passwords and keys never; hosts, URLs and
    server folders only the admin (``application.redaction``: a driver's or an SDK's text may name them)."""
    from application.api.context import docstune, is_admin_request
    from application.redaction import Redactor

    state = docstune()
    redactor = Redactor.of(state.settings, state.admin_token)
    return redacted_around_echoes(message, redactor.hide_secrets if is_admin_request() else redactor.hide_addresses)


def redacted_around_echoes(message: str, redact: Callable[[str], str]) -> str:
    """``redact`` applied to ``message`` except where it quotes the client's own input (``application.errors.echoed``):
    an echo is shown as sent, so that the answer never depends on whether the input was a secret."""
    echoes = g.get(ECHOES)
    if not echoes:
        return redact(message)
    pattern = re.compile("|".join(re.escape(echo) for echo in sorted(echoes, key=len, reverse=True)))
    shown, start = [], 0
    for match in pattern.finditer(message):
        shown += [redact(message[start:match.start()]), match.group(0)]
        start = match.end()
    return "".join(shown) + redact(message[start:])


def register_error_handlers(app) -> None:
    @app.errorhandler(DocsTuneError)
    def docstune_error(exc: DocsTuneError):
        response = jsonify({"error": client_text(exc.message)})
        if exc.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="docstune admin"'
        return response, exc.status_code

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, RequestEntityTooLarge):
            message = "The request is too large; see MAX_CONTENT_LENGTH (JSON) and UPLOAD_MAX_BYTES (uploads)."
        elif isinstance(exc, TooManyRequests):
            message = f"Too many requests (limit: {exc.description}); wait a little and try again."
        else:
            message = exc.description or exc.name
        response = exc.get_response()
        response.data = jsonify({"error": message}).get_data()
        response.content_type = "application/json"
        return response

    @app.errorhandler(RecursionError)
    def nested_too_deeply(exc: RecursionError):
        # the JSON decoder (and any code that walks what it decoded) recurses once per level of nesting:
        # only a client's body nests thousands deep. Answered as a 400 by the route's own error handler.
        log.warning("A request nested too deeply to read: %s %s", request.method, request.path)
        return current_app.handle_user_exception(BadRequest(
            "The request body is nested too deeply to read (JSON arrays or objects hundreds of levels "
            "deep); send a flatter body."
        ))

    @app.errorhandler(SQLAlchemyError)
    def database_error(exc: SQLAlchemyError):
        # every route writes in one transaction, rolled back when it raises: a disk that is
        # full, a read-only file or a database that is gone is a 503 with nothing saved
        error = database_unavailable(exc)
        if error is None:
            return unexpected_error(exc)
        log.warning("The database refused a request: %s", error.detail or error.message)
        return jsonify({"error": error.message}), error.status_code

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        from plugins.base import EmbeddingModelError

        if isinstance(exc, EmbeddingModelError):
            log.warning("The embedding model failed: %s", exc)
            return jsonify({"error": client_text(str(exc))}), 503
        log.exception("Unhandled error")
        return jsonify({"error": "Internal error; it was logged on the server."}), 500
