"""A chat-completions client for any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama...).

Uses only ``POST /v1/chat/completions`` with model, messages, temperature and max_tokens. The
endpoint and key come from OPENAI_BASE_URL / OPENAI_API_KEY (read by the ``openai`` client), or the
``base_url`` given. The openai client's own retries are off (``max_retries=0``); this module retries
connection errors, timeouts, 429 and 5xx itself with exponential backoff, and turns a dead endpoint
into ``EndpointUnavailable`` naming the URL (no traceback reaches the caller).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PLACEHOLDER_KEY = "not-needed"
"""Local servers need no key, but the openai client refuses to start without one."""


class LLMError(Exception):
    """The endpoint refused a request (bad model, bad request) or answered nonsense."""


class EndpointUnavailable(LLMError):
    """The endpoint could not be reached, or kept failing, after every retry."""


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None


class ChatClient:
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import openai

        self.model = model
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        key = api_key or os.environ.get("OPENAI_API_KEY") or PLACEHOLDER_KEY
        self._client = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout_s, max_retries=0)
        self.base_url = str(self._client.base_url).rstrip("/")

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float,
        max_tokens: int,
        cancel: threading.Event | None = None,
    ) -> Completion:
        """One completion, retried on transient failures. Raises ``LLMError``/``EndpointUnavailable``."""
        import openai

        transient = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError)
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if cancel is not None and cancel.is_set():
                raise LLMError("cancelled")
            try:
                response = self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    temperature=temperature,
                    max_tokens=max_tokens,
                )
                return _completion(response)
            except transient as e:
                last = e
            except openai.APIStatusError as e:
                if e.status_code < 500:
                    raise LLMError(f"{self.base_url} answered HTTP {e.status_code}: {_message(e)}") from None
                last = e
            if attempt < self.max_retries:
                delay = self.backoff_s * (2**attempt)
                if cancel is not None:
                    if cancel.wait(delay):
                        raise LLMError("cancelled")
                else:
                    self._sleep(delay)
        attempts = self.max_retries + 1
        raise EndpointUnavailable(
            f"the LLM endpoint {self.base_url} is unreachable or failing: {_describe(last)} "
            f"(after {attempts} attempt{'s' if attempts > 1 else ''})"
        )


def _completion(response: Any) -> Completion:
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise LLMError("the endpoint answered without choices")
    message = choices[0].message
    usage = getattr(response, "usage", None)
    return Completion(
        text=(getattr(message, "content", None) or ""),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        finish_reason=getattr(choices[0], "finish_reason", None),
    )


def _message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
    return str(getattr(e, "message", e))[:500]


def _describe(e: Exception | None) -> str:
    if e is None:
        return "no answer"
    status = getattr(e, "status_code", None)
    if status is not None:
        return f"HTTP {status}: {_message(e)}"
    cause = e.__cause__ or e.__context__
    detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    return f"{type(e).__name__}: {e}{detail}"[:500]
