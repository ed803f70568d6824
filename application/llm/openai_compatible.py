"""Any server that speaks OpenAI's ``/v1/chat/completions`` with ``stream: true``:
llama.cpp's server, Ollama (``http://127.0.0.1:11434/v1``), vLLM, LM Studio."""
from __future__ import annotations

import json
from typing import Iterator

import httpx

from application.llm.base import LLM, LLMError, Prompt


class OpenAICompatibleLLM(LLM):
    """Example::

        llm = OpenAICompatibleLLM(base_url="http://127.0.0.1:11434/v1", model="llama3.1")
        print(llm.complete(prompt))
    """

    def __init__(
        self, *, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0, max_tokens: int = 1024
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai_compatible/{model}"
        self.timeout = timeout
        self.max_tokens = max_tokens
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def stream(self, prompt: Prompt) -> Iterator[str]:
        body = {
            "model": self.model,
            "stream": True,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "system", "content": prompt.system}, *prompt.messages],
        }
        url = f"{self.base_url}/chat/completions"
        finished = started = False
        try:
            with httpx.stream("POST", url, json=body, headers=self._headers, timeout=self.timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _status_error(response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    piece, finished_now = _delta(data)
                    finished = finished or finished_now
                    if piece:
                        started = True
                        yield piece
        except httpx.TimeoutException as exc:
            if started:
                raise LLMError(
                    f"The LLM at {self.base_url} timed out: it sent nothing for {self.timeout:g} s in the middle of "
                    "the answer (LLM_TIMEOUT); try again.", "timeout", 504,
                ) from exc
            raise LLMError(
                f"The LLM at {self.base_url} timed out: no answer within {self.timeout:g} s (LLM_TIMEOUT).",
                "timeout", 504,
            ) from exc
        except httpx.HTTPError as exc:
            if started:
                raise LLMError(
                    f"The LLM at {self.base_url} dropped the connection in the middle of the answer ({exc}); "
                    "try again.", "unavailable", 503,
                ) from exc
            raise LLMError(f"Cannot reach the LLM at {self.base_url}: {exc}. Check OPENAI_BASE_URL.", "unavailable", 503) from exc
        if not finished:
            # llama.cpp, Ollama and vLLM end with a finish_reason and [DONE]; a stream that just stops was cut off
            raise LLMError(
                f"The LLM at {self.base_url} ended the stream before the answer was complete; try again.",
                "unavailable", 503,
            )


def _delta(data: str) -> tuple[str, bool]:
    """(the text of one ``chat.completion.chunk``, whether it ends the answer)."""
    try:
        event = json.loads(data)
    except json.JSONDecodeError as exc:
        raise LLMError(f"The LLM server sent a frame that is not JSON: {data[:200]!r}", "error") from exc
    if event.get("error"):
        raise LLMError(f"The LLM server failed: {event['error']}", "error")
    choice = (event.get("choices") or [{}])[0]
    return (choice.get("delta") or {}).get("content") or "", bool(choice.get("finish_reason"))


def _status_error(response: httpx.Response) -> LLMError:
    status = response.status_code
    try:
        detail = response.json().get("error", response.text)
        if isinstance(detail, dict):
            detail = detail.get("message", detail)
    except (ValueError, AttributeError):
        detail = response.text[:300]
    if status in (401, 403):
        return LLMError(f"The LLM server refused our credentials ({status}): check OPENAI_API_KEY.", "auth")
    if status == 429:
        return LLMError("The LLM server is rate limiting us (429); try again in a minute.", "rate_limit", 503)
    return LLMError(f"The LLM server failed ({status}): {detail}", "unavailable" if status >= 500 else "bad_request", 503 if status >= 500 else 502)
