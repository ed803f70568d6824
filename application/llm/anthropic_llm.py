"""Claude through the official ``anthropic`` SDK (streaming Messages API)."""
from __future__ import annotations

import importlib
import logging
import threading
from typing import Iterator

from application.llm.base import LLM, LLMError, Prompt
from application.llm.credentials import split_credentials
from application.redaction import Redactor, redact_url

log = logging.getLogger(__name__)


class AnthropicLLM(LLM):
    """Example::

        llm = AnthropicLLM(api_key="sk-ant-...", model="claude-sonnet-5-5")
        for piece in llm.stream(template.render(question, hits)):
            print(piece, end="")
    """

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_tokens: int = 1024,
        temperature: float | None = None,
    ):
        self.model = model
        self.temperature = temperature
        self.name = f"anthropic/{model}"
        self.base_url = base_url
        self.max_tokens = max_tokens
        url, headers = split_credentials(base_url)
        self._options = {"api_key": api_key, "base_url": url, "timeout": timeout, "max_retries": max_retries,
                         "default_headers": headers}
        self._redactor = Redactor.build(urls={"ANTHROPIC_BASE_URL": base_url}, keys={"ANTHROPIC_API_KEY": api_key})
        #: how clients hear of the server: by the setting that names it, never by its address
        self._where = "the Anthropic API (ANTHROPIC_BASE_URL)" if base_url else "the Anthropic API"
        self.timeout = timeout
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        # the SDK takes ~1.5 s to import: only pay for it when the first question comes
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import anthropic

                    self._client = anthropic.Anthropic(**self._options)
        return self._client

    def _said(self, exc: BaseException) -> str:
        """What ``exc`` (or the API's error body) says, fit for any client: no address, no key."""
        return self._redactor.hide_addresses(_detail(exc)).rstrip(".")

    def _failed(self, message: str, exc: BaseException, kind: str, status: int | None = None) -> LLMError:
        """The error for clients, after the log line for the operator (where, less the secrets)."""
        log.warning("The Anthropic API at %s failed: %s: %s", redact_url(self.base_url or "(the SDK's default)"),
                    type(exc).__name__, self._redactor.hide_secrets(_detail(exc)))
        return LLMError(message, kind, status)

    def stream(self, prompt: Prompt, usage: dict | None = None) -> Iterator[str]:
        import anthropic

        client = self.client
        timeout_errors, transport_errors = _transport_errors()
        finished = False
        options = {}
        if self.temperature is not None and _takes_temperature(client):
            options["temperature"] = self.temperature
        try:
            with client.messages.stream(
                model=self.model, max_tokens=self.max_tokens, system=prompt.system, messages=prompt.messages, **options
            ) as stream:
                for event in stream:
                    if event.type == "content_block_delta" and getattr(event.delta, "type", None) == "text_delta":
                        if event.delta.text:
                            yield event.delta.text
                    elif event.type == "message_start" and usage is not None:
                        _count(usage, getattr(event.message, "usage", None))
                    elif event.type == "message_delta" and usage is not None:
                        _count(usage, getattr(event, "usage", None))
                    elif event.type == "message_stop":
                        finished = True
        except anthropic.AuthenticationError as exc:
            raise LLMError("The Anthropic API refused the API key (401): check ANTHROPIC_API_KEY.", "auth") from exc
        except anthropic.PermissionDeniedError as exc:
            raise LLMError(f"The Anthropic API denied access (403): {self._said(exc)}.", "auth") from exc
        except anthropic.RateLimitError as exc:
            raise LLMError("The Anthropic API is rate limiting us (429); try again in a minute.", "rate_limit", 503) from exc
        except anthropic.APITimeoutError as exc:
            raise LLMError(
                f"The LLM timed out: no answer within {self.timeout:g} s (LLM_TIMEOUT); try again.", "timeout", 504
            ) from exc
        except anthropic.APIConnectionError as exc:
            raise self._failed(f"Cannot reach {self._where}: {self._said(exc)}. Check ANTHROPIC_BASE_URL and the "
                               "network.", exc, "unavailable", 503) from exc
        except anthropic.BadRequestError as exc:
            raise LLMError(f"The Anthropic API rejected the request (400): {self._said(exc)}.", "bad_request") from exc
        except anthropic.APIStatusError as exc:
            raise LLMError(f"The Anthropic API failed ({exc.status_code}): {self._said(exc)}.", "unavailable",
                           503) from exc
        except anthropic.APIError as exc:  # e.g. an error event in the middle of the stream
            raise LLMError(f"The Anthropic API failed: {self._said(exc)}.", "error") from exc
        # the SDK turns transport errors into its own only while it sends the request; once the
        # answer streams, a stalled or dropped connection surfaces as the HTTP client's error
        except timeout_errors as exc:
            raise self._failed(
                f"The LLM timed out: it sent nothing for {self.timeout:g} s in the middle of the answer (LLM_TIMEOUT); "
                "try again.", exc, "timeout", 504
            ) from exc
        except transport_errors as exc:
            raise self._failed(
                f"The Anthropic API dropped the connection in the middle of the answer ({self._said(exc)}); try again.",
                exc, "unavailable", 503,
            ) from exc
        if not finished:
            raise LLMError(
                "The Anthropic API ended the stream before the answer was complete; try again.", "unavailable", 503
            )


def _takes_temperature(client) -> bool:
    """Whether this SDK still sends a sampling temperature (anthropic 2.x dropped the parameter)."""
    import inspect

    return "temperature" in inspect.signature(client.messages.stream).parameters


def _count(usage: dict, reported) -> None:
    """Take the token counts the API reports (``message_start`` has the input, ``message_delta`` the output)."""
    for name in ("input_tokens", "output_tokens"):
        value = getattr(reported, name, None)
        if isinstance(value, int) and value:
            usage[name] = value


def _transport_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(timeout errors, every other transport error) of the HTTP client the SDK streams with:
    ``httpx2`` in anthropic 2.x, ``httpx`` before."""
    timeouts: list[type] = []
    errors: list[type] = []
    for name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        errors.append(module.HTTPError)
    return tuple(timeouts), tuple(errors)


def _detail(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(getattr(exc, "message", None) or exc)
