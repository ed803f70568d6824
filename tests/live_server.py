"""Start the real `docstune serve` (gunicorn inside) on a free 127.0.0.1 port for a test."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float) -> int:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds; its exit code."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def worker_output(settings, redis_url: str, until: str, settle_seconds: float = 0.0, timeout: float = 60) -> str:
    """Everything ``docstune worker`` (on ``settings``' data and ``redis_url``) printed until it printed
    ``until`` (or exited, or ``timeout`` passed) and ``settle_seconds`` more; the worker is stopped."""
    environment = {**os.environ, "DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url_resolved,
                   "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "application.cli", "worker", "--heartbeat-seconds", "0.2"],
                               cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    deadline = time.monotonic() + timeout
    while until not in "".join(lines) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(settle_seconds)
    stop_process(process, timeout=30)
    return "".join(lines)


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    lines: list[str] = field(default_factory=list)  # everything the server printed so far


@contextmanager
def run_live_server(data_dir: Path, startup_timeout: float = 180, **settings: str) -> Iterator[LiveServer]:
    """Runs until the block ends (SIGTERM, then SIGKILL after 30 s); fails with the server's output if it
    does not print that it is ready in time."""
    from tests.conftest import database_url_for

    port = free_port()
    env = {**os.environ, "DATA_DIR": str(data_dir), "ADMIN_TOKEN": "", "LLM_PROVIDER": "extractive",
           "ANTHROPIC_API_KEY": "", "PYTHONUNBUFFERED": "1", "SERVE_THREADS": "4"}
    database_url = database_url_for(data_dir)  # DOCSTUNE_TEST_DATABASE=postgresql: DATA_DIR's database
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "application.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", data_dir)
    threading.Thread(target=lambda: server.lines.extend(process.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not any("DocsTune is ready at" in line for line in server.lines):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("docstune serve did not start:\n" + "".join(server.lines))
            time.sleep(0.2)
        yield server
    finally:
        stop_process(process, timeout=30)
