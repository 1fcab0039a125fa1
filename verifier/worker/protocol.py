"""Worker side of the channels: read the parent's request and commands, send encoded frames."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from verifier.channel import encode_header

Send = Callable[[bytes, Sequence[bytes]], None]


def _read_exact(fd: int, n: int) -> bytearray:
    """Read exactly ``n`` bytes into one buffer (no chunk list joined into a second copy)."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        read = os.readv(fd, [view[got : got + (1 << 24)]])
        if not read:
            raise EOFError(f"request pipe closed after {got} of {n} bytes")
        got += read
    return buf


def read_request(fd: int) -> tuple[dict[str, Any], bytearray]:
    """The initial request: a JSON header and one blob holding every tensor's bytes."""
    import json

    header = json.loads(_read_exact(fd, int.from_bytes(_read_exact(fd, 8), "big")))
    blob = _read_exact(fd, int.from_bytes(_read_exact(fd, 8), "big"))
    return header, blob


def read_message(fd: int) -> tuple[dict[str, Any], bytearray]:
    """A follow-up command with its blob (the candidate protocol: the parent sends inputs call by call)."""
    return read_request(fd)


class Reporter:
    """Encodes and sends result frames. Only used after the harness checked its own integrity."""

    def __init__(self, send: Send) -> None:
        self._send = send

    def send(self, kind: str, fields: dict[str, Any] | None = None, values: Any = None) -> None:
        header: dict[str, Any] = {"kind": kind, **(fields or {})}
        blobs: list[bytes] = []
        if values is not None:
            from verifier import codec  # imported on first use: the compile worker sends no tensor (no torch)

            header["values"], blobs = codec.encode(values)
        self._send(encode_header(header), blobs)

    def error(self, stage: str, exc: BaseException, **fields: Any) -> None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.send(
            "error",
            {
                "stage": stage,
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "traceback": tb[-6000:],
                **fields,
            },
        )
