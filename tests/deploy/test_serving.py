"""The app service's real command serves, and the health checks of the image and of docker-compose.yml
pass against it (and fail once it is gone). Run here with the embedded Qdrant Edge and one worker process,
since no Qdrant server is at hand; everything else is the command and the checks as written."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.deploy.deployfiles import healthcheck_command
from tests.live_server import free_port, stop_process


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer 200 in {timeout} s:\n{log.read_text()}")


def _run_check(command: list[str], port: int) -> subprocess.CompletedProcess:
    assert command[0] == "python"
    env = {"PATH": os.environ["PATH"], "SERVE_PORT": str(port)}
    return subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=60)


def test_the_app_command_serves_and_both_healthchecks_pass(compose, dockerfile, tmp_path):
    app = compose["services"]["app"]
    port = free_port()
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
        "DATA_DIR": str(tmp_path / "data"), "SERVE_HOST": "127.0.0.1", "SERVE_PORT": str(port),
        "WEB_CONCURRENCY": "1", "SERVE_THREADS": "2", "JOBS_WORKER": app["environment"]["JOBS_WORKER"],
        "LLM_PROVIDER": "extractive", "ADMIN_TOKEN": "t" * 32, "TOKENIZERS_PARALLELISM": "false",
    }
    if os.environ.get("DATABASE_URL"):  # the PostgreSQL run of the suite
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    log = tmp_path / "gunicorn.log"
    with log.open("w") as output:
        process = subprocess.Popen([gunicorn, *app["command"][1:]], env=env, cwd=tmp_path,
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/ready", process, log)  # the model is loaded now

        compose_check = _run_check(app["healthcheck"]["test"][1:], port)
        assert compose_check.returncode == 0, compose_check.stderr
        (image_healthcheck,) = dockerfile.in_stage(dockerfile.final_stage, "HEALTHCHECK")
        image_check = _run_check(healthcheck_command(image_healthcheck)[1], port)
        assert image_check.returncode == 0, image_check.stderr
    finally:
        stop_process(process, timeout=60)
    assert process.returncode == 0, f"gunicorn did not stop cleanly on SIGTERM:\n{log.read_text()}"
    assert _run_check(app["healthcheck"]["test"][1:], port).returncode != 0, "no server: unhealthy"
