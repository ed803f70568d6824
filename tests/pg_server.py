"""A throw-away PostgreSQL server for tests: Debian's binaries, a temp data folder, a free 127.0.0.1 port.

    server = PostgresServer().start()       # initdb + pg_ctl start (as an unprivileged user when root)
    url = server.create_database("t1")      # postgresql+psycopg://docstune@127.0.0.1:<port>/t1
    server.drop_database("t1")
    server.stop()                           # pg_ctl stop, then the data folder is deleted

``postgres`` refuses to run as root, so when the tests run as root (CI) the server runs as
Debian's ``postgres`` user (``nobody`` where that does not exist) with the temp folder owned by
it. Local connections are trusted (no password); the server is tuned for speed, not safety
(``fsync=off``): everything in it is thrown away.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "docstune"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started; the message says why and what to install."""


def find_bin_dir() -> Path:
    """``PG_BIN`` if set, else the newest ``/usr/lib/postgresql/<version>/bin`` (Debian), else ``$PATH``."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: [int(x) for x in re.findall(r"\d+", p)])
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL's initdb was not found (looked in /usr/lib/postgresql/*/bin and $PATH): "
        "install Debian's postgresql package (`make system-packages` does) or set PG_BIN."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root; None: run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and neither the 'postgres' nor the 'nobody' user exists")


class PostgresServer:
    def __init__(self, bin_dir: Path | None = None, *, startup_timeout: int = 60):
        self.bin_dir = bin_dir
        self.startup_timeout = startup_timeout
        self.root: Path | None = None
        self.port: int | None = None
        self.account = None
        self._running = False

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> "PostgresServer":
        self.bin_dir = self.bin_dir or find_bin_dir()
        self.account = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="docstune-pg-"))
        try:
            if self.account is not None:
                os.chown(self.root, self.account.pw_uid, self.account.pw_gid)
            self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-sync", "--no-instructions", timeout=120)
            last_error = None
            for _ in range(3):  # a port taken between choosing and binding: choose again
                self.port = _free_port()
                options = (f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c synchronous_commit=off "
                           "-c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB "
                           "-c timezone=America/New_York")  # not UTC: the app must ask for UTC itself
                try:
                    self._run("pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
                              "-t", str(self.startup_timeout), "-o", options, timeout=self.startup_timeout + 30)
                except PostgresUnavailable as exc:
                    last_error = exc
                    continue
                self._running = True
                return self
            raise last_error
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stops the server (fast: open connections are cut) and deletes its folder; safe to call twice."""
        if self.root is None:
            return
        if self._running:
            try:
                self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", timeout=90)
            except PostgresUnavailable:
                self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", timeout=60,
                          check=False)
            self._running = False
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    # -- databases -----------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self):
        import psycopg

        return psycopg.connect(self.url(driver="postgresql"), autocommit=True, connect_timeout=10)

    def create_database(self, name: str, template: str = "template0") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drops it even while connections to it are open (they are cut)."""
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # -- helpers -------------------------------------------------------------------------
    def _run(self, tool: str, *args: str, timeout: float, check: bool = True) -> None:
        kwargs: dict = {}
        if self.account is not None:
            kwargs.update(user=self.account.pw_uid, group=self.account.pw_gid, extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
               "HOME": str(self.root)}
        try:
            done = subprocess.run([str(self.bin_dir / tool), *args], cwd=self.root, env=env, capture_output=True,
                                  text=True, timeout=timeout, **kwargs)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"{tool} {' '.join(args[:2])} failed: {exc}\n{self.log_tail()}") from exc
        if check and done.returncode != 0:
            raise PostgresUnavailable(
                f"{tool} {' '.join(args[:2])} exited with {done.returncode}:\n{done.stdout}{done.stderr}\n"
                f"{self.log_tail()}"
            )


def wait_until_gone(server: PostgresServer, timeout: float = 10) -> None:
    """Tests: after ``stop()``, nothing answers on the port any more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", server.port)) != 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"PostgreSQL still answers on port {server.port}")
