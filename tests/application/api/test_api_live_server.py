"""The real thing: `docstune serve` (gunicorn inside) on a free local port, used over real HTTP."""
import json
import stat
import time

import pytest
import requests

from tests.live_server import run_live_server

DOC = b"# Lighthouse\n\nThe Brightwater lighthouse keeper climbs 212 steps to reach the lamp every evening.\n"


@pytest.fixture
def live_server(tmp_path):
    with run_live_server(tmp_path / "data") as server:
        yield {"url": server.url, "lines": server.lines, "data_dir": server.data_dir}


def test_docstune_serve_streams_an_answer_over_real_http(live_server):
    url, lines = live_server["url"], live_server["lines"]
    printed = [line for line in lines if line.startswith("Admin token")]
    assert len(printed) == 1
    token = printed[0].rsplit(": ", 1)[1].strip()
    token_file = live_server["data_dir"] / "admin_token"
    assert token_file.read_text().strip() == token and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert any(f"{url}/stream" in line for line in lines)  # the curl line to try
    admin = {"Authorization": f"Bearer {token}"}

    upload = requests.post(f"{url}/api/upload", headers=admin, files={"file": ("lighthouse.md", DOC)}, timeout=30)
    assert upload.status_code == 202, upload.text
    task_id = upload.json()["task_id"]
    deadline = time.monotonic() + 60
    while (status := requests.get(f"{url}/api/task_status", params={"task_id": task_id}, headers=admin, timeout=10).json())["status"] != "SUCCESS":
        assert status["status"] != "FAILURE" and time.monotonic() < deadline, status
        time.sleep(0.2)

    with requests.post(f"{url}/stream", json={"question": "How many steps does the keeper climb?"}, stream=True, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        owner = response.headers["X-Owner-Token"]
        frames = [json.loads(line[len("data: "):]) for line in response.iter_lines(decode_unicode=True) if line]

    answer = "".join(f["answer"] for f in frames if f["type"] == "answer")
    assert "climbs 212 steps to reach the lamp every evening. [1]" in answer
    assert [f["type"] for f in frames][-3:] == ["source", "id", "end"]
    ids = frames[-2]
    rated = requests.post(f"{url}/api/feedback", headers={"X-Owner-Token": owner}, timeout=10,
                          json={"message_id": ids["message_id"], "feedback": "like"})
    assert rated.status_code == 200 and rated.json()["feedback"] == "like"
    exported = requests.get(f"{url}/api/feedback/export", headers=admin, timeout=10).text.splitlines()
    assert [json.loads(line)["message_id"] for line in exported] == [ids["message_id"]]
    assert requests.get(f"{url}/ready", timeout=10).json()["ok"] is True
