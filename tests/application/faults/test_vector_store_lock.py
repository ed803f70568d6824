"""The embedded engine (Qdrant Edge) lets one process open its folder. When another process holds
it, every way in says so in one line, naming the folder and the fix, instead of starting
half-broken: ``docstune search``, ``docstune serve`` and ``create_app()``. The holder is another
DocsTune (Edge), or a DocsTune from before Edge that holds the folder in qdrant-client's local mode."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.live_server import ROOT, free_port

# another process that opens the folder (a second `docstune serve`, a notebook) and keeps it
HOLDERS = {
    "edge": (
        "import sys\n"
        "from pathlib import Path\n"
        "from application.vectorstore.edge import EdgeVectorStore\n"
        "store = EdgeVectorStore.open(Path(sys.argv[1]))\n"
        "print('holding', flush=True)\n"
        "sys.stdin.read()\n"
    ),
    # an older DocsTune: qdrant-client's local mode, with a collection in it (its meta.json)
    "local-mode": (
        "import sys\n"
        "from qdrant_client import QdrantClient, models\n"
        "client = QdrantClient(path=sys.argv[1])\n"
        "client.create_collection('chunks__old', vectors_config=models.VectorParams(size=4, "
        "distance=models.Distance.COSINE))\n"
        "print('holding', flush=True)\n"
        "sys.stdin.read()\n"
    ),
}


class FolderHolder:
    """Another process that opened the Qdrant folder of ``data_dir`` and keeps it until ``release()``."""

    def __init__(self, data_dir, kind: str = "edge"):
        self.data_dir = data_dir
        self.folder = data_dir / "qdrant"
        self.folder.mkdir(parents=True)
        self.process = subprocess.Popen([sys.executable, "-c", HOLDERS[kind], str(self.folder)], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "holding"

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the holder exits when its stdin closes
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(params=sorted(HOLDERS))
def holder(tmp_path, request):
    # tmp_path / "data": the DATA_DIR whose database a PostgreSQL test run names in DATABASE_URL
    held = FolderHolder(tmp_path / "data", request.param)
    try:
        yield held
    finally:
        held.release()


def command_env(data_dir) -> dict:
    env = {**os.environ, "DATA_DIR": str(data_dir), "ADMIN_TOKEN": "lock-test-admin-token",
           "LLM_PROVIDER": "extractive", "ANTHROPIC_API_KEY": "", "PYTHONUNBUFFERED": "1"}
    env.pop("QDRANT_URL", None)  # local mode
    env.pop("QDRANT_PATH", None)
    return env


def assert_one_clear_line(output: str, folder) -> None:
    lines = [line for line in output.splitlines() if "in use by another" in line]
    assert len(lines) == 1, output
    assert str(folder) in lines[0] and "QDRANT_URL" in lines[0] and "Stop that process" in lines[0], lines[0]
    assert "Traceback" not in output, output


def test_docstune_search_on_a_locked_folder_fails_with_one_line(holder):
    result = subprocess.run([sys.executable, "-m", "application.cli", "search", "refunds"], cwd=ROOT,
                            env=command_env(holder.data_dir), capture_output=True, text=True, timeout=120)

    assert result.returncode == 1, result.stdout + result.stderr
    assert_one_clear_line(result.stderr, holder.folder)
    assert [line for line in result.stderr.splitlines() if line.strip()][-1].startswith("Error: The Qdrant folder")


def test_docstune_serve_on_a_locked_folder_exits_with_one_line_instead_of_serving(holder):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "application.cli", "serve", "--port", str(port)], cwd=ROOT,
                               env=command_env(holder.data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline and not any("DocsTune is" in l for l in lines):
        time.sleep(0.1)
    if process.poll() is None:  # it serves (half-broken) or hangs: either way it did not refuse to start
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        reader.join(timeout=10)
        pytest.fail("docstune serve kept running on a Qdrant folder another process holds:\n" + "".join(lines))
    reader.join(timeout=10)
    output = "".join(lines)

    assert process.returncode != 0, output
    assert_one_clear_line(output, holder.folder)
    assert "DocsTune is" not in output


def test_create_app_on_a_locked_folder_raises_the_clear_error_and_works_once_it_is_free(holder):
    from application import create_app
    from application.api import close_app
    from application.errors import ServiceUnavailable
    from application.container import DocsTune
    from application.settings import Settings

    settings = Settings(DATA_DIR=holder.data_dir, ADMIN_TOKEN="lock-test-admin-token", LLM_PROVIDER="extractive",
                        ANTHROPIC_API_KEY="", RATE_LIMIT_ENABLED=False, QDRANT_URL=None, QDRANT_PATH=None)

    with pytest.raises(ServiceUnavailable, match="in use by another DocsTune process") as raised:
        create_app(settings)
    assert str(holder.folder) in raised.value.message and "QDRANT_URL" in raised.value.message
    services = DocsTune(settings)
    try:
        with pytest.raises(ServiceUnavailable, match="in use by another DocsTune process"):
            services.vector_store
    finally:
        services.close()

    holder.release()  # the other process stops: the same settings serve
    app = create_app(settings)
    try:
        ready = app.test_client().get("/ready")
        assert ready.status_code == 200, ready.get_json()
        assert ready.get_json()["vector_store"]["ok"] is True
    finally:
        close_app(app)
