"""The git source fetcher, on real repositories made by the tests (tests/git_repo.py).

Only local repositories and servers on 127.0.0.1 are contacted.
"""
from __future__ import annotations

import base64
import http.server
import os
import stat
import subprocess
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from application.ingest import git as git_source
from application.ingest.documents import SourceError
from application.ingest.git import GitSpec, document_uri, fetch_git, matches_pattern
from application.ingest.parsers import is_supported
from tests.git_repo import GitRepo


@pytest.fixture(autouse=True)
def _no_user_git_config(monkeypatch):
    # the fetcher's git must not pick up the machine's credential helpers, URL rewrites or hooks
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def handbook(tmp_path) -> GitRepo:
    repo = GitRepo.create(tmp_path / "handbook")
    repo.write("README.md", "# Handbook\n")
    repo.write("docs/install.md", "# Install\n\nRun the installer.\n")
    repo.write("docs/faq.txt", "Questions and answers.\n")
    repo.write("docs/drafts/pricing.md", "# Pricing (draft)\n")
    repo.write("docs/api/index.html", "<title>API</title><p>Endpoints</p>")
    repo.write_bytes("docs/logo.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>")
    repo.write(".github/ISSUE_TEMPLATE.md", "Describe the bug\n")
    repo.commit("first version")
    return repo


def fetch(spec: GitSpec, cache: Path, since: str | None = None, **options):
    return fetch_git(spec, cache, since, is_supported, **options)


def rel_paths(uris) -> list[str]:
    return sorted(uri.rsplit("#", 1)[1] for uri in uris)


def test_first_fetch_lists_every_supported_file_with_its_uri_origin_and_commit(handbook, tmp_path):
    spec = GitSpec(str(handbook.path))
    result = fetch(spec, tmp_path / "cache")

    assert result.cursor == handbook.head and result.complete
    assert rel_paths(d.uri for d in result.documents) == [
        "README.md", "docs/api/index.html", "docs/drafts/pricing.md", "docs/faq.txt", "docs/install.md"]
    assert result.unchanged_uris == [] and result.failed == []
    assert result.skipped == [(document_uri(spec, "docs/logo.svg"), "unsupported file type '.svg'")]

    install = next(d for d in result.documents if d.uri.endswith("#docs/install.md"))
    assert install.uri == f"git+{handbook.path}#docs/install.md"
    assert install.origin == f"docs/install.md @ {handbook.head[:7]}"
    assert install.title is None
    assert install.path.read_text() == "# Install\n\nRun the installer.\n"
    assert install.path.is_relative_to(tmp_path / "cache")


def test_hidden_files_and_folders_are_left_out(handbook, tmp_path):
    result = fetch(GitSpec(str(handbook.path)), tmp_path / "cache")
    every_uri = [d.uri for d in result.documents] + [uri for uri, _ in result.skipped]
    assert not any(".github" in uri for uri in every_uri)


def test_include_and_exclude_globs_pick_the_files(handbook, tmp_path):
    spec = GitSpec(handbook.url, include=("docs/**",), exclude=("docs/drafts/**", "*.html"))
    result = fetch(spec, tmp_path / "cache")
    assert rel_paths(d.uri for d in result.documents) == ["docs/faq.txt", "docs/install.md"]
    assert rel_paths(uri for uri, _ in result.skipped) == ["docs/logo.svg"]

    markdown_only = fetch(GitSpec(handbook.url, include=("*.md",)), tmp_path / "cache")
    assert rel_paths(d.uri for d in markdown_only.documents) == [
        "README.md", "docs/drafts/pricing.md", "docs/install.md"]
    assert markdown_only.skipped == []


@pytest.mark.parametrize("pattern, path, expected", [
    ("docs/**", "docs/install.md", True),
    ("docs/**", "docs/a/b/c.md", True),
    ("docs/**", "other/docs.md", False),
    ("*.md", "README.md", True),
    ("*.md", "docs/guide/install.md", True),  # no slash: a name at any depth
    ("*.md", "docs/install.txt", False),
    ("docs/*.md", "docs/install.md", True),
    ("docs/*.md", "docs/guide/install.md", False),  # * stays within one folder
    ("**/*.md", "install.md", True),
    ("docs/**/index.md", "docs/index.md", True),  # ** is zero folders too
    ("docs/**/index.md", "docs/a/b/index.md", True),
    ("docs/drafts", "docs/drafts/pricing.md", True),  # a folder matches what is inside it
    ("drafts/", "docs/drafts/pricing.md", True),
    ("drafts/", "docs/drafts", False),  # a trailing slash: folders only
    ("/README.md", "README.md", True),
    ("/README.md", "docs/README.md", False),
    ("doc?/[a-i]*.md", "docs/install.md", True),
    ("doc?/[!a-i]*.md", "docs/install.md", False),
    ("Docs/**", "docs/install.md", False),  # case-sensitive
    ("a[b", "a[b", True),  # an unclosed bracket is a literal
])
def test_glob_semantics(pattern, path, expected):
    assert matches_pattern(pattern, path) is expected


def test_an_invalid_pattern_is_a_readable_error(handbook, tmp_path):
    with pytest.raises(SourceError, match="include pattern '/' is not a valid glob"):
        fetch(GitSpec(handbook.url, include=("/",)), tmp_path / "cache")


def test_a_later_fetch_hands_over_only_changed_and_added_files(handbook, tmp_path):
    spec = GitSpec(str(handbook.path))
    cache = tmp_path / "cache"
    first = fetch(spec, cache)

    handbook.write("docs/install.md", "# Install\n\nRun the new installer.\n")
    handbook.write("docs/upgrade.md", "# Upgrade\n")
    handbook.remove("docs/faq.txt")
    second_commit = handbook.commit("change, add, delete")
    second = fetch(spec, cache, since=first.cursor)

    assert second.cursor == second_commit and second.complete
    assert rel_paths(d.uri for d in second.documents) == ["docs/install.md", "docs/upgrade.md"]
    assert rel_paths(second.unchanged_uris) == ["README.md", "docs/api/index.html", "docs/drafts/pricing.md"]
    assert document_uri(spec, "docs/faq.txt") not in {d.uri for d in second.documents} | set(second.unchanged_uris)
    install = next(d for d in second.documents if d.uri.endswith("#docs/install.md"))
    assert "new installer" in install.path.read_text()
    assert install.origin == f"docs/install.md @ {second_commit[:7]}"
    assert not (install.path.parent / "faq.txt").exists()

    # nothing new: everything is unchanged
    third = fetch(spec, cache, since=second.cursor)
    assert third.documents == [] and len(third.unchanged_uris) == 5


def test_a_rename_is_a_deletion_and_an_addition(handbook, tmp_path):
    spec = GitSpec(str(handbook.path))
    first = fetch(spec, tmp_path / "cache")
    handbook.git("mv", "docs/install.md", "docs/setup.md")
    handbook.commit("rename")
    second = fetch(spec, tmp_path / "cache", since=first.cursor)
    assert rel_paths(d.uri for d in second.documents) == ["docs/setup.md"]
    assert document_uri(spec, "docs/install.md") not in second.unchanged_uris


def test_an_unknown_since_commit_lists_every_file(handbook, tmp_path):
    result = fetch(GitSpec(str(handbook.path)), tmp_path / "cache", since="0123456789abcdef" * 2 + "01234567")
    assert len(result.documents) == 5 and result.unchanged_uris == []
    not_a_commit = fetch(GitSpec(str(handbook.path)), tmp_path / "cache", since="HEAD~1")
    assert len(not_a_commit.documents) == 5


def test_a_force_push_compares_with_what_was_synced(handbook, tmp_path):
    spec = GitSpec(str(handbook.path))
    cache = tmp_path / "cache"
    base = handbook.head
    handbook.write("docs/install.md", "# Install\n\nA version that will be rewritten away.\n")
    handbook.write("docs/temporary.md", "# Temporary\n")
    handbook.commit("to be rewritten")
    synced = fetch(spec, cache).cursor

    handbook.reset(base)
    handbook.write("README.md", "# Handbook, rewritten\n")
    rewritten = handbook.commit("rewritten history")
    result = fetch(spec, cache, since=synced)

    assert result.cursor == rewritten
    # the synced commit is no ancestor any more, but the clone still has it: its tree tells what differs
    with pytest.raises(RuntimeError):
        handbook.git("merge-base", "--is-ancestor", synced, rewritten)
    # README.md changed, install.md is back to its earlier text, temporary.md is gone
    assert rel_paths(d.uri for d in result.documents) == ["README.md", "docs/install.md"]
    assert rel_paths(result.unchanged_uris) == ["docs/api/index.html", "docs/drafts/pricing.md", "docs/faq.txt"]

    # a fresh cache (the old commit gone): every file is a document again
    fresh = fetch(spec, tmp_path / "fresh-cache", since=synced)
    assert len(fresh.documents) == 5 and fresh.unchanged_uris == []


def test_the_branch_can_be_chosen_and_none_means_the_default_branch(handbook, tmp_path):
    handbook.branch("dev")
    handbook.write("docs/preview.md", "# Preview\n")
    dev_commit = handbook.commit("preview")
    handbook.checkout("main")

    dev = fetch(GitSpec(handbook.url, branch="dev"), tmp_path / "cache")
    assert dev.cursor == dev_commit
    assert f"git+{handbook.url}@dev#docs/preview.md" in {d.uri for d in dev.documents}

    default = fetch(GitSpec(handbook.url), tmp_path / "cache")
    assert default.cursor != dev_commit
    assert "docs/preview.md" not in rel_paths(d.uri for d in default.documents)
    # two specs of one repository keep their own working trees: dev's file is still there
    assert next(d for d in dev.documents if d.uri.endswith("preview.md")).path.exists()


def test_a_branch_that_does_not_exist_names_the_branches_that_do(handbook, tmp_path):
    handbook.branch("dev")
    with pytest.raises(SourceError) as raised:
        fetch(GitSpec(str(handbook.path), branch="nope"), tmp_path / "cache")
    assert str(raised.value) == f"branch 'nope' does not exist in {handbook.path}; branches: dev, main"


def test_a_missing_path_or_a_folder_that_is_no_repository_is_a_readable_error(tmp_path):
    with pytest.raises(SourceError, match=r"/nowhere does not exist: give the path of a git repository"):
        fetch(GitSpec(str(tmp_path / "nowhere")), tmp_path / "cache")
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match=r"/plain is not a git repository"):
        fetch(GitSpec(str(tmp_path / "plain")), tmp_path / "cache")
    with pytest.raises(SourceError, match=r"git could not read file://.*/nope\.git: repository not found"):
        fetch(GitSpec((tmp_path / "nope.git").as_uri()), tmp_path / "cache")


def test_an_empty_repository_says_to_push_a_commit_first(tmp_path):
    empty = GitRepo.create(tmp_path / "empty")
    with pytest.raises(SourceError, match="has no branches yet"):
        fetch(GitSpec(str(empty.path)), tmp_path / "cache")


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/pwned", "--upload-pack=touch /tmp/pwned", "ftp://host/x.git"])
def test_transports_that_run_commands_or_are_unknown_are_refused(url, tmp_path):
    with pytest.raises(SourceError, match="not a repository URL|not accepted"):
        fetch(GitSpec(url), tmp_path / "cache")


def test_credentials_never_show_in_errors_or_uris(tmp_path):
    spec = GitSpec("https://user:secret@127.0.0.1:1/x.git")
    assert document_uri(spec, "a.md") == "git+https://127.0.0.1:1/x.git#a.md"
    with pytest.raises(SourceError) as raised:
        fetch(spec, tmp_path / "cache", timeout_seconds=20)
    message = str(raised.value)
    assert message.startswith("git could not read https://127.0.0.1:1/x.git: cannot connect to the server")
    assert "secret" not in message and "user" not in message


class _RepositoryServer(http.server.SimpleHTTPRequestHandler):
    """Serves a bare repository over git's "dumb" HTTP protocol to ``user:secret`` only."""

    seen_credentials: list[str] = []

    def do_GET(self):
        header = self.headers.get("Authorization", "")
        if not header:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        credentials = base64.b64decode(header.removeprefix("Basic ")).decode()
        self.seen_credentials.append(credentials)
        if credentials != "user:secret":
            self.send_error(403)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def served_handbook(handbook, tmp_path):
    bare = tmp_path / "served" / "handbook.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(handbook.path), str(bare)], check=True)
    subprocess.run(["git", "update-server-info"], cwd=bare, check=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_RepositoryServer, directory=str(bare.parent)))
    _RepositoryServer.seen_credentials = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_credentials_in_the_url_are_used_but_kept_out_of_uris_origins_and_the_clone(served_handbook, tmp_path):
    spec = GitSpec(served_handbook.replace("http://", "http://user:secret@") + "/handbook.git")
    cache = tmp_path / "cache"
    result = fetch(spec, cache, timeout_seconds=30)

    assert "user:secret" in _RepositoryServer.seen_credentials
    assert len(result.documents) == 5
    for document in result.documents:
        assert document.uri.startswith(f"git+{served_handbook}/handbook.git#")
        assert "secret" not in document.uri + document.origin
    stored = "".join(p.read_text(errors="replace") for p in cache.rglob("*") if p.is_file() and ".git" in p.parts
                     and p.name in ("config", "FETCH_HEAD"))
    assert "secret" not in stored


def test_a_repository_that_is_not_found_behind_credentials_is_a_readable_error(served_handbook, tmp_path):
    spec = GitSpec(served_handbook.replace("http://", "http://user:secret@") + "/nope.git")
    with pytest.raises(SourceError) as raised:
        fetch(spec, tmp_path / "cache", timeout_seconds=30)
    assert str(raised.value).startswith(f"git could not read {served_handbook}/nope.git: repository not found")
    assert "secret" not in str(raised.value)


def test_wrong_credentials_say_access_is_denied(served_handbook, tmp_path):
    spec = GitSpec(served_handbook.replace("http://", "http://user:wrong-token@") + "/handbook.git")
    with pytest.raises(SourceError, match="access denied") as raised:
        fetch(spec, tmp_path / "cache", timeout_seconds=30)
    assert "wrong-token" not in str(raised.value)


def test_unsupported_symbolic_and_oversized_files_are_reported(handbook, tmp_path, monkeypatch):
    os.symlink("/etc/passwd", handbook.path / "docs" / "passwd.txt")
    handbook.write("docs/big.md", "x" * 2000)
    handbook.commit("a link and a big file")
    monkeypatch.setattr(git_source, "MAX_FILE_BYTES", 1000)
    spec = GitSpec(str(handbook.path), include=("docs/",))
    result = fetch(spec, tmp_path / "cache")

    assert (document_uri(spec, "docs/passwd.txt"), "a symbolic link (not followed)") in result.skipped
    assert (document_uri(spec, "docs/logo.svg"), "unsupported file type '.svg'") in result.skipped
    assert [uri for uri, _ in result.failed] == [document_uri(spec, "docs/big.md")]
    assert result.failed[0][1].startswith("docs/big.md is 0.0 MB, over the 0 MB limit")
    assert result.complete
    assert "docs/passwd.txt" not in rel_paths(d.uri for d in result.documents)


def test_progress_counts_the_files_of_the_repository(handbook, tmp_path):
    calls = []
    fetch(GitSpec(str(handbook.path)), tmp_path / "cache", progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 7) and calls[-1] == (7, 7)


def test_missing_git_is_a_readable_error(handbook, tmp_path, monkeypatch):
    monkeypatch.setattr(git_source, "GIT_EXECUTABLE", str(tmp_path / "no-git-here"))
    with pytest.raises(SourceError, match="git is not installed"):
        fetch(GitSpec(str(handbook.path)), tmp_path / "cache")


def test_a_git_that_hangs_is_stopped_at_the_deadline(handbook, tmp_path, monkeypatch):
    hanging = tmp_path / "hanging-git"
    # a child that keeps the pipes open, like ssh under git: it must be killed too
    hanging.write_text("#!/bin/sh\nsleep 30 &\nsleep 30\n")
    hanging.chmod(hanging.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(git_source, "GIT_EXECUTABLE", str(hanging))
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"git did not finish reading .* within 0\.5 seconds"):
        fetch(GitSpec(str(handbook.path)), tmp_path / "cache", timeout_seconds=0.5)
    assert time.monotonic() - started < 5
