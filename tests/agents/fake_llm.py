"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 (real HTTP, for the real openai client).

``FakeLLM(script)``: ``script(request_body, call_index)`` returns ``(status, content)``: status 200 with
the answer's text, or an error status (the server then answers with an OpenAI-style error body);
or a ``Reply``, which replays what real serving stacks send: content as a list of text parts,
``reasoning_content``/``reasoning`` fields, ``finish_reason: length``, no ``usage``, a
``Retry-After`` header, an answer streamed as server-sent events (always when the request asks for
``stream``; ``STREAM_ONLY`` refuses a request that does not). Every request body is recorded; each 200
answer reports ``usage`` of ``PROMPT_TOKENS`` / ``COMPLETION_TOKENS`` unless told not to;
``delay_s`` sleeps before answering.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROMPT_TOKENS = 100
COMPLETION_TOKENS = 50

STREAM_ONLY = "This endpoint only supports streaming: set stream to true."
"""What a stream-only server answers (HTTP 400) to a request without ``stream``."""


@dataclass
class Reply:
    status: int = 200
    content: Any = ""
    """A string, a list of ``{"type": "text", "text": ...}`` parts, or None; an error's message."""
    reasoning_content: str | None = None
    reasoning: str | None = None
    finish_reason: str = "stop"
    usage: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    error_code: str | None = None
    """An error's ``code`` (default: the status), e.g. OpenAI's ``insufficient_quota``."""


Script = Callable[[dict[str, Any], int], "tuple[int, str] | Reply"]


class FakeLLM:
    def __init__(self, script: Script, delay_s: float = 0.0) -> None:
        self.script = script
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    index = len(owner.requests)
                    owner.requests.append(body)
                    owner.paths.append(self.path)
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                reply = owner.script(body, index)
                if not isinstance(reply, Reply):
                    reply = Reply(status=reply[0], content=reply[1])
                if reply.status == 200 and body.get("stream"):
                    self._stream(body, index, reply)
                    return
                if reply.status == 200:
                    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
                    for name in ("reasoning_content", "reasoning"):
                        if getattr(reply, name) is not None:
                            message[name] = getattr(reply, name)
                    payload: dict[str, Any] = {
                        "id": f"cmpl-{index}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "fake"),
                        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
                    }
                    if reply.usage:
                        payload["usage"] = _usage()
                else:
                    code = reply.error_code or reply.status
                    payload = {"error": {"message": reply.content, "type": "server_error", "code": code}}
                data = json.dumps(payload).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any], index: int, reply: Reply) -> None:
                """The answer as server-sent events: reasoning and content in pieces, then the finish
                reason, then (when asked for and kept) a usage chunk."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                base = {"id": f"cmpl-{index}", "object": "chat.completion.chunk", "created": 0, "model": "fake"}

                def send(choices: list[dict[str, Any]], **extra: Any) -> None:
                    chunk = {**base, "choices": choices, **extra}
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    self.wfile.flush()

                reasoning = reply.reasoning_content or ""
                text = reply.content if isinstance(reply.content, str) else ""
                for k in range(0, len(reasoning), 200):
                    send([{"index": 0, "delta": {"reasoning_content": reasoning[k : k + 200]}}])
                for k in range(0, len(text), 200):
                    send([{"index": 0, "delta": {"content": text[k : k + 200]}}])
                send([{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}])
                if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
                    send([], usage=_usage())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def _usage() -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def last_user_message(body: dict[str, Any]) -> str:
    return next((m["content"] for m in reversed(body.get("messages", [])) if m["role"] == "user"), "")


def fenced(source: str) -> str:
    return "Here is the kernel.\n\n```python\n" + source.strip() + "\n```\n"
