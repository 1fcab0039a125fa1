"""The kernel runner's inputs are fresh allocations, as on a GPU, never views into the received frame."""

from __future__ import annotations

import torch

from verifier import codec
from verifier.worker.loading import to_device


def _decoded_after(prefix_bytes: int) -> dict[str, torch.Tensor]:
    """A frame whose float tensor starts ``prefix_bytes`` into the blob (after a uint8 tensor)."""
    value = {"pad": torch.arange(prefix_bytes, dtype=torch.uint8), "x": torch.randn(4, 33)}
    header, blobs = codec.encode(value)
    return codec.decode(header, b"".join(blobs))


def test_fresh_inputs_are_aligned_writable_copies_of_the_frame() -> None:
    for prefix in (1, 3, 12, 20):
        decoded = _decoded_after(prefix)
        fresh = to_device(decoded, "cpu", fresh=True)
        for name, tensor in decoded.items():
            copy = fresh[name]
            assert torch.equal(copy, tensor) and copy.stride() == tensor.stride()
            assert copy.untyped_storage().data_ptr() != tensor.untyped_storage().data_ptr()
            assert copy.data_ptr() % 32 == 0, f"{name} after {prefix} bytes starts off a 32-byte sector"
        fresh["x"].add_(1)  # writable, and the frame's bytes stay as sent
        assert torch.equal(decoded["x"] + 1, fresh["x"])


def test_without_fresh_a_cpu_tensor_is_passed_through() -> None:
    decoded = _decoded_after(3)
    assert to_device(decoded, "cpu")["x"].data_ptr() == decoded["x"].data_ptr()
