"""A small HTTP client for the Kernel Kiln API (used by ``kiln submit``), with server-sent events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_SERVER = "http://127.0.0.1:8000"


class KilnClientError(Exception):
    """The server could not be reached or refused the request (the message says why)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass
class ServerEvent:
    type: str
    data: Any
    id: str | None = None


class KilnClient:
    def __init__(self, server: str = DEFAULT_SERVER, token: str | None = None, timeout_s: float = 30.0) -> None:
        self.server = server.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> KilnClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise KilnClientError(f"cannot reach the Kernel Kiln server at {self.server}: {e}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            if isinstance(detail, list):  # pydantic validation errors
                detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
            raise KilnClientError(f"{method} {path}: HTTP {response.status_code}: {detail}", response.status_code)
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/healthz")

    def submit(self, **body: Any) -> dict[str, Any]:
        return self._call("POST", "/v1/jobs", json={k: v for k, v in body.items() if v is not None})

    def job(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/jobs/{job_id}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/jobs/{job_id}/cancel")

    def verify(self, **body: Any) -> dict[str, Any]:
        return self._call("POST", "/v1/verify", json={k: v for k, v in body.items() if v is not None}, timeout=None)

    def events(self, job_id: str) -> Iterator[ServerEvent]:
        """Server-sent events of a job until the server closes the stream."""
        try:
            with self._http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=httpx.Timeout(30.0, read=None)) as r:
                if r.status_code >= 400:
                    r.read()
                    raise KilnClientError(f"GET events: HTTP {r.status_code}: {r.text}", r.status_code)
                yield from parse_sse(r.iter_lines())
        except httpx.TransportError as e:
            raise KilnClientError(f"lost the event stream from {self.server}: {e}") from None


def parse_sse(lines: Iterator[str]) -> Iterator[ServerEvent]:
    """Parse a text/event-stream (event:, data:, id: fields; comments and pings skipped)."""
    event_type, data_lines, event_id = "message", [], None
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data_lines:
                text = "\n".join(data_lines)
                try:
                    data = json.loads(text)
                except ValueError:
                    data = text
                yield ServerEvent(event_type, data, event_id)
            event_type, data_lines, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event_type = value
        elif name == "data":
            data_lines.append(value)
        elif name == "id":
            event_id = value
