"""Small readers for the API's responses, shared by the API tests."""
from __future__ import annotations

import json


def sse_frames(text: str) -> list[dict]:
    """The JSON payloads of ``data: {json}\\n\\n`` frames, in order."""
    frames = []
    for block in text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), f"not an SSE data frame: {block!r}"
            frames.append(json.loads(block[len("data: "):]))
    return frames


def ask(client, question: str, **body) -> list[dict]:
    response = client.post("/stream", json={"question": question, **body})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/event-stream"
    return sse_frames(response.get_data(as_text=True))


def answer_text(frames: list[dict]) -> str:
    return "".join(f["answer"] for f in frames if f["type"] == "answer")


def frame(frames: list[dict], kind: str) -> dict:
    found = [f for f in frames if f["type"] == kind]
    assert len(found) == 1, f"expected one {kind!r} frame in {frames}"
    return found[0]
