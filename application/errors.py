"""Typed errors. Each carries the HTTP status it maps to and a message that says
what happened and what to do next; the API and the CLI print the message as is."""
from __future__ import annotations

import sys


class DocsTuneError(Exception):
    status_code = 500

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code

    def __str__(self) -> str:
        return self.message


ECHOES = "docstune_echoes"


def echoed(shown: str) -> str:
    """``shown`` (what the client sent, as a message quotes it), remembered for this request: the answer shows
    it as sent. Redacting a secret inside an echo would answer a right guess of the admin token or of a server
    folder differently from a wrong one; the server's own words around it are still redacted."""
    flask = sys.modules.get("flask")  # not loaded: no request to remember it for (the CLI)
    if flask is not None and flask.has_request_context():
        flask.g.setdefault(ECHOES, set()).add(shown)
    return shown


class BadRequest(DocsTuneError):
    status_code = 400


class NotFound(DocsTuneError):
    status_code = 404


class Conflict(DocsTuneError):
    status_code = 409


class ServiceUnavailable(DocsTuneError):
    status_code = 503


class IndexMismatchError(ServiceUnavailable):
    """The vectors in the active collection were made by another model than the configured one."""



class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot serve a request: it cannot be reached (down, wrong host, port, name,
    user or password), or it refused the request (disk full, read-only, locked). A refused
    request's transaction was rolled back, so nothing of it was saved."""

    detail: str | None = None  # what the driver said, when the message leaves it out (logs, the CLI)


def database_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """The clear 503 for a database that refused a request, or None when ``exc`` is no such
    failure (a constraint violation or a bad query is a bug, not an outage)."""
    from sqlalchemy.exc import DBAPIError, InternalError, OperationalError

    if not isinstance(exc, DBAPIError):
        return None
    lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    detail = lines[0] if lines else exc.__class__.__name__
    text = detail.lower()
    where = "DATA_DIR, or DATABASE_URL"
    if "is full" in text or "disk full" in text or "no space left" in text:
        # SQLite's SQLITE_FULL ("database or disk is full"), PostgreSQL's disk_full
        return DatabaseUnavailable(
            f"The database refused the write because the disk (or its size limit) is full ({detail}); nothing "
            f"was saved. Free some space where the database lives ({where}) and try again."
        )
    if "readonly" in text or "read-only" in text:
        # SQLite's SQLITE_READONLY ("attempt to write a readonly database"), a read-only PostgreSQL transaction
        return DatabaseUnavailable(
            f"The database refused the write because it is read-only ({detail}); nothing was saved. Make the "
            f"database and its folder writable by the server ({where}) and try again."
        )
    if not isinstance(exc, (OperationalError, InternalError)):
        return None
    if "locked" in text or "busy" in text:
        return DatabaseUnavailable(
            f"The database is busy: another process holds its write lock ({detail}); nothing was saved. "
            "Try again in a moment."
        )
    # the driver's text may name hosts and users: the server log has it, the client gets the gist
    error = DatabaseUnavailable(
        "The database is unavailable; nothing was saved. Try again in a moment; the log says why."
    )
    error.detail = f"{detail}; check the database ({where})"
    return error
