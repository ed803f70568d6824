"""Typed errors. Each carries the HTTP status it maps to and a message that says
what happened and what to do next; the API and the CLI print the message as is."""
from __future__ import annotations


class DocsTuneError(Exception):
    status_code = 500

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code

    def __str__(self) -> str:
        return self.message


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
