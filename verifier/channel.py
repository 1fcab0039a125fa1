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
    """Build ``send(header_json, blobs)`` writing frames to ``fd`` (authenticated when ``key`` is given).

    No part is joined into a copy: the prefix, the header, each blob and the MAC are written in
    turn (the MAC computed incrementally over them), so a frame of N bytes costs no extra N."""
    import hmac as hmac_module

    write = os.write
    new_mac = hmac_module.new
    length = len
    memview = memoryview
    seq = [0]
    magic = MAGIC if key else PLAIN_MAGIC

    def write_all(part: bytes | memoryview) -> None:
        view = memview(part).cast("B")
        while length(view):
            n = write(fd, view)
            view = view[n:]

    def send(header: bytes, blobs: Sequence[bytes] = ()) -> None:
        prefix = b"".join(
            [
                magic,
                seq[0].to_bytes(8, "big"),
                length(header).to_bytes(4, "big"),
                sum(length(memview(b).cast("B")) for b in blobs).to_bytes(8, "big"),
            ]
        )
        mac = new_mac(key, digestmod="sha256") if key else None
        for part in (prefix, header, *blobs):
            if mac is not None:
                mac.update(part)
            write_all(part)
        if mac is not None:
            write_all(mac.digest())
        seq[0] += 1

    return send


def encode_header(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")


@dataclass
class Frame:
    seq: int
    header: dict[str, Any]
    blob: bytes | memoryview
    received_at: float = 0.0
    """Parent's monotonic clock when the frame was parsed."""

    @property
    def kind(self) -> str:
        return str(self.header.get("kind", ""))


class FrameReader:
    """Incremental parser of frames (parent side). Raises ProtocolError on any fault.

    With ``key=None`` frames carry no MAC (the candidate worker's channel: its frames are claims)."""

    def __init__(self, key: bytes | None, max_blob_bytes: int, max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self._key = key
        self._magic = MAGIC if key else PLAIN_MAGIC
        self._mac_len = MAC_LEN if key else 0
        self._max_blob = max_blob_bytes
        self._max_header = max_header_bytes
        self._buf = bytearray()
        self._next_seq = 0
        self.bytes_received = 0

    def limit(self, max_blob_bytes: int, max_header_bytes: int) -> None:
        self._max_blob = max_blob_bytes
        self._max_header = max_header_bytes

    def feed(self, data: bytes) -> None:
        self._buf += data  # amortised growth; each frame is then copied out once
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
        if header_len > self._max_header:
            raise ProtocolError(f"frame header of {header_len} bytes exceeds the limit")
        if blob_len > self._max_blob:
            raise ProtocolError(f"frame payload of {blob_len} bytes exceeds the limit of {self._max_blob}")
        total = _PREFIX + header_len + blob_len + self._mac_len
        if len(buf) < total:
            return None
        with memoryview(buf) as view:
            body = bytes(view[: total - self._mac_len])  # the frame's one copy; the blob is a view of it
            mac = bytes(view[total - self._mac_len : total])
        if self._key and not hmac.compare_digest(mac, hmac.digest(self._key, body, "sha256")):
            raise ProtocolError("frame failed authentication (forged or corrupted)")
        if seq != self._next_seq:
            raise ProtocolError(f"frame sequence {seq} where {self._next_seq} was expected (replayed or dropped)")
        self._next_seq += 1
        del buf[:total]
        try:
            header = json.loads(body[_PREFIX : _PREFIX + header_len])
        except RecursionError:
            raise ProtocolError("frame header nests deeper than the parent reads") from None
        except (ValueError, MemoryError) as e:
            raise ProtocolError(f"frame header is not JSON: {str(e)[:200]}") from None
        if not isinstance(header, dict):
            raise ProtocolError("frame header is not an object")
        return Frame(seq=seq, header=header, blob=memoryview(body)[_PREFIX + header_len :])
