"""A base URL's ``user:password`` as the LLM clients send it: kept out of the URL (the SDKs and httpx log
the URL with every request) and sent as basic auth instead, as the HTTP clients would have done."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from application.redaction import basic_authorization


def split_credentials(url: str | None) -> tuple[str | None, dict[str, str]]:
    """(the URL without ``user:password@``, ``{"Authorization": "Basic …"}`` with them, or ``{}``).

    Example::

        split_credentials("http://me:pw@llm:8080/v1")  # ("http://llm:8080/v1", {"Authorization": "Basic bWU6cHc="})
    """
    authorization = basic_authorization(url) if url else None
    if authorization is None:
        return url, {}
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), {"Authorization": authorization}
