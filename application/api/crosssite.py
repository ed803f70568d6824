"""Which other sites may call the API, and how (CORS, and the cross-site rule for writes).

* **Reads and writes from this server's own pages** (the web UI) carry the owner cookie; nothing changes.
* **A page of another site** (DocsGPT's widget embedded on a docs site, its React app on another port)
  is served only when ``CORS_ALLOWED_ORIGINS`` names its origin, or is ``*``: then the public chat routes
  answer its preflights (flask-cors, attached to the public chat group in ``groups.py``) — without credentials, so the browser never sends the cookie along.
  With ``*`` every such request must carry an API key (``api_key`` in the body or ``Authorization: Bearer``).
* **A write with the owner cookie from another site is refused** (403), whatever the settings: browsers
  attach the cookie to a "simple" cross-site POST (a form, ``fetch(..., {mode: "no-cors"})``) from the same
  *site* (another port or subdomain), so the cookie alone never proves that the visitor meant it.
  ``json_body`` also refuses bodies that are not ``application/json``, which no page can send cross-site
  without a preflight.

Cross-site is read from ``Sec-Fetch-Site`` (every current browser sends it) and else from ``Origin``;
a client that sends neither (curl, a server, an SDK) is not a browser page and is not checked.
"""
from __future__ import annotations

from flask import request

from application.chat.owners import OWNER_COOKIE, OWNER_HEADER
from application.errors import DocsTuneError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# DocsGPT's React app sends an Idempotency-Key with every question (DocsTune does not act on it)
ALLOWED_HEADERS = ("Content-Type", "Authorization", OWNER_HEADER, "Idempotency-Key")


class CrossSiteRefused(DocsTuneError):
    status_code = 403


def request_origin() -> str:
    """This server's own origin as the client addressed it (behind trusted proxies: as the proxy forwarded it)."""
    return request.host_url.rstrip("/")


def is_cross_site() -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if fetch_site:
        return fetch_site in ("cross-site", "same-site")
    origin = request.headers.get("Origin")
    return origin is not None and origin.rstrip("/") != request_origin()


def _listed(origin: str | None, allowed: tuple[str, ...]) -> bool:
    return origin is not None and origin.rstrip("/") in allowed


def check_cross_site_write(settings) -> None:
    """Before every route of the groups with the cross-site rule (``groups.py``): refuse a cross-site write that only the cookie authenticates, and one from a site
    ``CORS_ALLOWED_ORIGINS`` does not name unless it carries an API key."""
    from application.api.context import current_api_key, is_admin_request

    if request.method not in UNSAFE_METHODS or not is_cross_site():
        return
    if is_admin_request():
        return  # the admin token is a header no page of another site can add without knowing it
    has_key = current_api_key() is not None
    explicit = _listed(request.headers.get("Origin"), tuple(o for o in settings.cors_origins if o != "*"))
    if not has_key and not request.headers.get(OWNER_HEADER) and request.cookies.get(OWNER_COOKIE):
        raise CrossSiteRefused(
            "A write from another site's page cannot use this site's owner cookie. Call the API from this "
            "server's own pages, or send an API key ('api_key' in the body, or Authorization: Bearer <key>)."
        )
    if not has_key and not explicit:
        raise CrossSiteRefused(
            "Requests from another site's page need an API key ('api_key' in the body, or Authorization: "
            "Bearer <key>), or that site's origin in CORS_ALLOWED_ORIGINS on the server."
        )

