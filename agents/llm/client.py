"""A chat-completions client for any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, OpenAI...).

Uses only ``POST /v1/chat/completions``. The endpoint and key come from OPENAI_BASE_URL /
OPENAI_API_KEY (read by the ``openai`` client), or the ``base_url`` given.

What servers answer differs, and this module absorbs it:

* the text is ``content`` (a string or a list of text parts); ``reasoning_content``/``reasoning``
  are kept apart (counted, never verified unless the answer has nothing else);
* a model that refuses ``max_tokens`` (wants ``max_completion_tokens``), ``temperature``, or
  non-streamed requests is adapted to once, on its HTTP 400, and the adaptation is remembered per
  endpoint and model for the life of the process (``stream=True`` streams always);
* retries (connection errors, timeouts, 429, 5xx) are the caller's number, with exponential backoff
  or the server's ``Retry-After`` when longer, never past the caller's ``deadline``; the openai
  client's own retries are off; a 429 ``insufficient_quota`` (billing) is a refusal, not retried;
* a request never outlives the caller's ``deadline`` or ``cancel`` (its timeout is cut to what is
  left), and an answer without ``usage`` gets estimated token counts (``agents.llm.tokens``).

Errors: ``LLMError`` (the endpoint refused the request: bad model, bad key), ``EndpointUnavailable``
(unreachable or failing after every retry), ``Cancelled`` (cancel set or the deadline reached).
"""

from __future__ import annotations

import email.utils
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.llm.tokens import estimate_messages, estimate_text

PLACEHOLDER_KEY = "not-needed"
"""Local servers need no key, but the openai client refuses to start without one."""


class LLMError(Exception):
    """The endpoint refused a request (bad model, bad request) or answered nonsense."""


class EndpointUnavailable(LLMError):
    """The endpoint could not be reached, or kept failing, after every retry."""

    def __init__(self, message: str, *, refused: bool = False, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.refused = refused
        """Every attempt was a refused connection: nothing listens at the URL."""
        self.retry_after = retry_after
        """Seconds the server's last answer asked to wait (``Retry-After``), 0 when it said nothing."""


class Cancelled(LLMError):
    """The job's cancel event was set, or its deadline came, before an answer."""


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None
    reasoning: str = ""
    """The reasoning the server returned apart from the answer (``reasoning_content``/``reasoning``)."""
    estimated: bool = False
    """The token counts are estimates: the server sent no ``usage``."""

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class _Quirks:
    completion_tokens_param: bool = False
    no_temperature: bool = False
    stream: bool = False


_QUIRKS: dict[tuple[str, str], _Quirks] = {}
_QUIRKS_LOCK = threading.Lock()


def quirks_for(base_url: str, model: str) -> _Quirks:
    """What this process learned about the endpoint and model (shared by every client of the pair)."""
    with _QUIRKS_LOCK:
        return _QUIRKS.setdefault((base_url, model), _Quirks())


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
        stream: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import openai

        self.model = model
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._sleep = sleep
        key = api_key or os.environ.get("OPENAI_API_KEY") or PLACEHOLDER_KEY
        self._client = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout_s, max_retries=0)
        self.base_url = str(self._client.base_url).rstrip("/")
        self.quirks = quirks_for(self.base_url, model)
        if stream:
            self.quirks.stream = True

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float,
        max_tokens: int,
        cancel: threading.Event | None = None,
        deadline: float | None = None,
    ) -> Completion:
        """One completion, retried on transient failures, adapted to the model's parameter rules.

        ``deadline`` (``time.monotonic()`` seconds) bounds every request and wait. Raises ``LLMError``,
        ``EndpointUnavailable`` or ``Cancelled``."""
        import openai

        transient = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError)
        last: Exception | None = None
        refused = True
        adaptations = 3  # each quirk is learned at most once per call
        attempt = 0
        while True:
            timeout = self._time_left(cancel, deadline)
            try:
                return self._request(messages, temperature, max_tokens, timeout, cancel)
            except Cancelled:
                raise
            except transient as e:
                if _out_of_quota(e):  # a 429 that no wait cures: the account's quota or billing
                    raise LLMError(f"{self.base_url} answered HTTP 429: {_message(e)}") from None
                last = e
                refused = refused and _connection_refused(e)
            except openai.APIStatusError as e:
                if e.status_code == 400 and adaptations > 0 and self._adapt(_message(e)):
                    adaptations -= 1
                    continue
                if e.status_code < 500:
                    raise LLMError(f"{self.base_url} answered HTTP {e.status_code}: {_message(e)}") from None
                last, refused = e, False
            if attempt >= self.max_retries:
                break
            delay = max(self.backoff_s * (2**attempt), _retry_after(last))
            attempt += 1
            self._wait(delay, cancel, deadline)
        attempts = attempt + 1
        raise EndpointUnavailable(
            f"the LLM endpoint {self.base_url} is unreachable or failing: {_describe(last)} "
            f"(after {attempts} attempt{'s' if attempts > 1 else ''})",
            refused=refused,
            retry_after=_retry_after(last),
        )

    def _time_left(self, cancel: threading.Event | None, deadline: float | None) -> float:
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        if deadline is None:
            return self.timeout_s
        left = deadline - time.monotonic()
        if left <= 0:
            raise Cancelled("the job's time budget ended")
        return min(self.timeout_s, left)

    def _wait(self, delay: float, cancel: threading.Event | None, deadline: float | None) -> None:
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - time.monotonic()))
        if cancel is not None:
            if cancel.wait(delay):
                raise Cancelled("cancelled")
        else:
            self._sleep(delay)
        self._time_left(cancel, deadline)

    def _adapt(self, message: str) -> bool:
        """Learn from a 400 what the model refuses; True when the request should be sent again."""
        text = message.lower()
        q = self.quirks
        if "max_completion_tokens" in text and not q.completion_tokens_param:
            q.completion_tokens_param = True
            return True
        if "temperature" in text and not q.no_temperature:
            q.no_temperature = True
            return True
        if "stream" in text and not q.stream:
            q.stream = True
            return True
        return False

    def _request(
        self,
        messages: list[dict[str, str]],
        temperature: float,
        max_tokens: int,
        timeout: float,
        cancel: threading.Event | None,
    ) -> Completion:
        q = self.quirks
        params: dict[str, Any] = {"model": self.model, "messages": messages, "timeout": timeout}
        params["max_completion_tokens" if q.completion_tokens_param else "max_tokens"] = max_tokens
        if not q.no_temperature:
            params["temperature"] = temperature
        if q.stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
            completion = _streamed(self._client.chat.completions.create(**params), cancel)
        else:
            completion = _completion(self._client.chat.completions.create(**params))
        if completion.prompt_tokens == 0 and completion.completion_tokens == 0:
            completion.prompt_tokens = estimate_messages(messages)
            completion.completion_tokens = estimate_text(completion.text) + estimate_text(completion.reasoning)
            completion.estimated = True
        return completion


def text_of(content: Any) -> str:
    """``content`` as one string: a string, or a list of text parts (dicts or objects with ``text``)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
                continue
            kind = part.get("type") if isinstance(part, dict) else getattr(part, "type", None)
            text = part.get("text") if isinstance(part, dict) else getattr(part, "text", None)
            if kind in (None, "text", "output_text") and isinstance(text, str):
                parts.append(text)
        return "".join(parts)
    return str(content)


def _reasoning_of(message: Any) -> str:
    for name in ("reasoning_content", "reasoning"):
        value = message.get(name) if isinstance(message, dict) else getattr(message, name, None)
        if value:
            return text_of(value)
    return ""


def _completion(response: Any) -> Completion:
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise LLMError("the endpoint answered without choices")
    message = choices[0].message
    usage = getattr(response, "usage", None)
    return Completion(
        text=text_of(getattr(message, "content", None)),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        finish_reason=getattr(choices[0], "finish_reason", None),
        reasoning=_reasoning_of(message),
    )


def _streamed(stream: Any, cancel: threading.Event | None) -> Completion:
    """Accumulate a streamed answer (content, reasoning, finish reason, the last chunk's usage)."""
    text: list[str] = []
    reasoning: list[str] = []
    finish: str | None = None
    prompt_tokens = completion_tokens = 0
    try:
        for chunk in stream:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
                completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice, "delta", None)
                if delta is not None:
                    text.append(text_of(getattr(delta, "content", None)))
                    reasoning.append(_reasoning_of(delta))
                finish = getattr(choice, "finish_reason", None) or finish
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return Completion("".join(text), prompt_tokens, completion_tokens, finish, "".join(reasoning))


def _out_of_quota(e: Exception) -> bool:
    """OpenAI's 429 ``insufficient_quota`` (billing, not a rate): retrying cannot help."""
    body = getattr(e, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return False
    return "insufficient_quota" in (str(err.get("code")), str(err.get("type")))


def _connection_refused(e: Exception) -> bool:
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "connection refused" in str(cause).lower():
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _retry_after(e: Exception | None) -> float:
    """Seconds the server asked to wait (``Retry-After``: seconds or an HTTP date; ``retry-after-ms``)."""
    response = getattr(e, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return 0.0
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return 0.0
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return 0.0


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
