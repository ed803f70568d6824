"""A throw-away ``redis-server`` on a free 127.0.0.1 port, for the tests of the Redis job queue.

No persistence (``--save '' --appendonly no``), nothing written outside its temp folder, stopped
when the test session ends. Debian's ``redis-server`` is installed by ``make system-packages``;
without it the tests that need it fail (never skip) with the line that installs it.

Example::

    server = RedisServer(tmp_dir).start()
    server.url            # "redis://127.0.0.1:<port>/0"
    server.flush()        # empty it between tests
    server.stop()
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.live_server import stop_process

REDIS_SERVER = "redis-server"
INSTALL_HINT = "install it with `make system-packages` (or `apt-get install redis-server`)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, folder: Path, binary: str | None = None):
        self.folder = Path(folder)
        self.binary = binary or shutil.which(REDIS_SERVER) or "/usr/bin/redis-server"
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> "RedisServer":
        if not Path(self.binary).is_file():
            raise FileNotFoundError(f"{REDIS_SERVER} is not installed (looked for {self.binary}): {INSTALL_HINT}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        log = (self.folder / "redis.log").open("w")
        self.process = subprocess.Popen(
            [self.binary, "--save", "", "--appendonly", "no", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n"
                                   + (self.folder / "redis.log").read_text())
            try:
                if self._command("PING").startswith("+PONG"):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer on port {self.port} in {timeout:g} s")
            time.sleep(0.05)

    def _command(self, *words: str) -> str:
        """One inline command over a plain socket (the tests need no client for PING/FLUSHALL)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall((" ".join(words) + "\r\n").encode())
            return sock.recv(256).decode(errors="replace")

    def flush(self) -> None:
        assert self._command("FLUSHALL").startswith("+OK")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One redis-server for the session; fails the test (no skip) when the binary is missing."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session's Redis, emptied for this test."""
    redis_server.flush()
    return redis_server.url
