"""A git repository as a source: one clone per source in a cache folder, synced to one branch.

``fetch_git`` brings the clone to the branch's newest commit and lists its files; with the commit of the
previous sync (``since_commit``) only the files that changed since then are handed over as documents::

    spec = GitSpec("https://github.com/acme/handbook.git", branch="main", include=("docs/**",))
    result = fetch_git(spec, cache_dir, since_commit=previous_cursor, is_supported=parsers.is_supported)
    result.documents       # FetchedDocument per new or changed file (path = the file in the clone)
    result.unchanged_uris  # the other files of the listing; a file deleted upstream is in neither
    result.cursor          # the commit synced: the next sync's ``since_commit``

Everything goes through the ``git`` command line: no shell, ``--`` before paths and URLs, a deadline on
the whole fetch, and never a prompt (no terminal, ``GIT_TERMINAL_PROMPT=0``). Credentials in a URL
(``https://user:token@host/...``) reach git only through its environment, as a rewrite of the public
URL (``url.<with token>.insteadOf <without>``): they are not in the clone's config, the process list,
a document's uri or origin, or an error message.

Globs (``include``/``exclude``) match the repository-relative POSIX path, case-sensitively, the way
``.gitignore`` lines do: ``*`` and ``?`` stay within one folder, ``**`` is any number of folders, a
pattern without ``/`` matches a name at any depth, and a pattern that matches a folder matches
everything inside it (see ``matches_pattern``).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from application.ingest.documents import FetchedDocument, FetchResult, SourceError
from application.redaction import Redactor, redact_url

#: the ``git`` program run (a test may point it elsewhere)
GIT_EXECUTABLE = "git"
#: a file larger than this is reported as failed, not read
MAX_FILE_BYTES = 25 * 1024 * 1024
#: URL schemes accepted; git's other transports (``ext::`` runs a command) are refused
URL_SCHEMES = ("https", "http", "ssh", "git", "file")
#: branches named in the message for a branch that does not exist
BRANCHES_SHOWN = 20

_SYMLINK_MODE = "120000"
_COMMIT_SHA = re.compile(r"[0-9a-fA-F]{4,64}")


@dataclass(frozen=True)
class GitSpec:
    """Which repository, which branch and which of its files make a source.

    ``url``: ``https://...`` (credentials allowed: ``https://user:token@host/repo.git``), ``ssh://...``,
    ``git@host:org/repo.git``, ``file://...``, or the path of a local repository (``/srv/docs-repo``).
    ``branch``: None for the remote's default branch. ``include``/``exclude``: glob patterns on the
    repository-relative path (``"docs/**"``, ``"*.md"``); no ``include`` means every file.
    """

    url: str
    branch: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


def document_uri(spec: GitSpec, rel_path: str) -> str:
    """The stable id of a file of the repository: ``git+<url without credentials>@<branch>#<path>``.

    With no branch given (the default branch) the ``@<branch>`` part is left out, so a repository that
    renames its default branch keeps its documents.
    """
    url = _Remote.of(spec.url).public
    branch = f"@{spec.branch}" if spec.branch else ""
    return f"git+{url}{branch}#{rel_path}"


def fetch_git(spec: GitSpec, cache_dir: Path, since_commit: str | None, is_supported: Callable[[Path], bool],
              progress: Callable[[int, int], None] | None = None, timeout_seconds: float = 300) -> FetchResult:
    """Sync the clone of ``spec``'s repository in ``cache_dir`` and list its files.

    A file is listed when it matches the globs, is not hidden (no part of its path starts with ``.``,
    as in folder ingestion) and is not a symbolic link. Listed files that ``is_supported`` refuses are
    ``skipped``; those over ``MAX_FILE_BYTES`` are ``failed``. When ``since_commit`` is still known
    to the clone, only the files that differ between it and the synced commit become ``documents``
    and the rest go to ``unchanged_uris``; otherwise (first sync, history rewritten and the old commit
    gone) every listed file is a document.

    The caller syncs one source at a time, and starts again from ``since_commit=None`` when the spec's
    globs change (files that start to match are in no diff). ``progress(done, total)`` counts the files
    of the repository as they are checked. Raises ``SourceError`` (one readable line) when the
    repository cannot be read, the branch does not exist, git is missing or the deadline passes.
    """
    patterns = _checked_patterns(spec)
    remote = _Remote.of(spec.url)
    git = _Git(remote, deadline=time.monotonic() + timeout_seconds, timeout_seconds=timeout_seconds)

    branches, default_branch = _remote_branches(git, remote)
    branch = spec.branch or default_branch
    if branch not in branches:
        shown = sorted(branches)
        listed = ", ".join(shown[:BRANCHES_SHOWN]) + (f" and {len(shown) - BRANCHES_SHOWN} more"
                                                      if len(shown) > BRANCHES_SHOWN else "")
        raise SourceError(f"branch '{branch}' does not exist in {remote.public}; branches: {listed}")

    clone = _synced_clone(git, remote, Path(cache_dir), spec.branch, branch)
    head = git.text("rev-parse", "--verify", "HEAD^{commit}", cwd=clone)
    changed = _changed_since(git, clone, since_commit, head)

    result = FetchResult(cursor=head)
    entries = _tree_entries(git, clone)
    total = len(entries)
    if progress:
        progress(0, total)
    for done, (mode, size, rel_path) in enumerate(entries, start=1):
        if progress and (done % 200 == 0 or done == total):
            progress(done, total)
        if not _listed(rel_path, *patterns):
            continue
        uri = document_uri(spec, rel_path)
        path = clone / rel_path
        if mode == _SYMLINK_MODE:
            result.skipped.append((uri, "a symbolic link (not followed)"))
        elif not is_supported(path):
            result.skipped.append((uri, f"unsupported file type '{path.suffix or path.name}'"))
        elif size > MAX_FILE_BYTES:
            result.failed.append((uri, f"{rel_path} is {size / 2**20:.1f} MB, over the "
                                       f"{MAX_FILE_BYTES // 2**20} MB limit for one file"))
        elif changed is not None and rel_path not in changed:
            result.unchanged_uris.append(uri)
        else:
            result.documents.append(FetchedDocument(uri=uri, path=path, origin=f"{rel_path} @ {head[:7]}"))
    return result


def matches_pattern(pattern: str, rel_path: str) -> bool:
    """Whether a glob matches a repository-relative POSIX path (``docs/guide/install.md``).

    ``*`` is any characters but ``/``, ``?`` one of them, ``[abc]``/``[!abc]`` a set; ``**`` as a whole
    part is any number of folders, none included (``docs/**``, ``**/*.md``, ``docs/**/index.md``
    matches ``docs/index.md``). Without a ``/`` a pattern matches a name at any depth (``*.md``,
    ``drafts``); a leading ``/`` anchors it to the root (``/README.md``). A pattern that matches a
    folder matches everything in it (``docs/drafts``); one that ends with ``/`` matches folders only.
    Matching is case-sensitive, as git paths are.
    """
    regex, folders_only = _compiled(pattern)
    parts = rel_path.split("/")
    candidates = ["/".join(parts[:depth]) for depth in range(1, len(parts))]
    if not folders_only:
        candidates.append(rel_path)
    return any(regex.fullmatch(candidate) for candidate in candidates)


# -- the remote ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Remote:
    """A repository address as git gets it (``url``) and as anyone else may see it (``public``)."""

    url: str
    public: str

    @classmethod
    def of(cls, url: str) -> _Remote:
        url = (url or "").strip()
        if not url:
            raise SourceError("A git source needs the repository's URL or path.")
        if url.startswith("-") or re.match(r"[A-Za-z][A-Za-z0-9+.-]*::", url):  # an option, or ext::<command>
            raise SourceError(f"'{redact_url(url)}' is not a repository URL or path.")
        if "://" in url:
            scheme = url.split("://", 1)[0].lower()
            if scheme not in URL_SCHEMES:
                raise SourceError(f"git URLs must start with {', '.join(s + '://' for s in URL_SCHEMES)}; "
                                  f"'{scheme}://' is not accepted.")
            return cls(url=url, public=_without_credentials(url))
        if _is_scp_like(url):  # git@github.com:org/repo.git: an SSH user name, no password
            return cls(url=url, public=url)
        path = os.path.abspath(os.path.expanduser(url))
        return cls(url=path, public=path)

    @property
    def is_local_path(self) -> bool:
        return os.path.isabs(self.url)

    def hide_credentials(self, text: str) -> str:
        """``text`` (a git message) with the URL's user name and password taken out."""
        if self.url == self.public:
            return text
        text = text.replace(self.url, self.public).replace(self.url.rstrip("/"), self.public.rstrip("/"))
        parts = urlsplit(self.url)
        userinfo = parts.netloc.rpartition("@")[0]
        if userinfo:
            text = text.replace(f"{userinfo}@", "")
        return Redactor.build(urls={"GIT_URL": self.url}).hide_secrets(text)

    def git_config(self, already: int = 0) -> dict[str, str]:
        """Environment that makes git use the URL with its credentials wherever it is given the public one
        (after ``already`` settings that the environment passes to git the same way)."""
        if self.url == self.public:
            return {}
        return {"GIT_CONFIG_COUNT": str(already + 1), f"GIT_CONFIG_KEY_{already}": f"url.{self.url}.insteadOf",
                f"GIT_CONFIG_VALUE_{already}": self.public}


def _without_credentials(url: str) -> str:
    """Web URLs lose the whole user part (a token is often the user name: ``https://<token>@github.com``);
    other schemes keep the user name, which is no secret (``ssh://git@host/...``), and lose a password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise SourceError(f"'{redact_url(url)}' is not a valid URL.") from None
    if parts.scheme.lower() in ("http", "https") and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return redact_url(url)


def _is_scp_like(url: str) -> bool:
    """``[user@]host:path``, git's short SSH form: a colon before the first slash."""
    return ":" in url.split("/", 1)[0]


# -- running git -----------------------------------------------------------------------------
class _GitFailed(Exception):
    """A git command exited with an error; ``stderr`` is what it said."""

    def __init__(self, stderr: str):
        super().__init__(stderr)
        self.stderr = stderr


class _Git:
    """Runs git commands against one remote under one deadline."""

    def __init__(self, remote: _Remote, deadline: float, timeout_seconds: float):
        self.remote = remote
        self.deadline = deadline
        self.timeout_seconds = timeout_seconds
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C",
                    "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh"}
        self.env.update(remote.git_config(already=int(self.env.get("GIT_CONFIG_COUNT") or 0)))

    def run(self, *args: str, cwd: Path | None = None) -> bytes:
        """stdout of ``git <args>``; raises ``_GitFailed`` on an error exit, ``SourceError`` when git is
        missing or the deadline passes."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out()
        try:
            # a session of its own: no terminal to prompt on, and a timeout kills ssh/curl helpers too
            process = subprocess.Popen([GIT_EXECUTABLE, *args], cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except FileNotFoundError:
            raise SourceError(f"git is not installed (no '{GIT_EXECUTABLE}' program found): install git "
                              "on the server to sync repositories.") from None
        try:
            stdout, stderr = process.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended just now
                pass
            process.communicate()
            raise self._timed_out() from None
        if process.returncode != 0:
            raise _GitFailed(self.remote.hide_credentials(stderr.decode("utf-8", "replace")))
        return stdout

    def text(self, *args: str, cwd: Path | None = None) -> str:
        return self.run(*args, cwd=cwd).decode("utf-8", "replace").strip()

    def _timed_out(self) -> SourceError:
        return SourceError(f"git did not finish reading {self.remote.public} within {self.timeout_seconds:g} "
                           "seconds: check that the server answers, or allow more time.")


def _unreadable(remote: _Remote, failure: _GitFailed) -> SourceError:
    """The one-line SourceError for a repository that git cannot read, with what to do about it."""
    said = failure.stderr.lower()
    if remote.is_local_path and not os.path.exists(remote.url):
        return SourceError(f"{remote.public} does not exist: give the path of a git repository on the server.")
    if remote.is_local_path and "does not appear to be a git repository" in said:
        return SourceError(f"{remote.public} is not a git repository: give the path of a folder with a "
                           ".git inside, or of a bare repository.")
    if any(sign in said for sign in ("does not appear to be a git repository", "repository not found",
                                     "not found", "no such file or directory")):
        reason = "repository not found; check the address (a private repository needs credentials)"
    elif "could not resolve host" in said or "name or service not known" in said:
        reason = "the host name cannot be resolved; check the address"
    elif any(sign in said for sign in ("connection refused", "couldn't connect", "failed to connect",
                                       "no route to host", "network is unreachable")):
        reason = "cannot connect to the server; check the address and that the server is up"
    elif "host key verification failed" in said:
        reason = "the server's SSH host key is not known; add it to known_hosts of the user that runs DocsTune"
    elif any(sign in said for sign in ("authentication failed", "could not read username",
                                       "could not read password", "permission denied", "error: 403")):
        reason = ("access denied; put a token in the URL (https://user:token@host/...) or give the server's "
                  "user an SSH key the repository accepts")
    elif "timed out" in said:
        reason = "the connection timed out; check that the server answers"
    else:
        reason = _last_git_error(failure.stderr)
    return SourceError(f"git could not read {remote.public}: {reason}")


def _last_git_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    line = (fatal or lines or ["git failed without saying why"])[0]
    return line.split(":", 1)[1].strip() if line.startswith(("fatal:", "error:")) else line


# -- the clone -------------------------------------------------------------------------------
def _remote_branches(git: _Git, remote: _Remote) -> tuple[dict[str, str], str | None]:
    """``({branch: commit}, default branch)`` as the remote advertises them."""
    try:
        listing = git.text("ls-remote", "--symref", "--", remote.public, "HEAD", "refs/heads/*")
    except _GitFailed as failure:
        raise _unreadable(remote, failure) from None
    branches: dict[str, str] = {}
    default = head_commit = None
    for line in listing.splitlines():
        left, _, ref = line.partition("\t")
        if left.startswith("ref: ") and ref == "HEAD":
            default = left[len("ref: "):].removeprefix("refs/heads/")
        elif ref == "HEAD":
            head_commit = left
        elif ref.startswith("refs/heads/"):
            branches[ref.removeprefix("refs/heads/")] = left
    if not branches:
        raise SourceError(f"{remote.public} has no branches yet: push a first commit, then sync again.")
    if default is None:  # a server that does not say where HEAD points: the one branch at HEAD's commit
        at_head = [name for name, commit in branches.items() if commit == head_commit]
        default = at_head[0] if len(at_head) == 1 else None
    if default is None:
        raise SourceError(f"{remote.public} does not say which branch is its default: "
                          f"name the branch to sync ({', '.join(sorted(branches)[:BRANCHES_SHOWN])}).")
    return branches, default


def _synced_clone(git: _Git, remote: _Remote, cache_dir: Path, spec_branch: str | None, branch: str) -> Path:
    """The source's clone, its working tree at the remote branch's newest commit and nothing else in it."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", remote.public.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))
    key = hashlib.sha256(f"{remote.public}\n{spec_branch or ''}".encode()).hexdigest()[:16]
    clone = cache_dir / f"{name.strip('.-')[:40] or 'repository'}-{key}"
    tracking = f"refs/remotes/origin/{branch}"
    try:
        if not (clone / ".git" / "HEAD").is_file():  # never made, or a first sync cut short
            shutil.rmtree(clone, ignore_errors=True)
            clone.mkdir(parents=True)
            git.run("init", "--quiet", cwd=clone)
            git.run("remote", "add", "origin", remote.public, cwd=clone)
        try:
            git.run("fetch", "--quiet", "--no-tags", "--force", "origin",
                    f"+refs/heads/{branch}:{tracking}", cwd=clone)
        except _GitFailed as failure:
            raise _unreadable(remote, failure) from None
        git.run("checkout", "--quiet", "--force", "--detach", tracking, cwd=clone)
        git.run("clean", "--quiet", "-ffdx", cwd=clone)
    except OSError as exc:
        raise SourceError(f"cannot write the repository cache {clone}: {exc.strerror or exc}") from None
    except _GitFailed as failure:
        raise SourceError(f"the cached clone of {remote.public} in {clone} is damaged "
                          f"({_last_git_error(failure.stderr)}): delete that folder and sync again.") from None
    return clone


def _changed_since(git: _Git, clone: Path, since_commit: str | None, head: str) -> set[str] | None:
    """Paths that differ between ``since_commit`` and ``head``; None when there is nothing to compare with.

    Trees are compared, not history: after a force-push the old commit, if the clone still has it,
    still tells exactly which files differ from what was synced then.
    """
    if not since_commit or not _COMMIT_SHA.fullmatch(since_commit):
        return None
    try:
        git.run("cat-file", "-e", f"{since_commit}^{{commit}}", cwd=clone)
    except _GitFailed:
        return None
    listing = git.run("diff", "--name-only", "--no-renames", "-z", since_commit, head, "--", cwd=clone)
    return {name for name in _paths(listing.split(b"\0")) if name}


def _tree_entries(git: _Git, clone: Path) -> list[tuple[str, int, str]]:
    """``(mode, size, path)`` of every file of HEAD (submodules left out), in git's order."""
    entries = []
    for record in git.run("ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD", cwd=clone).split(b"\0"):
        meta, _, raw_path = record.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4 or fields[1] != b"blob":
            continue
        for path in _paths([raw_path]):
            entries.append((fields[0].decode(), int(fields[3]) if fields[3].isdigit() else 0, path))
    return entries


def _paths(raw_paths: Sequence[bytes]) -> list[str]:
    # a name that is not UTF-8 could not be stored as a uri; such files are left out
    names = []
    for raw in raw_paths:
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return names


# -- globs -----------------------------------------------------------------------------------
def _checked_patterns(spec: GitSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    for kind, patterns in (("include", spec.include), ("exclude", spec.exclude)):
        for pattern in patterns:
            try:
                _compiled(pattern)
            except (ValueError, re.error):
                raise SourceError(f"The {kind} pattern '{pattern}' is not a valid glob "
                                  "(examples: 'docs/**', '*.md', 'docs/drafts/').") from None
    return tuple(spec.include), tuple(spec.exclude)


def _listed(rel_path: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if any(part.startswith(".") for part in rel_path.split("/")):
        return False
    if include and not any(matches_pattern(pattern, rel_path) for pattern in include):
        return False
    return not any(matches_pattern(pattern, rel_path) for pattern in exclude)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> tuple[re.Pattern, bool]:
    """``(regex over a whole path, folders only)`` for a glob (semantics in ``matches_pattern``)."""
    text = pattern.strip()
    folders_only = text.endswith("/")
    anchored = "/" in text.rstrip("/")
    text = text.strip("/")
    if not text:
        raise ValueError("empty pattern")
    parts = text.split("/") if anchored else ["**", text]
    regex = ""
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _part_regex(part) + ("" if last else "/")
    return re.compile(regex), folders_only


def _part_regex(part: str) -> str:
    """One path part of a glob as a regex that never crosses a ``/``."""
    out, index, length = [], 0, len(part)
    while index < length:
        char = part[index]
        index += 1
        if char == "*":
            while index < length and part[index] == "*":
                index += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = index + (1 if index < length and part[index] in "!^" else 0)
            end += 1 if end < length and part[end] == "]" else 0
            while end < length and part[end] != "]":
                end += 1
            if end >= length:  # no closing bracket: a literal "["
                out.append(re.escape(char))
                continue
            body, index = part[index:end], end + 1
            negated = body[:1] in ("!", "^")
            body = "".join(c if c == "-" else re.escape(c) for c in (body[1:] if negated else body))
            out.append(f"[^/{body}]" if negated else f"(?!/)[{body}]")
        else:
            out.append(re.escape(char))
    return "".join(out)
