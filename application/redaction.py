"""What a text may show of the server's secrets and addresses: in a log line, a stored error, a response.

Three audiences:

* the server log, the CLI, an admin (``redact_url``, ``Redactor.hide_secrets``): passwords and keys
  become ``***`` in every form we send them (as written, URL-encoded, a URL's ``user:password`` as the
  basic-auth header's base64), since an upstream's error may quote our request; hosts and paths stay;
* any other client (``Redactor.hide_addresses``): no internal address either; a configured URL,
  its host and port, a server folder become the name of the setting that holds it
  (``<QDRANT_URL>``, ``<DATA_DIR>``), which says what to check without saying where it is;
* a document as clients see it (``shown_uri``): an uploaded name, a web address without its
  password, a file's name, never the folder it was ingested from.

Example::

    redactor = Redactor.of(settings, admin_token)
    log.warning("Qdrant failed: %s", redactor.hide_secrets(str(exc)))
    message_for_anyone = redactor.hide_addresses(str(exc))
"""
from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

SECRET = "***"
#: a key shorter than this is not looked for in free text (it would match ordinary words)
MIN_SECRET_CHARS = 6
#: the settings that hold a URL, a key, a server folder (the names a client may see instead)
URL_SETTINGS = {"OPENAI_BASE_URL": "openai_base_url", "ANTHROPIC_BASE_URL": "anthropic_base_url",
                "REDIS_URL": "redis_url", "QDRANT_URL": "qdrant_url", "DATABASE_URL": "database_url_resolved"}
KEY_SETTINGS = {"OPENAI_API_KEY": "openai_api_key", "ANTHROPIC_API_KEY": "anthropic_api_key",
                "QDRANT_API_KEY": "qdrant_api_key", "EMBEDDINGS_API_KEY": "embeddings_api_key",
                "ADMIN_TOKEN": "admin_token"}
PATH_SETTINGS = {"QDRANT_PATH": "qdrant_path_resolved", "DATA_DIR": "data_dir"}


def redact_url(url: str) -> str:
    """The URL without a password in it (``redis://:secret@host:6379/0`` → ``redis://:***@host:6379/0``)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{SECRET}@{parts.hostname or ''}" + (f":{port}" if port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def basic_authorization(url: str) -> str | None:
    """The ``Authorization`` value a client sends for the URL's ``user:password`` (``Basic <base64>``), or None
    without one: the LLM clients send it (``application.llm.credentials``), the redactor hides it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.username is None and parts.password is None:
        return None
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def shown_uri(uri: str | None) -> str:
    """A document's address as clients see it: ``upload://notes.md`` and ``https://…`` as they are (less a
    password), a file on the server as its name only (``/srv/docs/refunds.md`` → ``refunds.md``), a file of a git
    repository as the repository's name and its path (``docs/guide/install.md``)."""
    if not uri:
        return ""
    if uri.startswith("git+"):  # git+<repository>[@branch]#<path>: the repository's name and the file's path
        repository, _, rel_path = uri[4:].partition("#")
        name = repository.rsplit("@", 1)[0] if "@" in repository.rsplit("/", 1)[-1] else repository
        name = name.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
        return f"{name}/{rel_path}" if name else rel_path
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme == "file":
        return Path(urlsplit(uri).path).name
    if scheme in ("http", "https"):
        parts = urlsplit(redact_url(uri))
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))  # no user name either
    if scheme:
        return uri  # upload://<name> and other identifiers of ours
    return Path(uri).name if os.path.isabs(os.path.expanduser(uri)) else uri


@dataclass(frozen=True)
class Redactor:
    """Hides configured secrets and addresses in free text (an SDK's exception, a driver's message).

    ``urls``, ``keys`` and ``paths`` are ``(setting name, value)`` pairs; unset values are ignored.
    """

    urls: tuple[tuple[str, str], ...] = ()
    keys: tuple[tuple[str, str], ...] = ()
    paths: tuple[tuple[str, str], ...] = ()

    @classmethod
    def build(cls, urls: Mapping[str, str | None] | None = None, keys: Mapping[str, str | None] | None = None,
              paths: Mapping[str, object] | None = None) -> Redactor:
        """From ``{setting name: value}`` mappings, e.g. ``Redactor.build(keys={"OPENAI_API_KEY": key})``."""
        def pairs(mapping):
            return tuple((name, str(value)) for name, value in (mapping or {}).items() if value)

        return cls(urls=pairs(urls), keys=pairs(keys), paths=pairs(paths))

    @classmethod
    def of(cls, settings, admin_token: str | None = None) -> Redactor:
        """Every URL, key and folder of ``settings`` (and the admin token in use, which may come from a file)."""
        def value(attribute):
            try:
                return getattr(settings, attribute, None)
            except Exception:  # noqa: BLE001  (a property that cannot be computed holds nothing to hide)
                return None

        keys = {name: value(attribute) for name, attribute in KEY_SETTINGS.items()}
        keys["ADMIN_TOKEN"] = admin_token or keys["ADMIN_TOKEN"]
        paths = {name: value(attribute) for name, attribute in PATH_SETTINGS.items()}
        model = value("embeddings_name")
        if isinstance(model, str) and (os.sep in model or model.startswith(("~", "."))):
            paths["EMBEDDINGS_NAME"] = os.path.expanduser(model)
        return cls.build({name: value(attribute) for name, attribute in URL_SETTINGS.items()}, keys, paths)

    # -- the two levels ------------------------------------------------------------------
    def hide_secrets(self, text: str) -> str:
        """``text`` with every password and key as ``***``; hosts and paths stay (logs, the CLI, an admin)."""
        replacements: dict[str, str] = {}
        for _, url in self.urls:
            for form in _url_forms(url):
                replacements.setdefault(form, redact_url(form))
            for password in _passwords(url):
                replacements.setdefault(password, SECRET)
        for _, key in self.keys:
            for form in _key_forms(key):
                replacements.setdefault(form, SECRET)
        return _replace(str(text), replacements)

    def hide_addresses(self, text: str) -> str:
        """``text`` with no secret and no internal address: each configured URL, its host and port and
        each server folder become ``<SETTING>`` (for clients that are not the admin)."""
        replacements: dict[str, str] = {}
        hosts: dict[str, str] = {}
        for name, url in self.urls:
            placeholder = f"<{name}>"
            for form in _url_forms(url):
                replacements.setdefault(form, placeholder)
                replacements.setdefault(redact_url(form), placeholder)
            try:
                parts = urlsplit(url)
                host, port = parts.hostname, parts.port
            except ValueError:
                continue
            if parts.netloc:
                replacements.setdefault(parts.netloc, placeholder)
                replacements.setdefault(parts.netloc.rpartition("@")[2], placeholder)
                replacements.setdefault(f"{parts.scheme}://{parts.netloc}", placeholder)
            if host and port:
                replacements.setdefault(f"{host}:{port}", placeholder)
            if host:
                hosts.setdefault(host, placeholder)
            for password in _passwords(url):
                replacements.setdefault(password, SECRET)
        for _, key in self.keys:
            for form in _key_forms(key):
                replacements.setdefault(form, SECRET)
        for name, path in self.paths:
            for form in _path_forms(path):
                replacements.setdefault(form, f"<{name}>")
        text = _replace(str(text), replacements)
        for host, placeholder in sorted(hosts.items(), key=lambda item: -len(item[0])):
            # the host alone (a resolver's message): only as a whole name, not inside another word
            text = re.sub(rf"(?<![\w.-]){re.escape(host)}(?![\w-]|\.\w)", placeholder, text)
        return text

    def hide_secrets_in(self, value):
        """``hide_secrets`` applied to every string in a JSON-like value (a ``/ready`` report)."""
        return _map_strings(value, self.hide_secrets)

    def hide_addresses_in(self, value):
        return _map_strings(value, self.hide_addresses)


# -- helpers ----------------------------------------------------------------------------
def _url_forms(url: str) -> list[str]:
    """How a URL shows up in messages: as configured, without its trailing slash, without its path."""
    forms = {url, url.rstrip("/")}
    try:
        parts = urlsplit(url)
    except ValueError:
        return sorted(forms)
    if parts.scheme and parts.netloc and parts.path not in ("", "/"):
        forms.add(urlunsplit(parts._replace(path="", query="", fragment="")))
    return sorted(form for form in forms if form)


def _passwords(url: str) -> list[str]:
    """Every form of the URL's password that a message may quote: as written in the URL, decoded, encoded
    again, and the basic-auth header we send it in (an upstream's error may echo our request's headers)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    authorization = basic_authorization(url)
    found = set()
    if authorization:
        token = authorization.removeprefix("Basic ")
        found.add(authorization)
        if len(token) >= MIN_SECRET_CHARS:
            found.add(token)
    if not password:
        return sorted(found)
    forms = {password, unquote(password), quote(unquote(password), safe="")}
    # a short password is hidden where a URL shows it (``:pw@``); alone it would match ordinary words
    found |= {f":{form}@" for form in forms}
    if len(password) >= MIN_SECRET_CHARS:
        found |= forms
    return sorted(found)


def _key_forms(key: str) -> set[str]:
    """A key as sent (``Bearer <key>``, a header, a query) and URL-encoded; none for a short one."""
    if len(key) < MIN_SECRET_CHARS:
        return set()
    return {key, quote(key, safe="")}


def _path_forms(path: str) -> Iterable[str]:
    """The absolute forms of a folder (a relative one like ``data`` would match ordinary words)."""
    forms = {path.rstrip("/")} if os.path.isabs(path) else set()
    try:
        forms.add(str(Path(path).resolve()))
    except (OSError, RuntimeError):
        pass
    return sorted(form for form in forms if len(form) > 1)  # never "/" alone


def _replace(text: str, replacements: dict[str, str]) -> str:
    if not replacements:
        return text
    # one pass, longest first: a URL is replaced as a whole before its host or password could be
    pattern = re.compile("|".join(re.escape(k) for k in sorted(replacements, key=len, reverse=True)))

    def substitute(match: re.Match) -> str:
        found = match.group(0)
        replacement = replacements[found]
        if found.startswith(":") and found.endswith("@") and replacement == SECRET:
            return f":{SECRET}@"
        return replacement

    return pattern.sub(substitute, text)


def _map_strings(value, change):
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_strings(item, change) for item in value]
    return value
