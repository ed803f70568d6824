"""Small local HTTP servers that speak the Anthropic Messages API (SSE streaming
included) and OpenAI's /v1/chat/completions, so the real SDK / HTTP client can be
pointed at them (ANTHROPIC_BASE_URL, OPENAI_BASE_URL) without any network.

Each test queues what the next request gets with ``enqueue``:

* ``Reply("text [1]")``           — a normal streamed (or plain) answer;
* ``Status(401, "bad key")``      — an HTTP error with the API's JSON error body;
* ``Hang(5)``                      — wait before answering (client timeouts);
* ``StreamThenError("partial")``  — stream some text, then an ``event: error``;
* ``Stall("partial", 30)``        — stream some text, then send nothing for 30 s and hang up
  without finishing (an LLM that hangs mid-answer);
* ``Slow("text", 0.2)``           — stream the answer one piece every 0.2 s;
* ``FromRequest(make)``           — answer ``make(body)``: a text that depends on what was asked
  (also as the default for every request: ``server.default = FromRequest(make)``).

Every request is recorded in ``requests`` (path, headers, JSON body); ``disconnects``
counts the streamed answers whose client hung up before the end. ``stop()`` releases
every handler that is still waiting (``Hang``, ``Stall``, ``Slow``).
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    text: str


@dataclass
class Status:
    code: int
    message: str = "error"


@dataclass
class Hang:
    seconds: float


@dataclass
class StreamThenError:
    text: str
    error_type: str = "overloaded_error"


@dataclass
class Stall:
    text: str
    seconds: float = 30.0


@dataclass
class Slow:
    text: str
    delay: float = 0.2


@dataclass
class FromRequest:
    make: Callable[[dict], str]


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def pieces(text: str) -> list[str]:
    """Split like a tokenizer would, roughly: a word and its trailing space per piece."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


class _FakeLLMServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, default_reply: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.default = Reply(default_reply)
        self.queue: list = []
        self.requests: list[dict] = []
        self.disconnects = 0
        self.lock = threading.Lock()
        self.released = threading.Event()  # set by stop(): waiting handlers return at once
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def enqueue(self, *behaviours) -> None:
        with self.lock:
            self.queue.extend(behaviours)

    def next_behaviour(self):
        with self.lock:
            return self.queue.pop(0) if self.queue else self.default

    def record(self, path: str, headers, body: dict) -> None:
        with self.lock:
            self.requests.append({"path": path, "headers": {k.lower(): v for k, v in headers.items()}, "body": body})

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is expected here, not a failure

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.shutdown()
        self.server_close()


class FakeAnthropicServer(_FakeLLMServer):
    """POST /v1/messages, streamed (``"stream": true``) or not."""

    def __init__(self, default_reply: str = "The documents answer this [1]."):
        super().__init__(default_reply)

    @property
    def base_url(self) -> str:
        return self.url


class FakeOpenAIServer(_FakeLLMServer):
    """POST /v1/chat/completions with ``"stream": true``."""

    def __init__(self, default_reply: str = "The documents answer this [1]."):
        super().__init__(default_reply)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


class _Handler(BaseHTTPRequestHandler):
    server: _FakeLLMServer

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.record(self.path, self.headers, body)
        behaviour = self.server.next_behaviour()
        if isinstance(behaviour, Hang):
            self.server.released.wait(behaviour.seconds)
            behaviour = self.server.default
        if isinstance(behaviour, FromRequest):
            behaviour = Reply(behaviour.make(body))
        try:
            if self.path.rstrip("/") == "/v1/messages":
                self._anthropic(body, behaviour)
            elif self.path.rstrip("/") == "/v1/chat/completions":
                self._openai(body, behaviour)
            else:
                self._json(404, {"type": "error",
                                 "error": {"type": "not_found_error", "message": f"no route {self.path}"}})
        except (BrokenPipeError, ConnectionResetError):
            with self.server.lock:
                self.server.disconnects += 1
            self.close_connection = True

    def _pause(self, behaviour) -> None:
        """Between two pieces: ``Slow`` waits its delay."""
        if isinstance(behaviour, Slow):
            self.server.released.wait(behaviour.delay)

    def _stall(self, behaviour) -> bool:
        """After the pieces: ``Stall`` sends nothing for a while, then hangs up unfinished (True)."""
        if not isinstance(behaviour, Stall):
            return False
        self.server.released.wait(behaviour.seconds)
        self.close_connection = True
        return True

    # -- plumbing --------------------------------------------------------------------
    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", "req_fake")
        self.end_headers()
        self.wfile.write(data)

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def _sse(self, event: str | None, data: dict | str) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
        self.wfile.write(frame.encode())
        self.wfile.flush()

    # -- Anthropic Messages API ------------------------------------------------------
    def _anthropic(self, body: dict, behaviour) -> None:
        if isinstance(behaviour, Status):
            error_type = _ERROR_TYPES.get(behaviour.code, "api_error")
            self._json(behaviour.code, {"type": "error", "error": {"type": error_type, "message": behaviour.message}})
            return
        text = behaviour.text
        model = body.get("model", "claude-fake")
        if not body.get("stream"):
            self._json(200, {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": len(pieces(text))},
            })
            return
        self._start_sse()
        self._sse("message_start", {"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}})
        self._sse("content_block_start", {"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "text", "text": ""}})
        self._sse("ping", {"type": "ping"})
        for piece in pieces(text):
            self._pause(behaviour)
            self._sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                              "delta": {"type": "text_delta", "text": piece}})
        if self._stall(behaviour):
            return
        if isinstance(behaviour, StreamThenError):
            self._sse("error", {"type": "error", "error": {"type": behaviour.error_type, "message": "Overloaded"}})
            return
        self._sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        self._sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                    "usage": {"output_tokens": len(pieces(text))}})
        self._sse("message_stop", {"type": "message_stop"})

    # -- OpenAI chat completions -----------------------------------------------------
    def _openai(self, body: dict, behaviour) -> None:
        if isinstance(behaviour, Status):
            self._json(behaviour.code, {"error": {"message": behaviour.message, "code": behaviour.code}})
            return
        self._start_sse()
        for piece in pieces(behaviour.text):
            self._pause(behaviour)
            self._sse(None, {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": body.get("model"),
                             "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        if self._stall(behaviour):
            return
        if isinstance(behaviour, StreamThenError):
            self._sse(None, {"error": {"message": "model crashed"}})
            return
        self._sse(None, {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            # as OpenAI sends it: one more chunk, with no choices, carrying the counts
            self._sse(None, {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [],
                             "usage": {"prompt_tokens": 12, "completion_tokens": len(pieces(behaviour.text)),
                                       "total_tokens": 12 + len(pieces(behaviour.text))}})
        self._sse(None, "[DONE]")
