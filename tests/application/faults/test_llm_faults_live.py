"""The LLM hangs, or the client leaves mid-answer, on the real `docstune serve` (gunicorn,
2 request threads) answering with the real ``anthropic`` SDK against a local fake
Messages API: each request ends within LLM_TIMEOUT with an error frame or a stored
partial answer, and every request thread is free again, none left behind."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.application.faults.helpers import OWNER_PREFIX, stream_over_socket, thread_count, worker_pid
from tests.application.llm.fake_llm_servers import FakeAnthropicServer, Hang, Reply, Slow, Stall
from tests.live_server import run_live_server

THREADS = 2
LLM_TIMEOUT = 1


@pytest.fixture(scope="module")
def fake():
    server = FakeAnthropicServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live(fake, tmp_path_factory):
    with run_live_server(
        tmp_path_factory.mktemp("llm-faults") / "data", SERVE_THREADS=str(THREADS), LLM_PROVIDER="anthropic",
        ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_MODEL="claude-test", ANTHROPIC_BASE_URL=fake.base_url,
        LLM_TIMEOUT=str(LLM_TIMEOUT), LLM_MAX_RETRIES="0", RATE_LIMIT_ENABLED="false",
    ) as server:
        yield server


def answer_text(frames: list[dict]) -> str:
    return "".join(f["answer"] for f in frames if f["type"] == "answer")


def stored_messages(url: str, owner: dict) -> dict[str, dict]:
    """question -> the stored message, for every conversation of ``owner``."""
    messages = {}
    for conversation in requests.get(f"{url}/api/conversations", headers=owner, timeout=10).json():
        for message in requests.get(f"{url}/api/conversations/{conversation['id']}", headers=owner,
                                    timeout=10).json()["messages"]:
            messages[message["question"]] = message
    return messages


def warm_up(url: str, fake) -> None:
    """Every request thread of the worker (gthread starts them on demand) and torch's threads exist."""
    fake.enqueue(*[Reply("Warm.")] * THREADS)
    owner = {"X-Owner-Token": OWNER_PREFIX + "warm-up"}
    with ThreadPoolExecutor(THREADS) as pool:
        for frames in pool.map(lambda i: stream_over_socket(url, {"question": f"Warm up {i}"}, owner), range(THREADS)):
            assert frames[-1]["type"] == "end", frames


def wait_for_threads(pid: int, at_most: int, seconds: float = 10) -> int:
    deadline = time.monotonic() + seconds
    while (count := thread_count(pid)) > at_most and time.monotonic() < deadline:
        time.sleep(0.1)
    return count


def assert_serves_at_once(url: str, fake) -> None:
    started = time.monotonic()
    assert requests.get(f"{url}/health", timeout=5).json() == {"status": "ok"}
    assert time.monotonic() - started < 2
    fake.enqueue(Reply("Five business days."))
    frames = stream_over_socket(url, {"question": "And now?"}, {"X-Owner-Token": OWNER_PREFIX + "after"}, timeout=30)
    assert answer_text(frames) == "Five business days." and frames[-1]["type"] == "end", frames


def test_an_llm_that_hangs_ends_every_stream_with_a_timeout_error_and_frees_the_workers(live, fake):
    warm_up(live.url, fake)
    pid = worker_pid(live.lines)
    threads_before = thread_count(pid)
    owner = {"X-Owner-Token": OWNER_PREFIX + "hang"}
    # twice as many hung answers as request threads: silent before the first byte, or mid-answer
    fake.enqueue(Hang(120), Hang(120), Stall("Refunds take five", 120), Stall("Refunds take five", 120))
    started = time.monotonic()

    def ask(i: int):
        frames = stream_over_socket(live.url, {"question": f"How long do refunds take? ({i})"}, owner, timeout=60)
        return frames, time.monotonic() - started

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(ask, range(4)))

    slowest = max(seconds for _, seconds in results)
    assert slowest < 4 * LLM_TIMEOUT + 10, slowest  # two rounds of LLM_TIMEOUT, plus retrieval, with margin
    for frames, _ in results:
        error = frames[-1]
        assert error["type"] == "error" and "timed out" in error["error"] and "LLM_TIMEOUT" in error["error"], frames
        assert not [f for f in frames if f["type"] in ("source", "end")]
    assert sorted(answer_text(frames) for frames, _ in results) == ["", "", "Refunds take five", "Refunds take five"]
    stored = {message["id"]: message for message in stored_messages(live.url, owner).values()}
    assert len(stored) == 4
    for frames, _ in results:
        message = stored[frames[-1]["message_id"]]
        assert message["status"] == "failed" and "timed out" in message["error"]
        assert message["answer"] == answer_text(frames)  # the partial answer is kept
    assert_serves_at_once(live.url, fake)
    assert wait_for_threads(pid, threads_before) <= threads_before


def test_a_client_that_hangs_up_mid_answer_leaves_a_partial_message_and_no_thread(live, fake):
    warm_up(live.url, fake)
    pid = worker_pid(live.lines)
    threads_before = thread_count(pid)
    disconnects_before = fake.disconnects
    owner = {"X-Owner-Token": OWNER_PREFIX + "leaves"}
    text = " ".join(f"word{i}" for i in range(300))  # 15 s at 0.05 s a piece: it never finishes here
    received = {}
    for i in range(3):
        fake.enqueue(Slow(text, 0.05))
        question = f"Tell me everything ({i})"
        frames = stream_over_socket(live.url, {"question": question}, owner, frames_before_leaving=3, timeout=30)
        received[question] = answer_text(frames)
        assert received[question].startswith("word0 word1 word2")

    # at its next write the server sees the client gone, stops reading from the LLM and keeps what it had
    deadline = time.monotonic() + 15
    while True:
        stored = stored_messages(live.url, owner)
        done = len(stored) == 3 and all(m["status"] != "streaming" for m in stored.values())
        if done and fake.disconnects - disconnects_before >= 3:
            break
        assert time.monotonic() < deadline, (stored, fake.disconnects - disconnects_before)
        time.sleep(0.1)
    for question, got in received.items():
        message = stored[question]
        assert message["status"] == "partial" and "closed the connection" in message["error"], message
        assert message["answer"].startswith(got) and len(message["answer"]) < len(text), message["answer"]
        assert not any(source["shown"] for source in message["sources"])
    assert wait_for_threads(pid, threads_before) <= threads_before
    assert_serves_at_once(live.url, fake)
