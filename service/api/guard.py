"""What every request passes before a route sees it: size limits, strict JSON, no NUL characters.

``RequestGuard`` is a pure ASGI middleware (nothing here runs per chunk on the event loop beyond a
byte count):

- A request body larger than ``max_body_bytes`` is refused with 413 before it is parsed: a declared
  ``Content-Length`` over the limit at once, a streamed body as soon as the limit is passed. The
  accepted body is buffered (bounded) and replayed to the route.
- A JSON body must be strict JSON: no ``NaN``/``Infinity``, no number that overflows a float
  (``1e400``), no integer outside 64 bits, no lone surrogate (``"\\ud800"``) and no NUL
  character in any string or key. Anything else is a 422 naming the field (and, for a NUL in a
  multi-line string such as a source, its line). Bodies above ``THREAD_PARSE_BYTES`` are checked
  in a worker thread so the event loop keeps serving.
- A NUL character (``%00``) in the path or the query string is a 400: such values would reach
  the database (PostgreSQL refuses NUL in text).

``validation_error_handler`` replaces FastAPI's 422 body: it never echoes a large input back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import anyio
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

THREAD_PARSE_BYTES = 64 * 1024
"""Bodies larger than this are decoded off the event loop."""
INT64 = 2**63
ECHO_CHARS = 120
"""Longest input a 422 repeats back; longer ones are described by type and size."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BadJSON(ValueError):
    """A body that is not strict JSON; the message says what and where."""


def _reject_constant(name: str) -> Any:
    raise BadJSON(f"{name} is not a JSON number (non-finite numbers are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJSON(f"the number {shorten(text, 40)} is out of range for a 64-bit float")
    return value


def _int64(text: str) -> int:
    if len(text.lstrip("-")) > 19 or not -INT64 <= (value := int(text)) < INT64:
        raise BadJSON(f"the integer {shorten(text, 40)} is out of range (64-bit integers only)")
    return value


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string (keys included) in a decoded JSON value, with its location (``body.a[2].b``)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{where} key", key
            yield from _strings(item, f"{where}.{shorten(key, 40)}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def _check_text(where: str, text: str) -> None:
    if text.isascii():
        if "\x00" in text:
            raise BadJSON(f"{where} contains a NUL character{_line_of(text, text.index(chr(0)))}")
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise BadJSON(
            f"{where} contains a lone surrogate (U+{ord(text[e.start]):04X}){_line_of(text, e.start)}; "
            "send valid UTF-8 text"
        ) from None
    if "\x00" in text:
        raise BadJSON(f"{where} contains a NUL character{_line_of(text, text.index(chr(0)))}")


def _line_of(text: str, index: int) -> str:
    if "\n" not in text:
        return ""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f" at line {line}, column {column}"


def strict_json(body: bytes) -> Any:
    """``body`` decoded as strict JSON (see the module doc); raises ``BadJSON`` with the reason."""
    try:
        value = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_int64)
    except BadJSON:
        raise
    except json.JSONDecodeError as e:
        raise BadJSON(f"the body is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except UnicodeDecodeError as e:
        raise BadJSON(f"the body is not valid UTF-8 at byte {e.start}") from None
    except RecursionError:
        raise BadJSON("the body nests too deeply") from None
    except ValueError as e:  # e.g. an integer with more digits than int() accepts
        raise BadJSON(f"the body is not valid JSON: {shorten(str(e), 200)}") from None
    for where, text in _strings(value, "body"):
        _check_text(where, text)
    return value


def shorten(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def _is_json(scope: Scope) -> bool:
    content_type = ""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            content_type = value.decode("latin-1").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (
            "\x00" in scope.get("path", "")
            or b"%00" in scope.get("query_string", b"")
            or (b"\x00" in scope.get("query_string", b""))
        ):
            where = "path" if "\x00" in scope.get("path", "") else "query string"
            await _error(scope, receive, send, 400, f"the request {where} contains a NUL character (%00)")
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _error(scope, receive, send, 413, self._too_large(declared))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _error(scope, receive, send, 413, self._too_large(None))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and _is_json(scope):
            try:
                if len(body) > THREAD_PARSE_BYTES:
                    await anyio.to_thread.run_sync(strict_json, body)
                else:
                    strict_json(body)
            except BadJSON as e:
                await _error(scope, receive, send, 422, str(e))
                return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self, declared: int | None) -> str:
        size = f"{declared} bytes" if declared is not None else f"more than {self.max_body_bytes} bytes"
        return f"the request body is {size}; the limit is {self.max_body_bytes} bytes (KILN_MAX_BODY_BYTES)"


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _error(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    headers = {"Connection": "close"} if status == 413 else None
    await JSONResponse({"detail": detail}, status_code=status, headers=headers)(scope, receive, send)


def _summary(value: Any) -> Any:
    """An input as a 422 may repeat it: short scalars as they are, anything big described."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= ECHO_CHARS else f"<a string of {len(value)} characters>"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return f"<an object with {len(value)} keys: {shorten(', '.join(map(str, list(value)[:10])), 200)}>"
    if isinstance(value, list | tuple):
        return f"<an array of {len(value)} items>"
    return f"<{type(value).__name__}>"


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 for invalid requests, with every ``input`` cut down to a short summary."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        item = {k: v for k, v in error.items() if k not in ("input", "ctx", "url")}
        item["msg"] = shorten(str(item.get("msg", "")), 300)
        item["loc"] = [shorten(str(part), 80) if isinstance(part, str) else part for part in error.get("loc", ())]
        if "input" in error:
            item["input"] = _summary(error["input"])
        ctx = error.get("ctx")
        if isinstance(ctx, dict):
            item["ctx"] = {k: shorten(str(v), 200) for k, v in ctx.items()}
        errors.append(item)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)
