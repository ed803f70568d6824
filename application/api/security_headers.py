"""The browser-side protections every response carries (``after_request``).

The web UI (``frontend/dist``) loads only its own files: one module script and one stylesheet from
``/assets``, the favicon, and ``fetch``/SSE to this origin. React sets ``style`` properties through the
DOM (which a policy without ``'unsafe-inline'`` allows), the admin pages show the training plot and
downloads as ``blob:`` URLs, and rendered Markdown may hold ``data:`` images. Nothing may frame a page of
this server (clickjacking of the admin pages), and nothing here is ever sniffed into another type.
"""
from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # conversation ids in /c/<id> URLs stay on this site
}


def add_security_headers(response):
    """``app.after_request``: the headers above, unless a route set its own."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
