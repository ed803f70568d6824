"""Any server that speaks OpenAI's ``/v1/chat/completions`` with ``stream: true``:
llama.cpp's server, Ollama (``http://127.0.0.1:11434/v1``), vLLM, LM Studio."""
from __future__ import annotations

import json
import logging
from typing import Iterator

import httpx

from application.llm.base import LLM, LLMError, Prompt
from application.llm.credentials import split_credentials
from application.redaction import Redactor, redact_url

log = logging.getLogger(__name__)

#: how clients hear of the server: by the setting that names it, never by its address
SERVER = "the OpenAI-compatible LLM server (OPENAI_BASE_URL)"


class OpenAICompatibleLLM(LLM):
    """Example::

        llm = OpenAICompatibleLLM(base_url="http://127.0.0.1:11434/v1", model="llama3.1")
        print(llm.complete(prompt))
    """

    def __init__(
        self, *, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0, max_tokens: int = 1024,
        temperature: float | None = None,
    ):
        self.temperature = temperature
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai_compatible/{model}"
        self.timeout = timeout
        self.max_tokens = max_tokens
        bearer = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._url, basic = split_credentials(self.base_url)
        self._headers = basic or bearer  # a user:password in the URL wins over the key, as with httpx's own auth
        self._redactor = Redactor.build(urls={"OPENAI_BASE_URL": base_url}, keys={"OPENAI_API_KEY": api_key})

    def _failed(self, message: str, exc: BaseException, kind: str, status: int) -> LLMError:
        """The error for clients (no address, no secret), after the log line for the operator (where, less secrets)."""
        log.warning("The LLM at %s failed: %s: %s", redact_url(self.base_url), type(exc).__name__,
                    self._redactor.hide_secrets(str(exc)))
        return LLMError(message, kind, status)

    def _said(self, exc: BaseException) -> str:
        """What ``exc`` says, fit for any client."""
        return self._redactor.hide_addresses(str(exc) or type(exc).__name__)

    def stream(self, prompt: Prompt, usage: dict | None = None) -> Iterator[str]:
        body = {
            "model": self.model,
            "stream": True,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "system", "content": prompt.system}, *prompt.messages],
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if usage is not None:
            # asked only when counted: the last chunk then carries ``usage`` (llama.cpp, Ollama, vLLM, OpenAI)
            body["stream_options"] = {"include_usage": True}
        url = f"{self._url}/chat/completions"
        finished = started = False
        try:
            with httpx.stream("POST", url, json=body, headers=self._headers,
                              timeout=self.timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _status_error(response, self._redactor)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    piece, finished_now = _delta(data, self._redactor, usage)
                    finished = finished or finished_now
                    if piece:
                        started = True
                        yield piece
        except httpx.TimeoutException as exc:
            if started:
                raise self._failed(
                    f"{_capital(SERVER)} timed out: it sent nothing for {self.timeout:g} s in the middle of "
                    "the answer (LLM_TIMEOUT); try again.", exc, "timeout", 504,
                ) from exc
            raise self._failed(
                f"{_capital(SERVER)} timed out: no answer within {self.timeout:g} s (LLM_TIMEOUT).", exc, "timeout", 504,
            ) from exc
        except httpx.HTTPError as exc:
            if started:
                raise self._failed(
                    f"{_capital(SERVER)} dropped the connection in the middle of the answer ({self._said(exc)}); "
                    "try again.", exc, "unavailable", 503,
                ) from exc
            raise self._failed(f"Cannot reach {SERVER}: {self._said(exc)}. Is it running, and is OPENAI_BASE_URL "
                               "right?", exc, "unavailable", 503) from exc
        if not finished:
            # llama.cpp, Ollama and vLLM end with a finish_reason and [DONE]; a stream that just stops was cut off
            raise LLMError(
                f"{_capital(SERVER)} ended the stream before the answer was complete; try again.", "unavailable", 503,
            )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _delta(data: str, redactor: Redactor, usage: dict | None = None) -> tuple[str, bool]:
    """(the text of one ``chat.completion.chunk``, whether it ends the answer); its token counts go to ``usage``."""
    try:
        event = json.loads(data)
    except json.JSONDecodeError as exc:
        raise LLMError(f"The LLM server sent a frame that is not JSON: {redactor.hide_addresses(repr(data[:200]))}",
                       "error") from exc
    if event.get("error"):
        raise LLMError(f"The LLM server failed: {redactor.hide_addresses(str(event['error']))}", "error")
    reported = event.get("usage")
    if usage is not None and isinstance(reported, dict):
        for ours, theirs in (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens")):
            if isinstance(reported.get(theirs), int):
                usage[ours] = reported[theirs]
    choice = (event.get("choices") or [{}])[0]
    return (choice.get("delta") or {}).get("content") or "", bool(choice.get("finish_reason"))


def _status_error(response: httpx.Response, redactor: Redactor) -> LLMError:
    status = response.status_code
    try:
        detail = response.json().get("error", response.text)
        if isinstance(detail, dict):
            detail = detail.get("message", detail)
    except (ValueError, AttributeError):
        detail = response.text[:300]
    # what the server says may quote our URL or key back (a proxy's error page does)
    detail = redactor.hide_addresses(str(detail))
    if status in (401, 403):
        return LLMError(f"The LLM server refused our credentials ({status}): check OPENAI_API_KEY "
                        "(and a user:password in OPENAI_BASE_URL).", "auth")
    if status == 429:
        return LLMError("The LLM server is rate limiting us (429); try again in a minute.", "rate_limit", 503)
    return LLMError(f"The LLM server failed ({status}): {detail}", "unavailable" if status >= 500 else "bad_request",
                    503 if status >= 500 else 502)
