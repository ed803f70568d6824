"""A small web site on 127.0.0.1 (a free port), served from a thread: the test bed of the web fetcher.

Example::

    from tests.web_site import Page, Redirect, html_page, serve_site

    with serve_site() as site:                 # the standard docs site, DOCS_SITE
        site.url("/docs/")                     # "http://127.0.0.1:<port>/docs/"
        fetch_web(site.url("/docs/"), "crawl", WebLimits(delay_seconds=0, allow_private=True), workdir)
        site.pages["/docs/install"] = html_page("Installing", "<p>The new text.</p>")  # change a page
        del site.pages["/docs/configure"]                                              # now a 404
        site.pages["/docs/new"] = html_page("New", "<p>A page added later.</p>")       # add one
        site.requested("/docs/private/keys")   # how often a path was asked for (0: never)
        site.requests[-1].user_agent           # every request seen, oldest first
        site.sitemap_xml(["/docs/install"])    # the bytes of a sitemap of this site (to gzip, say)

``serve_site(pages=None, login_required=False)`` starts the site and stops it on leaving the ``with``;
``pages`` (default: a fresh copy of ``DOCS_SITE``) maps a path to what it serves. ``site.pages`` is that
very dict, so a test changes the site by changing it (a query string is not part of the key). A value is

* ``str``: an HTML page (``text/html; charset=utf-8``), e.g. from ``html_page(title, body, links)``,
  which wraps the main text in the navigation, header and footer boilerplate below;
* ``Page(body, content_type, status, headers)``: any other answer (``robots_txt(...)``, a PDF, a 500);
* ``Redirect(location, status=302)``;
* ``Sitemap(paths)`` / ``SitemapIndex(paths)``: a ``<urlset>`` / ``<sitemapindex>`` of this site's
  absolute URLs, written when asked for (the port is only known then);
* ``Huge(size, send_length=True)``: ``size`` bytes of HTML produced lazily, 64 KiB at a time (never
  held whole); ``site.bytes_sent[path]`` says how much of it went out before the client hung up;
* ``Hang(seconds)``: accepts the request and answers nothing for ``seconds`` (or until the site stops).

A path that is missing answers 404. With ``login_required`` (or ``site.login_required = True``) every
path except ``/login`` and ``/robots.txt`` redirects to ``/login``, which is a sign-in form (``LOGIN_PAGE``).

The boilerplate around every ``html_page`` contains ``BOILERPLATE_PHRASES`` and never the main text,
so a test can assert that only the main text was extracted. ``DOCS_SITE`` is laid out as:

* ``/`` (home), ``/blog/``, ``/blog/release-2``: outside the ``/docs/`` folder;
* ``/docs/`` links ``install``, ``configure``, ``manual.pdf``, ``notes.txt``, ``logo.png``,
  ``style.css``, ``install#usage``, ``install?ref=index``, ``private/keys``, ``old-install`` and
  ``https://example.invalid/elsewhere``;
* ``/docs/install`` (depth 1) → ``/docs/advanced/`` (depth 2) → ``/docs/advanced/tuning`` (depth 3);
* ``/docs/old-install`` → ``/docs/older-install`` → ``/docs/upgrade``: a redirect chain of two hops;
* ``/docs/loop-a`` ⇄ ``/docs/loop-b``: a redirect loop; ``/docs/huge`` (50 MB, with Content-Length),
  ``/docs/huge-unsized`` (50 MB, no length), ``/docs/slow`` (never answers), ``/docs/video`` (video/mp4);
* ``/robots.txt`` disallows ``/docs/private/``; ``/sitemap.xml`` lists install, configure, manual.pdf and
  old-install; ``/sitemap_index.xml`` lists ``/sitemap-docs.xml`` and ``/sitemap-blog.xml``;
  ``/sitemap-trouble.xml`` lists loop-a, huge, video and configure.

The server is a ``ThreadingHTTPServer`` with daemon threads that are not joined on close, and ``Hang``
waits on an event the stop sets: a request in progress never holds up a test's teardown.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CHUNK_BYTES = 64 << 10


@dataclass
class Page:
    body: str | bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Redirect:
    location: str
    status: int = 302


@dataclass
class Sitemap:
    paths: Sequence[str]


@dataclass
class SitemapIndex:
    paths: Sequence[str]


@dataclass
class Huge:
    size: int = 50 << 20
    send_length: bool = True
    content_type: str = "text/html; charset=utf-8"


@dataclass
class Hang:
    seconds: float = 30.0


@dataclass(frozen=True)
class SeenRequest:
    path: str  # with its query string, as sent
    user_agent: str
    at: float  # time.monotonic()


#: in the boilerplate of every html_page, never in its main text
BOILERPLATE_PHRASES = ("Example Widgets handbook", "Cookie settings", "Careers at Example",
                       "Sign up for our newsletter")


def html_page(title: str, body: str, links: Sequence[tuple[str, str]] = ()) -> str:
    """A whole HTML page: ``body`` (HTML) as the main text, under the site's navigation and header and
    above its footer; ``links`` ((href, text) pairs) are listed at the end of the main text."""
    link_list = "".join(f'<li><a href="{escape(href)}">{escape(text)}</a></li>' for href, text in links)
    see_also = f"<h2>See also</h2><ul>{link_list}</ul>" if links else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | Example Docs</title>
<link rel="stylesheet" href="/docs/style.css"></head>
<body>
<header class="site-header"><p class="tagline">Example Widgets handbook: everything about widgets</p></header>
<nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/docs/">Documentation</a></li>
<li><a href="/blog/">Blog</a></li><li><a href="/careers">Careers at Example</a></li></ul></nav>
<main><article><h1>{escape(title)}</h1>
{body}
{see_also}
</article></main>
<aside class="newsletter"><p>Sign up for our newsletter and get widget news every week.</p></aside>
<footer><p>© 2026 Example Widgets Ltd. Imprint. Privacy. Cookie settings.</p></footer>
</body></html>
"""


def robots_txt(disallow: Sequence[str] = (), crawl_delay: int | None = None, user_agent: str = "*") -> Page:
    lines = [f"User-agent: {user_agent}"] + [f"Disallow: {path}" for path in disallow]
    if crawl_delay is not None:
        lines.append(f"Crawl-delay: {crawl_delay}")
    return Page("\n".join(lines) + "\n", "text/plain; charset=utf-8")


def tiny_pdf(text: str) -> bytes:
    """A valid one-page PDF whose text layer is ``text`` (ASCII, one line)."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _paragraphs(*texts: str) -> str:
    return "\n".join(f"<p>{text}</p>" for text in texts)


LOGIN_PAGE = f"""<!DOCTYPE html>
<html><head><title>Sign in | Example Intranet</title></head><body>
<nav><a href="/">Home</a> <a href="/help">Help</a></nav>
<main><form action="/login" method="post">
<label>User name <input name="user"></label><label>Password <input type="password" name="password"></label>
<button>Sign in</button> <a href="/forgot-password">Forgot your password?</a>
</form></main>
<footer><p>© 2026 Example Widgets Ltd. Cookie settings.</p></footer>
</body></html>
"""

#: a site that serves nothing but a sign-in form: ``serve_site(dict(LOGIN_SITE), login_required=True)``
LOGIN_SITE: dict[str, object] = {"/login": LOGIN_PAGE}

DOCS_SITE: dict[str, object] = {
    "/": html_page("Welcome to Example Widgets", _paragraphs(
        "Example Widgets makes widgets for every workshop. This site holds the handbook and the blog.",
        "Start with the documentation if you are new, or read the blog for the latest releases."),
        links=[("/docs/", "Documentation"), ("/blog/", "Blog")]),
    "/blog/": html_page("Blog", _paragraphs(
        "News from the widget workshop, one post per release, written by the people who build them."),
        links=[("/blog/release-2", "Release 2")]),
    "/blog/release-2": html_page("Release 2 is out", _paragraphs(
        "Release 2 brings quieter gears and a longer warranty for every widget sold this year.",
        "Upgrading takes five minutes; the handbook's upgrade page lists every step.")),
    "/docs/": html_page("Widget handbook", _paragraphs(
        "This handbook explains how to install, configure and tune your widget.",
        "Each chapter stands on its own; read them in any order you like."),
        links=[("install", "Installing"), ("configure", "Configuring"), ("manual.pdf", "The printed manual"),
               ("notes.txt", "Release notes"), ("logo.png", "Logo"), ("style.css", "Styles"),
               ("install#usage", "Usage"), ("install?ref=index", "Install again"),
               ("private/keys", "Private keys"), ("old-install", "Old install page"),
               ("https://example.invalid/elsewhere", "Another site")]),
    "/docs/install": html_page("Installing the widget", """
<p>Unpack the widget and place it on a level surface. Keep the packaging until the widget runs.</p>
<h2>Requirements</h2>
<p>The widget needs a 12 volt supply and a free USB port for its configuration cable.</p>
<h2 id="usage">Usage</h2>
<p>Press the green button for two seconds; the widget hums quietly once it is ready for work.</p>
""", links=[("/docs/advanced/", "Advanced topics")]),
    "/docs/advanced/": html_page("Advanced topics", _paragraphs(
        "These chapters are for people who already run a widget every day and want more from it."),
        links=[("tuning", "Tuning")]),
    "/docs/advanced/tuning": html_page("Tuning the gears", _paragraphs(
        "Tuning the gears lowers the noise of a widget by half; turn the brass screw a quarter turn.")),
    "/docs/configure": html_page("Configuring the widget", """
<p>The widget reads its settings from the file widget.conf, one setting per line.</p>
<h2>Settings</h2>
<table><tr><th>Setting</th><th>Default</th><th>Meaning</th></tr>
<tr><td>GEAR_RATIO</td><td>3</td><td>how fast the widget turns</td></tr>
<tr><td>QUIET_MODE</td><td>off</td><td>halves the speed at night</td></tr></table>
"""),
    "/docs/upgrade": html_page("Upgrading to release 2", _paragraphs(
        "Upgrading replaces the gear box; release 2 widgets keep their settings file as it is.")),
    "/docs/private/keys": html_page("Private keys", _paragraphs("The master key of every widget is 1234-5678.")),
    "/docs/manual.pdf": Page(tiny_pdf("The printed widget manual explains the green button."), "application/pdf"),
    "/docs/notes.txt": Page("Release notes: release 2 adds quieter gears.\n", "text/plain; charset=utf-8"),
    "/docs/logo.png": Page(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
    "/docs/style.css": Page("body { color: black }\n", "text/css"),
    "/docs/video": Page(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4"),
    "/docs/old-install": Redirect("/docs/older-install", 301),
    "/docs/older-install": Redirect("/docs/upgrade", 302),
    "/docs/loop-a": Redirect("/docs/loop-b"),
    "/docs/loop-b": Redirect("/docs/loop-a"),
    "/docs/huge": Huge(),
    "/docs/huge-unsized": Huge(send_length=False),
    "/docs/slow": Hang(),
    "/robots.txt": robots_txt(disallow=["/docs/private/"]),
    "/sitemap.xml": Sitemap(["/docs/install", "/docs/configure", "/docs/manual.pdf", "/docs/old-install"]),
    "/sitemap_index.xml": SitemapIndex(["/sitemap-docs.xml", "/sitemap-blog.xml"]),
    "/sitemap-docs.xml": Sitemap(["/docs/install", "/docs/configure"]),
    "/sitemap-blog.xml": Sitemap(["/blog/release-2"]),
    "/sitemap-trouble.xml": Sitemap(["/docs/loop-a", "/docs/huge", "/docs/video", "/docs/configure"]),
}


class WebSite:
    """The running site; see the module's docstring."""

    def __init__(self, pages: dict[str, object], login_required: bool = False):
        self.pages = pages
        self.login_required = login_required
        self.requests: list[SeenRequest] = []
        self.bytes_sent: dict[str, int] = {}
        self._stopping = threading.Event()
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"web-site-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def requested(self, path: str) -> int:
        """How many requests asked for ``path`` (compared without the query string)."""
        return sum(1 for seen in self.requests if urlsplit(seen.path).path == path)

    def start(self) -> WebSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases every Hang
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- answering -----------------------------------------------------------------------------
    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        self.requests.append(SeenRequest(handler.path, handler.headers.get("User-Agent", ""), time.monotonic()))
        if self.login_required and path not in ("/login", "/robots.txt"):
            value: object = Redirect("/login")
        else:
            value = self.pages.get(path, Page(html_page("Not found", "<p>No such page.</p>"), status=404))
        if isinstance(value, str):
            value = Page(value)
        if isinstance(value, Redirect):
            self._send(handler, value.status, "text/html; charset=utf-8", b"", {"Location": value.location})
        elif isinstance(value, (Sitemap, SitemapIndex)):
            self._send(handler, 200, "application/xml", self._sitemap(value))
        elif isinstance(value, Huge):
            self._send_huge(handler, path, value)
        elif isinstance(value, Hang):
            self._stopping.wait(value.seconds)
            handler.close_connection = True
        elif isinstance(value, Page):
            body = value.body.encode("utf-8") if isinstance(value.body, str) else value.body
            self._send(handler, value.status, value.content_type, body, value.headers)
        else:
            raise TypeError(f"site.pages[{path!r}] is a {type(value).__name__}, not a page")

    def sitemap_xml(self, paths: Sequence[str], index: bool = False) -> bytes:
        """The XML of a ``<urlset>`` (or with ``index`` a ``<sitemapindex>``) of this site's ``paths``."""
        return self._sitemap(SitemapIndex(paths) if index else Sitemap(paths))

    def _sitemap(self, value: Sitemap | SitemapIndex) -> bytes:
        if isinstance(value, Sitemap):
            entries = "".join(f"<url><loc>{escape(self.url(path))}</loc></url>" for path in value.paths)
            root = "urlset"
        else:
            entries = "".join(f"<sitemap><loc>{escape(self.url(path))}</loc></sitemap>" for path in value.paths)
            root = "sitemapindex"
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"{entries}</{root}>\n").encode("utf-8")

    @staticmethod
    def _send(handler, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _send_huge(self, handler, path: str, value: Huge) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", value.content_type)
        if value.send_length:
            handler.send_header("Content-Length", str(value.size))
        else:
            handler.send_header("Connection", "close")  # the body ends when the connection does
            handler.close_connection = True
        handler.end_headers()
        chunk = b"<p>" + b"widget " * ((CHUNK_BYTES - 8) // 7) + b"</p>\n"
        chunk = chunk + b" " * (CHUNK_BYTES - len(chunk))
        sent = 0
        self.bytes_sent[path] = 0
        while sent < value.size and not self._stopping.is_set():
            piece = chunk[: value.size - sent]
            handler.wfile.write(piece)  # raises once the client has hung up
            sent += len(piece)
            self.bytes_sent[path] = sent


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection does not keep its thread for longer
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait for an ACK between them

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        try:
            self.server.site._answer(self)
        except (BrokenPipeError, ConnectionResetError):  # the client hung up (a size limit, a timeout)
            self.close_connection = True

    def log_message(self, format, *args) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never wait for a Hang or a Huge on close

    def __init__(self, site: WebSite):
        self.site = site
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address) -> None:  # a client that hung up is no error here
        pass


@contextmanager
def serve_site(pages: dict[str, object] | None = None, login_required: bool = False) -> Iterator[WebSite]:
    """Serve ``pages`` (a fresh copy of ``DOCS_SITE`` by default) until the ``with`` ends."""
    site = WebSite(dict(DOCS_SITE) if pages is None else pages, login_required=login_required).start()
    try:
        yield site
    finally:
        site.stop()
