"""What every request passes before a route sees it: who writes, size and time limits, strict JSON, no NUL.

``RequestGuard`` is a pure ASGI middleware (nothing here runs per chunk on the event loop beyond a
byte count). For a request with a body (POST, PUT, PATCH, DELETE), in this order, before any of the
body is read:

- Two ``Content-Type`` headers are a 400: the guard and the framework must agree on what the body is.
- The writer is authenticated (``service.api.auth.writer``: a bearer token of ``KILN_API_TOKENS``, or
  a loopback client when none is set): 401/403 without reading the body.
- A declared ``Content-Length`` over ``max_body_bytes`` is a 413.

Then the body is read: over ``max_body_bytes`` it is a 413 as soon as the limit is passed, and a body
not complete within ``body_timeout_s`` is a 408 (a stalled client holds nothing longer). The
accepted body is buffered (bounded) and replayed to the route. A JSON body must be strict JSON
(``service.api.strict_json``: no ``NaN``, no overflowing number, no lone surrogate, no NUL); anything
else is a 422 naming the field. Bodies above ``THREAD_PARSE_BYTES`` are checked in a worker thread so
the event loop keeps serving.

A NUL character (``%00``) in the path or the query string is a 400: such values would reach the
database (PostgreSQL refuses NUL in text).

``validation_error_handler`` replaces FastAPI's 422 body: it never echoes a large input back.
"""

from __future__ import annotations

import math
from typing import Any

import anyio
from fastapi import HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.auth import writer
from service.api.strict_json import ECHO_CHARS, BadJSON, shorten, strict_json

__all__ = ["BadJSON", "RequestGuard", "shorten", "strict_json", "validation_error_handler"]

THREAD_PARSE_BYTES = 64 * 1024
"""Bodies larger than this are decoded off the event loop."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _content_types(scope: Scope) -> list[str]:
    """Every ``Content-Type`` header's media type, lower case."""
    return [
        value.decode("latin-1").split(";")[0].strip().lower()
        for name, value in scope.get("headers", ())
        if name == b"content-type"
    ]


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value.decode("latin-1")
    return ""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        tokens: frozenset[str] = frozenset(),
        body_timeout_s: float = 30.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.tokens = tokens
        self.body_timeout_s = body_timeout_s

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
        content_types = _content_types(scope)
        if len(content_types) > 1:
            await _error(scope, receive, send, 400, "the request has more than one Content-Type header; send one")
            return
        try:  # who writes, before a byte of the body is read
            client = scope.get("client")
            writer(_header(scope, b"authorization"), client[0] if client else None, self.tokens)
        except HTTPException as e:
            await _error(scope, receive, send, e.status_code, str(e.detail), e.headers)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _error(scope, receive, send, 413, self._too_large(declared))
            return
        with anyio.move_on_after(self.body_timeout_s) as deadline:
            read = await self._read_body(receive)
        if deadline.cancelled_caught:
            detail = f"the request body did not arrive within {self.body_timeout_s:g} s (KILN_BODY_TIMEOUT_S)"
            await _error(scope, receive, send, 408, detail, {"Connection": "close"})
            return
        if read is None:  # the client left
            return
        if isinstance(read, int):
            await _error(scope, receive, send, 413, self._too_large(None))
            return
        body = read
        if body and content_types and _is_json(content_types[0]):
            try:
                if len(body) > THREAD_PARSE_BYTES:
                    await anyio.to_thread.run_sync(strict_json, body)
                else:
                    strict_json(body)
            except BadJSON as e:
                await _error(scope, receive, send, 422, str(e))
                return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes | int | None:
        """The whole body; its size so far when it passes the limit; None when the client disconnected."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return size
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

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


async def _error(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    if status == 413:
        headers = {**(headers or {}), "Connection": "close"}
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
