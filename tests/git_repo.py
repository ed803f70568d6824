"""A local git repository for tests, driven through the ``git`` command line.

The repository's own config sets the author and turns signing off, and commits carry a fixed date, so
the same steps give the same commit ids on any machine; the user's global and system git config are
not read. Nothing is contacted over a network::

    repo = GitRepo.create(tmp_path / "docs")            # an empty repository on branch "main"
    repo.write("guide/install.md", "# Install\\n")       # returns the file's Path
    repo.write_bytes("logo.png", b"\\x89PNG...")
    first = repo.commit("first")                         # stages everything (added, changed, removed)
    repo.remove("guide/install.md")
    second = repo.commit("remove the guide")
    repo.branch("dev")                                   # a new branch at HEAD, and switch to it
    repo.checkout("main")
    repo.reset(first)                                    # rewrite the branch's history (as a force-push)
    repo.head                                            # the current commit's id
    repo.url                                             # file:// URL of the repository
    repo.git("log", "--oneline")                         # any other git command; its stdout
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: every commit is made at this moment (with the fixed author, the same steps give the same ids)
COMMIT_DATE = "2026-01-01T12:00:00+00:00"


@dataclass(frozen=True)
class GitRepo:
    path: Path

    @classmethod
    def create(cls, path: Path, branch: str = "main") -> GitRepo:
        """A new, empty repository at ``path`` (made if missing) whose first branch is ``branch``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "--quiet", f"--initial-branch={branch}")
        for key, value in (("user.name", "DocsTune Tests"), ("user.email", "tests@docstune.invalid"),
                           ("commit.gpgsign", "false"), ("core.autocrlf", "false")):
            repo.git("config", key, value)
        return repo

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def write(self, rel_path: str, text: str) -> Path:
        """Write a text file (folders made as needed); it is part of the next ``commit``."""
        return self.write_bytes(rel_path, text.encode())

    def write_bytes(self, rel_path: str, data: bytes) -> Path:
        target = self.path / rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def remove(self, rel_path: str) -> None:
        """Delete a file from the working tree; the next ``commit`` records the deletion."""
        (self.path / rel_path).unlink()

    def commit(self, message: str) -> str:
        """Commit every change of the working tree; returns the new commit's id."""
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", message)
        return self.head

    def branch(self, name: str) -> None:
        """Create branch ``name`` at the current commit and switch to it."""
        self.git("checkout", "--quiet", "-b", name)

    def checkout(self, name: str) -> None:
        self.git("checkout", "--quiet", name)

    def reset(self, commit: str) -> None:
        """Move the current branch to ``commit`` and its files with it (history rewritten, as by a force-push)."""
        self.git("reset", "--quiet", "--hard", commit)

    def git(self, *args: str) -> str:
        """Run ``git <args>`` in the repository; its stdout, stripped. Raises on a failing command."""
        env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE, "GIT_TERMINAL_PROMPT": "0",
               "LC_ALL": "C"}
        completed = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True,
                                   timeout=60)
        if completed.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {completed.stderr.strip()}")
        return completed.stdout.strip()
