"""`docstune worker --check`: the health check of a process that has no HTTP port.

The worker touches a heartbeat file only while its job threads live and the queue answers;
the check fails once that file is older than --max-age. A real worker process, frozen with
SIGSTOP (what a deadlock looks like from outside), and a real redis-server that goes away.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from tests.live_server import stop_process
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[3]


def check(heartbeat: Path, max_age: float = 2.0):
    from application.cli import main

    return CliRunner().invoke(main, ["worker", "--check", "--max-age", str(max_age), "--heartbeat-file", str(heartbeat)])


def wait_until_alive(heartbeat: Path, worker: subprocess.Popen, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while (result := check(heartbeat)).exit_code != 0:
        assert worker.poll() is None, "the worker exited"
        assert time.monotonic() < deadline, result.output
        time.sleep(0.2)
    return result


def test_a_frozen_worker_fails_its_health_check_and_passes_again_once_it_resumes(tmp_path):
    heartbeat = tmp_path / "worker.alive"
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    env.pop("DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "application.cli", "worker", "--heartbeat-seconds", "0.5", "--heartbeat-file",
         str(heartbeat)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        alive = wait_until_alive(heartbeat, worker)
        assert alive.output.startswith("worker alive: heartbeat") and f"pid {worker.pid}" in alive.output

        worker.send_signal(signal.SIGSTOP)  # stuck: nothing it runs can touch the file
        time.sleep(3)
        stuck = check(heartbeat)
        assert stuck.exit_code == 1
        lines = stuck.output.strip().splitlines()
        assert len(lines) == 1 and "last heartbeat is" in lines[0] and "s old" in lines[0], stuck.output

        worker.send_signal(signal.SIGCONT)
        wait_until_alive(heartbeat, worker, timeout=20)
    finally:
        worker.send_signal(signal.SIGCONT)
        assert stop_process(worker, timeout=60) == 0
    gone = check(heartbeat)
    assert gone.exit_code == 1 and "No worker heartbeat" in gone.output  # a clean stop removes the file


def test_worker_health_says_when_the_queue_stops_answering(make_services, tmp_path):
    redis = RedisServer(tmp_path / "redis").start()
    try:
        services = make_services(REDIS_URL=redis.url, JOBS_WORKER="off")
        runtime = services.jobs
        assert runtime.worker_health() == "the job worker is not running"
        runtime.start_worker(threads=1)
        try:
            assert runtime.worker_health() is None
            redis.stop()
            problem = runtime.worker_health()
            assert problem is not None and "Cannot reach the job queue on Redis" in problem and redis.url in problem
        finally:
            runtime.stop_worker(wait=False)
    finally:
        redis.stop()
