"""Helpers of the fault tests: a running `docstune serve` that can be killed and
restarted on the same port, SSE over a raw socket, and direct reads of the SQLite file."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import database_url_for, write_docs
from tests.live_server import ROOT, free_port

OWNER_PREFIX = "fault-owner-"
ADMIN_TOKEN = "fault-admin-token-0123456789"


def ingest_docs(data_dir: Path, docs_dir: Path) -> None:
    """Ingest the test documents in this process, then let go of the Qdrant folder for a server."""
    from application.container import DocsTune
    from application.settings import Settings

    services = DocsTune(Settings(DATA_DIR=data_dir))
    try:
        report = services.documents.ingest_paths([write_docs(docs_dir)])
        assert report.ok and len(report.added) == 3
    finally:
        services.close()


class ServerProcess:
    """`docstune serve` in its own process group, so that ``kill()`` takes the gunicorn
    master and its worker down at once, like a crash or an OOM kill would."""

    def __init__(self, data_dir: Path, port: int | None = None, **settings: str):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DATA_DIR": str(data_dir), "ADMIN_TOKEN": "", "LLM_PROVIDER": "extractive",
                    "ANTHROPIC_API_KEY": "", "PYTHONUNBUFFERED": "1", "SERVE_THREADS": "4",
                    "RATE_LIMIT_ENABLED": "false"}
        database_url = database_url_for(data_dir)  # DOCSTUNE_TEST_DATABASE=postgresql: DATA_DIR's database
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.env.update(settings)
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []

    def start(self, timeout: float = 180) -> "ServerProcess":
        self.lines = lines = []
        self.process = process = subprocess.Popen(
            [sys.executable, "-m", "application.cli", "serve", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not any("DocsTune is ready at" in line for line in lines):
            if process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError("docstune serve did not start:\n" + "".join(lines))
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)
            _wait_group_gone(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        _wait_group_gone(self.process.pid)


def _wait_group_gone(pgid: int, timeout: float = 30) -> None:
    """Wait until no process of the group is left (the worker holds the Qdrant folder)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.killpg(pgid, signal.SIGKILL)


def worker_pid(lines: list[str]) -> int:
    """The pid of the gunicorn worker (the process that serves) from what `docstune serve` printed."""
    pids = [int(m.group(1)) for line in lines if (m := re.search(r"Booting worker with pid: (\d+)", line))]
    assert len(pids) == 1, "".join(lines)
    return pids[0]


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def stream_over_socket(url: str, body: dict, headers: dict, frames_before_leaving: int | None = None,
                       timeout: float = 60) -> list[dict]:
    """POST /stream over a plain TCP socket; with ``frames_before_leaving``, hang up (close the
    socket) as soon as that many answer frames arrived, like a browser tab that is closed."""
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (f"POST /stream HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(payload)}\r\nConnection: close\r\n{head}\r\n").encode() + payload
    frames: list[dict] = []
    buffer = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        while True:
            data = sock.recv(65536)
            if not data:
                break
            buffer += data
            # gunicorn sends each frame as one HTTP chunk: frames never straddle chunk headers
            frames = [json.loads(m) for m in re.findall(rb"data: (\{.*?\})\n\n", buffer)]
            answers = sum(1 for f in frames if f["type"] == "answer")
            if frames_before_leaving is not None and answers >= frames_before_leaving:
                sock.shutdown(socket.SHUT_RDWR)
                break
    status = buffer.split(b"\r\n", 1)[0]
    assert b" 200 " in status, buffer[:500]
    return frames


def read_rows(db_path: Path, sql: str, *args) -> list[tuple]:
    """What is durably in the SQLite file (WAL included), read by a separate connection."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql, args).fetchall()
    finally:
        connection.close()


def table_snapshot(db_path: Path) -> dict[str, list[tuple]]:
    tables = ("sources", "chunks", "conversations", "messages", "message_chunks", "feedback", "feedback_marks")
    return {table: sorted(read_rows(db_path, f"SELECT * FROM {table}"), key=repr) for table in tables}
