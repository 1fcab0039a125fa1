"""The private channel between the trusted parent and a sandbox worker.

Frame layout (all integers big-endian)::

    MAGIC | seq u64 | header_len u32 | blob_len u64 | header (JSON) | blob | [HMAC-SHA256 (32 bytes)]

Reference and trace workers authenticate their frames (``b"KLN1"``, HMAC key sent over the request
pipe). The candidate worker does not (``b"KLN0"``, no MAC): code in the candidate's process can
read anything in it, a key included, so every frame it sends is treated as the candidate's own
claim. The parent asks for each call's outputs itself and decides on them; sequence numbers and
size limits still turn a corrupted stream into a protocol error.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

MAGIC = b"KLN1"
PLAIN_MAGIC = b"KLN0"
_PREFIX = 4 + 8 + 4 + 8
MAC_LEN = 32
MAX_HEADER_BYTES = 64 << 20


class ProtocolError(Exception):
    """The byte stream from a worker is not a well-formed, authenticated frame sequence."""


def _hmac_digest_function() -> Callable[[bytes, bytes, str], bytes]:
    try:  # the C implementation: no Python-level globals for a candidate to patch mid-call
        from _hashlib import hmac_digest  # type: ignore[import-not-found]

        return hmac_digest
    except ImportError:  # pragma: no cover - Python built without OpenSSL
        return hmac.digest


def make_sender(fd: int, key: bytes | None) -> Callable[[bytes, Sequence[bytes]], None]:
    """Build ``send(header_json, blobs)`` writing frames to ``fd`` (authenticated when ``key`` is given)."""
    write = os.write
    digest = _hmac_digest_function() if key else (lambda _k, _b, _d: b"")
    join = b"".join
    length = len
    memview = memoryview
    seq = [0]
    magic = MAGIC if key else PLAIN_MAGIC

    def send(header: bytes, blobs: Sequence[bytes] = ()) -> None:
        blob = join(blobs)
        prefix = join(
            [
                magic,
                seq[0].to_bytes(8, "big"),
                length(header).to_bytes(4, "big"),
                length(blob).to_bytes(8, "big"),
            ]
        )
        body = join([prefix, header, blob])
        frame = join([body, digest(key, body, "sha256")])
        seq[0] += 1
        view = memview(frame)
        while length(view):
            n = write(fd, view)
            view = view[n:]

    return send


def encode_header(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")


@dataclass
class Frame:
    seq: int
    header: dict[str, Any]
    blob: bytes
    received_at: float = 0.0
    """Parent's monotonic clock when the frame was parsed."""

    @property
    def kind(self) -> str:
        return str(self.header.get("kind", ""))


class FrameReader:
    """Incremental parser of frames (parent side). Raises ProtocolError on any fault.

    With ``key=None`` frames carry no MAC (the candidate worker's channel: its frames are claims)."""

    def __init__(self, key: bytes | None, max_blob_bytes: int) -> None:
        self._key = key
        self._magic = MAGIC if key else PLAIN_MAGIC
        self._mac_len = MAC_LEN if key else 0
        self._max_blob = max_blob_bytes
        self._buf = bytearray()
        self._next_seq = 0
        self.bytes_received = 0

    def feed(self, data: bytes) -> None:
        self._buf += data
        self.bytes_received += len(data)

    def frames(self) -> Iterator[Frame]:
        while True:
            frame = self._take()
            if frame is None:
                return
            yield frame

    def _take(self) -> Frame | None:
        buf = self._buf
        if len(buf) < _PREFIX:
            return None
        if bytes(buf[:4]) != self._magic:
            raise ProtocolError("stream does not start with a frame marker (bytes written by something else)")
        seq = int.from_bytes(buf[4:12], "big")
        header_len = int.from_bytes(buf[12:16], "big")
        blob_len = int.from_bytes(buf[16:24], "big")
        if header_len > MAX_HEADER_BYTES:
            raise ProtocolError(f"frame header of {header_len} bytes exceeds the limit")
        if blob_len > self._max_blob:
            raise ProtocolError(f"frame payload of {blob_len} bytes exceeds the limit of {self._max_blob}")
        total = _PREFIX + header_len + blob_len + self._mac_len
        if len(buf) < total:
            return None
        body = bytes(buf[: total - self._mac_len])
        if self._key:
            mac = bytes(buf[total - MAC_LEN : total])
            if not hmac.compare_digest(mac, hmac.digest(self._key, body, "sha256")):
                raise ProtocolError("frame failed authentication (forged or corrupted)")
        if seq != self._next_seq:
            raise ProtocolError(f"frame sequence {seq} where {self._next_seq} was expected (replayed or dropped)")
        self._next_seq += 1
        del buf[:total]
        try:
            header = json.loads(body[_PREFIX : _PREFIX + header_len])
        except ValueError as e:
            raise ProtocolError(f"frame header is not JSON: {e}") from None
        if not isinstance(header, dict):
            raise ProtocolError("frame header is not an object")
        return Frame(seq=seq, header=header, blob=body[_PREFIX + header_len :])
