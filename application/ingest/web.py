"""A web source: one page, a sitemap, or a site crawled from a root, read into local files for ingestion.

Example::

    limits = WebLimits(max_pages=50, max_depth=2)
    url = check_url("https://docs.example.com/guide/", limits)     # the normalised URL, or SourceError
    result = fetch_web(url, "auto", limits, workdir)
    result.documents   # FetchedDocument per page: workdir/<n>.md (main text), <n>.pdf, <n>.txt
    result.failed      # (url, one line) per page that could not be read
    result.complete    # False when max_pages or a failed listing cut the listing short

Modes: ``page`` reads that one page. ``sitemap`` reads every page a sitemap (``<urlset>``, or a
``<sitemapindex>`` of them) lists. ``crawl`` reads the root page and follows its ``<a href>`` links,
breadth first, to pages of the same site (scheme, host and port) in the root's folder (the root
``https://host/docs/`` or ``https://host/docs`` covers ``/docs/...``), up to ``max_depth`` links away
and ``max_pages`` pages; fragments and query strings of links are dropped (sorting and session
parameters would turn one page into many), and links to images, styles, scripts, archives and media
are not followed. ``auto`` reads a sitemap as one and crawls anything else (``max_depth=0``: just the
page). ``include``/``exclude`` globs match a page's URL path the way a git source's globs match a file
path (``docs/**``, ``*.pdf``, ``/blog/``); a page that does not match is neither read nor followed,
except the crawl's root, whose links are always followed.

Each HTML page is reduced to its main text by trafilatura, as Markdown with its headings and tables
(navigation, header, footer, sidebars, sign-in forms and link lists are not main text), and written as
``<n>.md`` under a ``# <title>`` line; a PDF is saved as ``<n>.pdf``, plain text as ``<n>.txt``,
Markdown as ``<n>.md``; any other type is skipped. A document's ``uri`` is its URL after redirects
(normalised, without user name or password), ``origin`` the URL it was listed or linked as.

Politeness: robots.txt is honoured per site (RFC 9309: a 4xx robots.txt allows everything, an
unreachable one nothing), its Crawl-delay replaces ``delay_seconds`` when larger, requests to one host
are ``delay_seconds`` apart, and the User-Agent names DocsTune.

Safety: only http(s). Every connection, to the start URL, a redirect's target, a sitemap's entry or a
robots.txt, is made by ``_CheckedBackend``: it resolves the host itself, refuses it if any address is
loopback, private, link-local (169.254.169.254, the cloud metadata service), multicast, reserved or
unspecified (unless ``allow_private``), and connects to an address it checked: a DNS answer that
changes between a check and the connect (DNS rebinding) cannot reach an internal address. Redirects
are followed one hop at a time, so each hop is checked. Proxies from the environment are not used
(a proxy would make the connection, not us). A response is read as a stream and dropped as soon as it
exceeds ``max_bytes``; one that stalls for ``timeout_seconds``, or takes longer than
``WHOLE_RESPONSE_TIMEOUTS`` times that in all, is dropped too.
"""
from __future__ import annotations

import codecs
import ipaddress
import mimetypes
import re
import socket
import time
import urllib.robotparser
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from application.ingest.documents import FetchedDocument, FetchResult, SourceError
from application.ingest.git import matches_pattern
from application.redaction import shown_uri

WebMode = Literal["auto", "page", "sitemap", "crawl"]

DEFAULT_USER_AGENT = "DocsTune/0.1 (+https://github.com/docstune; document ingestion)"
DEFAULT_PORTS = {"http": 80, "https": 443}
#: what is kept of a response, by media type: "html" is reduced to its main text (<n>.md)
DOCUMENT_TYPES = {
    "text/html": "html", "application/xhtml+xml": "html",
    "application/pdf": ".pdf", "text/plain": ".txt", "text/markdown": ".md", "text/x-markdown": ".md",
}
#: links to these are not followed by a crawl (a PDF link is)
SKIPPED_EXTENSIONS = frozenset(
    ".png .jpg .jpeg .gif .svg .webp .ico .bmp .tif .tiff .avif .css .js .mjs .map .json .woff .woff2 .ttf .otf "
    ".eot .zip .gz .tgz .bz2 .xz .7z .rar .tar .jar .exe .msi .dmg .deb .rpm .apk .iso .bin .wasm .mp3 .mp4 .m4a "
    ".webm .ogg .ogv .wav .avi .mov .mkv .flac".split())
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 512 << 10  # RFC 9309 asks crawlers to parse at least 500 KiB; the rest is ignored
MAX_SITEMAPS = 50  # sitemaps read from sitemap indexes per source
#: a response that keeps trickling in is dropped after this many timeout_seconds in all
WHOLE_RESPONSE_TIMEOUTS = 10
ACCEPT = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8,application/xml;q=0.8,*/*;q=0.5"
NO_MAIN_TEXT = "has no main text (a login page or an empty page?)"
#: what is never a page's main text; trafilatura drops most of it itself, but falls back to the whole
#: body when little is left, and then a sign-in form or a menu would pass for the page's text
BOILERPLATE_XPATH = (
    "//nav|//aside|//footer|//dialog"
    "|//*[@role='navigation' or @role='banner' or @role='contentinfo' or @role='search']"
    "|//header[not(ancestor::main or ancestor::article)]"
    "|//form[.//input[translate(@type, 'PASSWORD', 'password')='password']]"
)


@dataclass(frozen=True)
class WebLimits:
    """What one read of a web source may cost (the settings WEB_MAX_PAGES, WEB_MAX_DEPTH, ...)."""

    max_pages: int = 200  # requests for pages (redirect hops and robots.txt not counted)
    max_depth: int = 3  # links followed from a crawl's root; 0: the root only
    delay_seconds: float = 1.0  # between two requests to one host (a larger robots.txt Crawl-delay wins)
    timeout_seconds: float = 20.0  # to connect, and for each read of a response
    max_bytes: int = 10 << 20  # one response, after decompression
    max_redirects: int = 5
    user_agent: str = DEFAULT_USER_AGENT
    allow_private: bool = False  # loopback/private/link-local/reserved addresses refused unless True


# -- addresses -------------------------------------------------------------------------------
def _sentence(line: str) -> str:
    """A line as a message on its own: a capital first letter (unless it starts with a URL), a full stop."""
    if not line.startswith(("http://", "https://")):
        line = line[:1].upper() + line[1:]
    return line if line.endswith((".", "?", "!")) else line + "."


class _Refused(Exception):
    """A host that does not resolve, or resolves to an address that is refused."""

    def __init__(self, host: str, address: str | None = None, kind: str | None = None, reason: str = ""):
        super().__init__(host)
        self.host, self.address, self.kind, self.reason = host, address, kind, reason

    def line(self, url: str, redirected_from: str | None = None) -> str:
        """One line on ``url``, or on ``redirected_from``'s redirect to it."""
        if redirected_from:
            subject = f"{shown_uri(redirected_from)} redirects to {shown_uri(url)}, which"
            host = f"{shown_uri(redirected_from)} redirects to {shown_uri(url)}, whose host name {self.host}"
        else:
            subject, host = shown_uri(url), f"the host name {self.host} of {shown_uri(url)}"
        if self.address is None:
            return (f"{host} could not be resolved ({self.reason}): is it spelled right, and can this machine "
                    "reach the network?")
        kind = "" if self.kind == "private" else f" ({self.kind})"
        return (f"{subject} resolves to a private address {self.address}{kind}; "
                "set WEB_ALLOW_PRIVATE=true to allow it")


def _non_public_kind(address: str) -> str | None:
    """Why an IP address is not on the public internet ("loopback", "link-local", ...), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates = [ip]
    if ip.version == 6:  # IPv4 inside IPv6 (::ffff:10.0.0.1, 6to4, Teredo) is checked as IPv4 first
        candidates[:0] = [a for a in (ip.ipv4_mapped, ip.sixtofour, ip.teredo and ip.teredo[1]) if a]
    for candidate in candidates:
        for attribute, kind in (("is_loopback", "loopback"), ("is_link_local", "link-local"),
                                ("is_multicast", "multicast"), ("is_unspecified", "unspecified"),
                                ("is_reserved", "reserved"), ("is_private", "private")):
            if getattr(candidate, attribute):
                return kind
        if not candidate.is_global:  # 100.64.0.0/10 (carrier-grade NAT) and the like
            return "not public"
    return None


def _checked_addresses(host: str, port: int, allow_private: bool) -> list[str]:
    """The host's addresses, in the resolver's order; _Refused if it does not resolve or (unless
    ``allow_private``) if any of them is not public: one private answer is enough to refuse."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise _Refused(host, reason=str(getattr(exc, "strerror", None) or exc)) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            kind = _non_public_kind(address)
            if kind:
                raise _Refused(host, address, kind)
    return addresses


class _CheckedBackend(httpcore.SyncBackend):
    """Opens connections only to addresses it resolved and checked itself (see the module's docstring)."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        error: Exception | None = None
        for address in _checked_addresses(host, port, self.allow_private):
            try:
                return super().connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                           socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # the next address may answer
        raise error or httpcore.ConnectError(f"{host} has no address")


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool that connects through ``_CheckedBackend``."""

    def __init__(self, allow_private: bool):
        super().__init__(trust_env=False)
        # httpx has no public way to hand its pool a network backend; the pool it made is replaced
        # before any use (a newer httpx without ``_pool`` fails here, loudly, rather than unchecked)
        assert isinstance(self._pool, httpcore.ConnectionPool)
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), max_connections=10,
                                             max_keepalive_connections=10, keepalive_expiry=5.0,
                                             network_backend=_CheckedBackend(allow_private))


# -- URLs ------------------------------------------------------------------------------------
def _normalise(url: str) -> str:
    """Scheme and host in lower case, no default port, no fragment, "/" for an empty path, unsafe
    characters percent-encoded. ValueError for a URL that cannot be one (a bad port)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return urlunsplit((scheme, netloc, path, query, ""))


def _host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 80)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _crawl_key(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


def check_url(url: str, limits: WebLimits) -> str:
    """``url`` normalised, once it is an http(s) URL with a host that resolves to addresses ``limits``
    allows; SourceError (saying what to do) otherwise. Makes no connection, only a DNS query."""
    if not isinstance(url, str) or not url.strip():
        raise SourceError("Give the web page's URL, like https://docs.example.com/guide/.")
    shown = shown_uri(url.strip())
    try:
        normalised = _normalise(url)
    except ValueError as exc:
        raise SourceError(f"{shown} is not a valid URL ({exc}).") from None
    parts = urlsplit(normalised)
    if parts.scheme not in DEFAULT_PORTS:
        hint = f" (did you mean https://{shown}?)" if "://" not in shown and ":" not in shown.split("/")[0] else ""
        raise SourceError(f"{shown} is not an http(s) URL{hint}; a web source is read over http:// or https:// "
                          "only.")
    if not parts.hostname:
        raise SourceError(f"{shown} has no host name; expected a URL like https://docs.example.com/guide/.")
    try:
        _checked_addresses(*_host_and_port(normalised), limits.allow_private)
    except _Refused as exc:
        raise SourceError(_sentence(exc.line(normalised))) from None
    return normalised


# -- fetching --------------------------------------------------------------------------------
class _PageFailed(Exception):
    def __init__(self, line: str):
        super().__init__(line)
        self.line = line


class _PageSkipped(_PageFailed):
    pass


class _AddressRefused(_PageFailed):
    """A host that does not resolve or is refused (_Refused, with the URL it was asked for)."""


@dataclass
class _Response:
    url: str  # after redirects, normalised
    media_type: str  # "text/html"; "" when the server named none
    charset: str | None
    body: bytes


@dataclass
class _Answer:
    status: int
    reason: str
    location: str | None = None  # a redirect's target, as sent
    response: _Response | None = None  # a success's body


@dataclass
class _Robots:
    parser: urllib.robotparser.RobotFileParser | None = None  # None: everything allowed
    unreadable: str | None = None  # why it could not be read: then nothing is allowed (RFC 9309)


def _size(n_bytes: int) -> str:
    if n_bytes >= 1 << 20:
        return f"{n_bytes / (1 << 20):g} MB"
    return f"{n_bytes / (1 << 10):g} KB"


class _Client:
    """GETs with the limits: redirects hop by hop, robots.txt, the pause between requests to a host."""

    def __init__(self, limits: WebLimits):
        self.limits = limits
        self._http = httpx.Client(
            transport=_CheckedTransport(limits.allow_private), follow_redirects=False, trust_env=False,
            timeout=httpx.Timeout(limits.timeout_seconds),
            headers={"User-Agent": limits.user_agent, "Accept": ACCEPT})
        self._robots: dict[str, _Robots] = {}  # origin -> its rules
        self._checked_hosts: dict[tuple[str, int], _Refused | None] = {}
        self._delays: dict[tuple[str, int], float] = {}  # (host, port) -> seconds between requests
        self._last_request: dict[tuple[str, int], float] = {}  # (host, port) -> when its last request ended

    def close(self) -> None:
        self._http.close()

    def get(self, url: str) -> _Response:
        """The response at the end of ``url``'s redirects; _PageFailed / _PageSkipped with one line."""
        current = url
        for _ in range(self.limits.max_redirects + 1):
            self._check_host(current, redirected_from=url if current != url else None)
            if not self.robots_allow(current):
                raise _PageSkipped("robots.txt disallows it" if current == url
                                   else f"it redirects to {shown_uri(current)}, which robots.txt disallows")
            answer = self._download(current, self.limits.max_bytes)
            if answer.location is None:
                if answer.status >= 400:
                    hint = {401: " (login required?)", 403: " (login required?)", 404: " (removed or moved?)",
                            429: " (too many requests: raise WEB_DELAY_SECONDS)"}.get(answer.status, "")
                    raise _PageFailed(f"{shown_uri(current)} answered {answer.status} {answer.reason}{hint}")
                return answer.response
            current = self._redirect_target(current, answer.location)
        raise _PageFailed(f"{shown_uri(url)} redirects more than {self.limits.max_redirects} times "
                          "(a redirect loop?)")

    @staticmethod
    def _redirect_target(current: str, location: str) -> str:
        target = urljoin(current, location)
        if urlsplit(target).scheme.lower() not in DEFAULT_PORTS:
            raise _PageFailed(f"{shown_uri(current)} redirects to {shown_uri(target)}, which is not http(s)")
        try:
            return _normalise(target)
        except ValueError:
            raise _PageFailed(f"{shown_uri(current)} redirects to an invalid URL {location!r}") from None

    def _check_host(self, url: str, redirected_from: str | None = None) -> None:
        """_AddressRefused, before any request, when ``url``'s host is refused (looked up once per host here;
        every connection is checked again by _CheckedBackend)."""
        host_port = _host_and_port(url)
        if host_port not in self._checked_hosts:
            try:
                _checked_addresses(*host_port, self.limits.allow_private)
                self._checked_hosts[host_port] = None
            except _Refused as exc:
                self._checked_hosts[host_port] = exc
        refused = self._checked_hosts[host_port]
        if refused is not None:
            raise _AddressRefused(refused.line(url, redirected_from))

    def robots_allow(self, url: str) -> bool:
        """Whether robots.txt lets us read ``url``; _PageFailed when the site's robots.txt is unreachable."""
        origin = _origin(url)
        robots = self._robots.get(origin)
        if robots is None:
            robots = self._robots[origin] = self._read_robots(origin)
        if robots.unreadable:
            raise _PageFailed(robots.unreadable)
        return robots.parser is None or robots.parser.can_fetch(self.limits.user_agent, url)

    def _read_robots(self, origin: str) -> _Robots:
        url = f"{origin}/robots.txt"
        unreadable = (f"the robots.txt of {shown_uri(origin)} could not be read ({{}}); no page of the site is "
                      "read while it cannot be (RFC 9309): try again later")
        try:
            for _ in range(self.limits.max_redirects + 1):
                answer = self._download(url, ROBOTS_MAX_BYTES, truncate=True)
                if answer.location is None:
                    break
                url = self._redirect_target(url, answer.location)
            else:
                return _Robots(unreadable=unreadable.format("it redirects too often"))
        except _AddressRefused as exc:
            return _Robots(unreadable=exc.line)
        except _PageFailed as exc:
            return _Robots(unreadable=unreadable.format(exc.line))
        if answer.status >= 500:
            return _Robots(unreadable=unreadable.format(f"it answered {answer.status} {answer.reason}"))
        if answer.status >= 400:
            return _Robots()  # none (404), or none for us to read: everything is allowed
        parser = urllib.robotparser.RobotFileParser(url)
        parser.parse(answer.response.body.decode("utf-8", errors="replace").splitlines())
        delay = parser.crawl_delay(self.limits.user_agent)
        if delay is not None and float(delay) > self.limits.delay_seconds:
            self._delays[_host_and_port(origin)] = float(delay)
        return _Robots(parser=parser)

    def _download(self, url: str, max_bytes: int, truncate: bool = False) -> _Answer:
        """One GET of ``url``, its body streamed up to ``max_bytes`` (beyond: _PageFailed, or with
        ``truncate`` the rest ignored); a redirect's or an error's body is not read."""
        shown = shown_uri(url)
        host_port = _host_and_port(url)
        last = self._last_request.get(host_port)
        if last is not None:
            pause = last + self._delays.get(host_port, self.limits.delay_seconds) - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        timeout = self.limits.timeout_seconds
        deadline = time.monotonic() + timeout * WHOLE_RESPONSE_TIMEOUTS
        try:
            with self._http.stream("GET", url) as response:
                answer = _Answer(response.status_code, response.reason_phrase)
                if response.status_code in REDIRECT_STATUSES and response.headers.get("location"):
                    answer.location = response.headers["location"]
                    return answer
                if response.status_code >= 400:
                    return answer
                too_large = f"{shown} is larger than {_size(max_bytes)} (WEB_MAX_BYTES)"
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > max_bytes and not truncate:
                    raise _PageFailed(too_large)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        if not truncate:
                            raise _PageFailed(too_large)
                        del body[max_bytes:]
                        break
                    if time.monotonic() > deadline:
                        raise _PageFailed(f"{shown} did not arrive whole within "
                                          f"{timeout * WHOLE_RESPONSE_TIMEOUTS:g} s")
                media_type, _, parameters = response.headers.get("content-type", "").partition(";")
                charset = re.search(r"charset\s*=\s*\"?([\w.:-]+)", parameters, flags=re.IGNORECASE)
                answer.response = _Response(url=url, media_type=media_type.strip().lower(),
                                            charset=charset.group(1) if charset else None, body=bytes(body))
                return answer
        except httpx.TimeoutException:
            raise _PageFailed(f"{shown} did not answer within {timeout:g} s") from None
        except _Refused as exc:  # raised by _CheckedBackend before it connected
            raise _AddressRefused(exc.line(url)) from None
        except httpx.HTTPError as exc:
            raise _PageFailed(f"{shown} could not be read ({exc or exc.__class__.__name__})") from None
        finally:
            self._last_request[host_port] = time.monotonic()


# -- reading pages ---------------------------------------------------------------------------
@dataclass
class _HtmlPage:
    title: str | None
    markdown: str  # "" when trafilatura found no main text
    links: list[str] = field(default_factory=list)  # absolute, normalised http(s) URLs, in page order


def _html_encoding(body: bytes, charset: str | None) -> str | None:
    if charset:
        try:
            return codecs.lookup(charset).name
        except LookupError:
            pass
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return None  # lxml reads <meta charset>, or guesses


def _read_html(body: bytes, charset: str | None, url: str) -> _HtmlPage:
    import lxml.etree
    import lxml.html
    import trafilatura

    parser = lxml.html.HTMLParser(encoding=_html_encoding(body, charset))
    try:
        tree = lxml.html.document_fromstring(body, parser=parser)
    except (lxml.etree.ParserError, ValueError):  # an empty document
        return _HtmlPage(title=None, markdown="")
    title = next((" ".join(text.split()) for text in (
        tree.findtext(".//title"), *tree.xpath("//meta[@property='og:title']/@content"),
        *(h1.text_content() for h1 in tree.iter("h1"))) if text and text.strip()), None)
    links = _links_of(tree, url)
    for element in tree.xpath(BOILERPLATE_XPATH):
        element.drop_tree()
    markdown = trafilatura.extract(tree, url=url, output_format="markdown", include_comments=False,
                                   include_tables=True, include_links=False, include_images=False) or ""
    # trafilatura escapes every "_"; inside a word (DATA_DIR) that escape is redundant in CommonMark and
    # would keep the name from matching a keyword search
    markdown = re.sub(r"(?<=\w)\\_(?=\w|\\_)", "_", markdown.strip())
    return _HtmlPage(title=title[:300] if title else None, markdown=markdown, links=links)


def _links_of(tree, url: str) -> list[str]:
    base = urljoin(url, (tree.xpath("//base/@href") or [""])[0].strip())
    links = {}
    for href in tree.xpath("//a/@href|//area/@href"):
        href = href.strip()
        if not href or href.startswith("#"):
            continue
        absolute = urljoin(base, href)
        if urlsplit(absolute).scheme.lower() not in DEFAULT_PORTS:
            continue  # mailto:, javascript:, tel:, data:
        try:
            links[_normalise(absolute)] = None
        except ValueError:
            continue
    return list(links)


def _document_type(response: _Response) -> str | None:
    """"html", a file suffix, or None for a type that is not read."""
    media_type = response.media_type
    if not media_type or media_type == "application/octet-stream":
        if response.body.startswith(b"%PDF-"):
            return ".pdf"
        media_type = mimetypes.guess_type(urlsplit(response.url).path)[0] or media_type
    return DOCUMENT_TYPES.get(media_type)


def _sitemap_entries(response: _Response, max_bytes: int) -> tuple[str, list[str]] | None:
    """("urlset" or "sitemapindex", its <loc>s) when the response is a sitemap, else None."""
    from lxml import etree

    body = response.body
    if body[:2] == b"\x1f\x8b":  # sitemap.xml.gz
        try:
            body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, max_bytes + 1)
        except zlib.error:
            return None
        if len(body) > max_bytes:
            raise _PageFailed(f"{shown_uri(response.url)} unpacks to more than {_size(max_bytes)} (WEB_MAX_BYTES)")
    if not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(body.lstrip(b" \t\r\n"), parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    kind = etree.QName(root).localname
    child = {"urlset": "{*}url", "sitemapindex": "{*}sitemap"}.get(kind)
    if child is None:
        return None
    return kind, [loc.strip() for loc in (element.findtext("{*}loc") for element in root.iterfind(child)) if loc]


@dataclass(frozen=True)
class _Scope:
    """The pages a crawl may visit: the root's site (scheme, host, port) and folder."""

    scheme: str
    host: str
    port: int
    folder: str  # ends with "/"
    root_path: str

    @classmethod
    def of(cls, root_url: str) -> _Scope:
        parts = urlsplit(root_url)
        path = parts.path or "/"
        if path.endswith("/"):
            folder = path
        elif "." in path.rsplit("/", 1)[1]:  # /docs/index.html: its folder
            folder = path.rsplit("/", 1)[0] + "/"
        else:  # /docs: what is under it
            folder = path + "/"
        return cls(parts.scheme, *_host_and_port(root_url), folder=folder, root_path=path)

    def contains(self, url: str) -> bool:
        parts = urlsplit(url)
        path = parts.path or "/"
        return ((parts.scheme, *_host_and_port(url)) == (self.scheme, self.host, self.port)
                and (path.startswith(self.folder) or path == self.root_path))


class _WebReader:
    """Reads one web source into ``workdir`` and collects the FetchResult."""

    def __init__(self, client: _Client, limits: WebLimits, workdir: Path,
                 progress: Callable[[int, int], None] | None, include: Sequence[str], exclude: Sequence[str]):
        self.client, self.limits, self.workdir = client, limits, workdir
        self._progress = progress
        self.include, self.exclude = tuple(include), tuple(exclude)
        self.result = FetchResult()
        self._files = 0
        self._handled: dict[str, str] = {}  # final URL -> the URL it was first read as

    def wanted(self, url: str) -> bool:
        path = unquote(urlsplit(url).path).lstrip("/")
        if self.include and not any(matches_pattern(pattern, path) for pattern in self.include):
            return False
        return not any(matches_pattern(pattern, path) for pattern in self.exclude)

    def progress(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(done, total)

    def fetch(self, url: str) -> _Response | None:
        try:
            return self.client.get(url)
        except _PageSkipped as exc:
            self.result.skipped.append((shown_uri(url), exc.line))
        except _PageFailed as exc:
            self.result.failed.append((shown_uri(url), exc.line))
        return None

    def keep(self, url: str, response: _Response, save: bool = True) -> list[str]:
        """Save ``response`` as a document (read as ``url``); the links of an HTML page."""
        uri = shown_uri(response.url)
        first_read_as = self._handled.setdefault(response.url, url)
        if first_read_as != url:
            if save:
                self.result.skipped.append((shown_uri(url), f"the same page as {shown_uri(first_read_as)}"))
            return []
        kind = _document_type(response)
        if kind is None:
            if save:
                self.result.skipped.append((shown_uri(url), f"{uri} is {response.media_type or 'of no stated type'}, "
                                                            "not a web page, PDF, text or Markdown"))
            return []
        if kind != "html":
            if save:
                self._write(url, response, kind, response.body, title=None)
            return []
        page = _read_html(response.body, response.charset, response.url)
        if save and not page.markdown:
            self.result.failed.append((shown_uri(url), f"{uri} {NO_MAIN_TEXT}"))
        elif save:
            # the first line is the title; a page's own <h1> stays the title line where it has one
            text = page.markdown
            if page.title and not text.startswith("# "):
                text = f"# {page.title}\n\n{text}"
            self._write(url, response, ".md", (text + "\n").encode("utf-8"), page.title)
        return page.links

    def _write(self, url: str, response: _Response, suffix: str, data: bytes, title: str | None) -> None:
        self._files += 1
        path = self.workdir / f"{self._files}{suffix}"
        path.write_bytes(data)
        self.result.documents.append(FetchedDocument(uri=shown_uri(response.url), path=path, title=title,
                                                     origin=shown_uri(url)))

    # -- the modes ---------------------------------------------------------------------------
    def page(self, url: str, response: _Response) -> None:
        self.keep(url, response)
        self.progress(1, 1)

    def crawl(self, root: str, response: _Response) -> None:
        scope = _Scope.of(response.url)
        queue: deque[tuple[str, int]] = deque()
        queued = {_crawl_key(root), _crawl_key(response.url)}

        def follow(links: list[str], depth: int) -> None:
            for link in links:
                key = _crawl_key(link)
                if key in queued:
                    continue
                queued.add(key)
                if (not scope.contains(key) or Path(urlsplit(key).path).suffix.lower() in SKIPPED_EXTENSIONS
                        or not self.wanted(key)):
                    continue
                try:
                    allowed = self.client.robots_allow(key)
                except _PageFailed:
                    allowed = True  # its robots.txt was read for the root already; get() says the rest
                if not allowed:
                    self.result.skipped.append((shown_uri(key), "robots.txt disallows it"))
                    continue
                queue.append((key, depth))

        links = self.keep(root, response, save=self.wanted(response.url))
        if self.limits.max_depth > 0:
            follow(links, 1)
        done = 1
        self.progress(done, done + len(queue))
        while queue:
            if done >= self.limits.max_pages:
                self.result.complete = False  # more pages are linked than may be read
                break
            url, depth = queue.popleft()
            done += 1
            failures = len(self.result.failed)
            page = self.fetch(url)
            if page is None:
                if depth < self.limits.max_depth and len(self.result.failed) > failures:
                    self.result.complete = False  # the pages only it links to are unknown
            elif not scope.contains(page.url):
                self.result.skipped.append((shown_uri(url), f"it redirects to {shown_uri(page.url)}, "
                                                            "outside the crawled site"))
            else:
                queued.add(_crawl_key(page.url))  # a later link to where it redirected is not read twice
                links = self.keep(url, page)
                if depth < self.limits.max_depth:
                    follow(links, depth + 1)
            self.progress(done, done + len(queue))

    def sitemap(self, url: str, response: _Response) -> None:
        maps: deque[tuple[str, _Response | None]] = deque([(url, response)])
        seen_maps = {url}
        entries: dict[str, None] = {}
        while maps:
            map_url, answer = maps.popleft()
            answer = answer or self.fetch(map_url)
            if answer is None:
                self.result.complete = False
                continue
            try:
                parsed = _sitemap_entries(answer, self.limits.max_bytes)
            except _PageFailed as exc:
                parsed, problem = None, exc.line
            else:
                problem = f"{shown_uri(answer.url)} is not a sitemap (an XML <urlset> or <sitemapindex>)"
            if parsed is None:
                if map_url == url:
                    raise SourceError(_sentence(f"{problem}; add it with mode crawl or page"))
                self.result.failed.append((shown_uri(map_url), problem))
                self.result.complete = False
                continue
            kind, locations = parsed
            for location in locations:
                try:
                    entry = _normalise(urljoin(answer.url, location))
                except ValueError:
                    self.result.failed.append((location, f"the sitemap {shown_uri(answer.url)} lists an invalid URL"))
                    continue
                if urlsplit(entry).scheme not in DEFAULT_PORTS:
                    self.result.skipped.append((shown_uri(entry), "not an http(s) URL"))
                elif kind == "sitemapindex":
                    if entry in seen_maps:
                        continue
                    if len(seen_maps) >= MAX_SITEMAPS:
                        self.result.complete = False
                        break
                    seen_maps.add(entry)
                    maps.append((entry, None))
                elif self.wanted(entry):
                    entries[entry] = None
        pages = list(entries)
        if len(pages) > self.limits.max_pages:
            pages = pages[: self.limits.max_pages]
            self.result.complete = False
        self.progress(0, len(pages))
        for done, page_url in enumerate(pages, start=1):
            page = self.fetch(page_url)
            if page is not None:
                self.keep(page_url, page)
            self.progress(done, len(pages))


def _nothing_read(url: str, result: FetchResult, filtered: bool) -> str:
    shown = shown_uri(url)
    problems = result.failed + result.skipped
    if not problems:
        return (f"No page of {shown} matches the include/exclude patterns; widen them." if filtered
                else f"{shown} lists no pages.")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    login = any(NO_MAIN_TEXT in line or "(login required?)" in line for _, line in problems)
    return f"No page of {shown} could be read: {problems[0][1]}{more}" + (" (login required?)" if login else "")


def _is_sitemap(response: _Response, max_bytes: int) -> bool:
    if not (response.media_type in ("application/xml", "text/xml", "application/gzip", "application/x-gzip")
            or urlsplit(response.url).path.endswith((".xml", ".xml.gz"))
            or response.body.lstrip()[:200].startswith((b"<?xml", b"<urlset", b"<sitemapindex"))):
        return False
    try:
        return _sitemap_entries(response, max_bytes) is not None
    except _PageFailed:  # a sitemap.xml.gz that unpacks to too much: reading it as one says so
        return True


def fetch_web(url: str, mode: WebMode, limits: WebLimits, workdir: Path,
              progress: Callable[[int, int], None] | None = None, include: Sequence[str] = (),
              exclude: Sequence[str] = ()) -> FetchResult:
    """Read the web source at ``url`` in ``mode`` into files under ``workdir`` (see the module's docstring).

    Raises SourceError when the source as a whole cannot be read: a URL ``check_url`` refuses, a robots.txt
    that disallows the start URL, a ``sitemap`` that is none, or no page read at all. ``progress(done,
    total)`` is called as pages are read; ``total`` grows as a crawl finds links.
    """
    if mode not in ("auto", "page", "sitemap", "crawl"):
        raise SourceError(f"The mode of a web source is auto, page, sitemap or crawl, not {mode!r}.")
    start = check_url(url, limits)
    workdir.mkdir(parents=True, exist_ok=True)
    shown = shown_uri(start)
    client = _Client(limits)
    try:
        try:
            allowed = client.robots_allow(start)
        except _PageFailed as exc:
            raise SourceError(_sentence(exc.line)) from None
        if not allowed:
            raise SourceError(f"The robots.txt of {shown_uri(_origin(start))} disallows {shown} for "
                              f"{limits.user_agent.split('/')[0]}, and DocsTune honours it: ask the site's owner "
                              "to allow it, or save the pages and add them as files.")
        reader = _WebReader(client, limits, workdir, progress, include, exclude)
        first = reader.fetch(start)
        if first is None:
            raise SourceError(_nothing_read(start, reader.result, filtered=False))
        if mode == "sitemap" or (mode == "auto" and _is_sitemap(first, limits.max_bytes)):
            reader.sitemap(start, first)
        elif mode == "page":
            reader.page(start, first)
        else:
            reader.crawl(start, first)
    finally:
        client.close()
    if not reader.result.documents:
        raise SourceError(_nothing_read(start, reader.result, filtered=bool(include or exclude)))
    return reader.result
