"""The private channel: lossless for honest data, closed to forged or malformed data."""

from __future__ import annotations

import os
import secrets

import pytest
import torch

from verifier import codec
from verifier.channel import FrameReader, ProtocolError, encode_header, make_sender


def roundtrip(value):
    obj, blobs = codec.encode(value)
    return codec.decode(obj, b"".join(blobs))


@pytest.mark.parametrize("dtype", list(codec.DTYPES.values()), ids=str)
def test_tensors_roundtrip_bit_exactly(dtype: torch.dtype) -> None:
    t = (torch.randn(3, 5) * 7).to(dtype) if dtype != torch.bool else torch.rand(3, 5) > 0.5
    back = roundtrip(t)
    assert type(back) is torch.Tensor and back.dtype == dtype and back.shape == t.shape
    assert torch.equal(back.view(torch.uint8), t.contiguous().view(torch.uint8))


def test_nested_structures_keep_their_kinds() -> None:
    value = {"a": (torch.arange(4), [1, 2.5, None, True, "s"]), "nan": float("nan"), "inf": float("-inf")}
    back = roundtrip(value)
    assert isinstance(back["a"], tuple) and isinstance(back["a"][1], list)
    assert back["a"][1] == [1, 2.5, None, True, "s"]
    assert back["inf"] == float("-inf") and back["nan"] != back["nan"]
    assert torch.equal(back["a"][0], torch.arange(4))


def test_views_empty_and_scalar_tensors() -> None:
    base = torch.arange(24.0).reshape(4, 6)
    assert torch.equal(roundtrip(base.t()), base.t())  # non-contiguous
    assert roundtrip(torch.empty(0, 3)).shape == (0, 3)
    assert roundtrip(torch.tensor(3.5)).item() == 3.5


def test_tensor_subclass_and_unknown_objects_become_opaque() -> None:
    class Sub(torch.Tensor):
        pass

    back = roundtrip([torch.ones(2).as_subclass(Sub), object()])
    assert all(isinstance(v, codec.Opaque) for v in back)
    assert "tensor subclass" in back[0].description


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"T": ["float32", [2], 0, 4]}, "does not match"),
        ({"T": ["float32", [2], 4, 8]}, "out of range"),
        ({"T": ["evil", [2], 0, 8]}, "unknown tensor dtype"),
        ({"T": ["float32", [-1], 0, 0]}, "bad tensor shape"),
        ({"X": 1}, "unknown tag"),
        ({"a": 1, "b": 2}, "malformed"),
        ({"dt": "float128"}, "unknown dtype"),
    ],
)
def test_malformed_data_is_refused(obj, message) -> None:
    with pytest.raises(codec.CodecError, match=message):
        codec.decode(obj, b"\0" * 8)


def test_deep_nesting_is_refused() -> None:
    obj: object = 1
    for _ in range(codec.MAX_DEPTH + 2):
        obj = {"l": [obj]}
    with pytest.raises(codec.CodecError, match="too deep"):
        codec.decode(obj, b"")


def _pipe_frames(key: bytes, writes: list[bytes]) -> list:
    reader = FrameReader(key, max_blob_bytes=1 << 20)
    for w in writes:
        reader.feed(w)
    return list(reader.frames())


def _capture(key: bytes, *frames: tuple[bytes, list[bytes]]) -> bytes:
    r, w = os.pipe()
    send = make_sender(w, key)
    for header, blobs in frames:
        send(header, blobs)
    os.close(w)
    data = os.read(r, 1 << 20)
    os.close(r)
    return data


def test_authenticated_frames_arrive_in_order() -> None:
    key = secrets.token_bytes(32)
    data = _capture(key, (encode_header({"kind": "a"}), [b"xyz"]), (encode_header({"kind": "b"}), []))
    frames = _pipe_frames(key, [data[:7], data[7:]])  # split mid-frame
    assert [f.kind for f in frames] == ["a", "b"] and frames[0].blob == b"xyz"


def test_frame_with_the_wrong_key_is_rejected() -> None:
    forged = _capture(b"k" * 32, (encode_header({"kind": "done"}), []))
    with pytest.raises(ProtocolError, match="authentication"):
        _pipe_frames(b"K" * 32, [forged])


def test_replayed_frame_is_rejected() -> None:
    key = secrets.token_bytes(32)
    once = _capture(key, (encode_header({"kind": "call"}), []))
    with pytest.raises(ProtocolError, match="sequence"):
        _pipe_frames(key, [once, once])


def test_bytes_that_are_not_frames_are_rejected() -> None:
    with pytest.raises(ProtocolError, match="frame marker"):
        _pipe_frames(b"k" * 32, [b'{"verdict": "accepted"}' + b" " * 40])


def test_oversized_payload_is_rejected_before_buffering() -> None:
    key = secrets.token_bytes(32)
    data = _capture(key, (encode_header({"kind": "x"}), [b"\0" * 2048]))
    reader = FrameReader(key, max_blob_bytes=1024)
    reader.feed(data[:40])
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        list(reader.frames())


@pytest.mark.parametrize("key", [b"k" * 32, None], ids=["authenticated", "plain"])
def test_frames_carry_tensors_with_a_single_copy(key: bytes | None) -> None:
    """The sender writes parts without joining them; the reader copies each frame out once and the
    decoded tensor is a view of that copy (issue 12: payloads were copied 2-4 times)."""
    import threading

    value = torch.arange(1 << 18, dtype=torch.float32).reshape(512, 512)
    enc, blobs = codec.encode(value)
    read_fd, write_fd = os.pipe()
    reader = FrameReader(key, 1 << 30)
    sender = threading.Thread(target=make_sender(write_fd, key), args=(encode_header({"v": enc}), blobs))
    sender.start()
    frames = []
    while not frames:
        reader.feed(os.read(read_fd, 1 << 20))
        frames = list(reader.frames())
    sender.join()
    os.close(read_fd)
    os.close(write_fd)
    frame = frames[0]
    assert isinstance(frame.blob, memoryview)
    decoded = codec.decode(frame.header["v"], frame.blob)
    assert torch.equal(decoded, value)
    body = frame.blob.obj  # the frame body: the one copy made of the received bytes
    body_addr = torch.frombuffer(memoryview(body), dtype=torch.uint8).data_ptr()
    assert body_addr <= decoded.data_ptr() < body_addr + len(body)
