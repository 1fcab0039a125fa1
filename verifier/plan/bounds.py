"""Memory bounds for interpreted kernels: every address a kernel touches lies in a tensor it was given.

Under Triton's interpreter a pointer is a host address: a kernel that builds one from an integer
(or runs past its tensors) reads and writes anything in the runner's memory. The runner therefore
replaces the interpreter's four memory primitives (``load``, ``store``, ``atomic_rmw``,
``atomic_cas`` of ``triton._C.libtriton.interpreter``, which every ``tl.load``/``tl.store``/atomic
and descriptor access goes through) with checked ones: before each launch it names the storages
of the launch's tensor arguments, and an access outside them, masked-off lanes aside, raises
:class:`OutOfBounds` before any byte moves. The same hook counts each access's traffic when the
runner asks (:mod:`verifier.plan.traffic`). A compiled kernel on a GPU gets no such check (the
device faults, or reads another buffer of the runner: never data of another process).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

import torch

_STATE = threading.local()
CANDIDATE_PREFIX = "<kiln-candidate-"
"""How ``kernel_source.register_source`` names the candidate's text (``linecache``)."""


class OutOfBounds(RuntimeError):
    """A kernel accessed memory outside every tensor passed to it."""


def _ranges() -> list[tuple[int, int]] | None:
    return getattr(_STATE, "ranges", None)


def _check(ptrs: Any, mask: Any, itemsize: int, what: str, kind: str) -> None:
    import numpy as np

    from verifier.plan import traffic

    ranges = _ranges()
    if ranges is None:
        raise OutOfBounds(f"a kernel {what} outside a launch the runner made")
    addresses = np.asarray(ptrs, dtype=np.uint64).reshape(-1)
    if mask is not None:
        addresses = addresses[np.asarray(mask, dtype=bool).reshape(-1)]
    if addresses.size == 0:
        return
    traffic.record_access(kind, addresses, itemsize)
    inside = np.zeros(addresses.shape, dtype=bool)
    for lo, hi in ranges:
        inside |= (addresses >= np.uint64(lo)) & (addresses + np.uint64(itemsize) <= np.uint64(hi))
    if not inside.all():
        bad = int(addresses[~inside][0])
        raise OutOfBounds(
            f"the kernel {what} address {bad:#x}, outside every tensor passed to the launch "
            f"({(~inside).sum()} of {addresses.size} lane(s)){_kernel_line()}"
        )


def _kernel_line() -> str:
    """' at line N of the candidate (kernel `name`)': the innermost frame of the candidate's kernel text
    (compiled under ``kernel_source.register_source``'s name, with the file's line numbers); '' if none."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(CANDIDATE_PREFIX):
            return f" at line {frame.f_lineno} of the candidate (kernel `{frame.f_code.co_name}`)"
        frame = frame.f_back
    return ""


class _Checked:
    """Stands in for the interpreter's C++ memory module: checks, then delegates."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def load(self, ptrs: Any, mask: Any, other: Any, dtype: Any) -> Any:
        import numpy as np

        _check(ptrs, mask, np.dtype(dtype).itemsize, "reads", "load")
        return self._inner.load(ptrs, mask, other, dtype)

    def store(self, ptrs: Any, value: Any, mask: Any) -> Any:
        _check(ptrs, mask, value.dtype.itemsize, "writes", "store")
        return self._inner.store(ptrs, value, mask)

    def atomic_rmw(self, op: Any, ptrs: Any, value: Any, mask: Any, sem: Any) -> Any:
        _check(ptrs, mask, value.dtype.itemsize, "updates atomically", "atomic")
        return self._inner.atomic_rmw(op, ptrs, value, mask, sem)

    def atomic_cas(self, ptrs: Any, cmp: Any, value: Any, sem: Any) -> Any:
        _check(ptrs, None, value.dtype.itemsize, "compares and swaps", "atomic")
        return self._inner.atomic_cas(ptrs, cmp, value, sem)


_INSTALLED = False


def install() -> None:
    """Route the interpreter's memory primitives through the checks (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from triton.runtime import interpreter

    from verifier.plan import traffic

    interpreter._interpreter = _Checked(interpreter._interpreter)  # type: ignore[attr-defined]
    traffic.install_dot_counter()
    _INSTALLED = True


def _storage_range(t: torch.Tensor) -> tuple[int, int]:
    storage = t.untyped_storage()
    return storage.data_ptr(), storage.data_ptr() + storage.nbytes()


@contextlib.contextmanager
def launch_bounds(args: dict[str, Any]) -> Iterator[None]:
    """The memory a launch may touch: the storages of its tensor arguments."""
    ranges = [_storage_range(v) for v in args.values() if isinstance(v, torch.Tensor) and v.numel() > 0]
    previous = _ranges()
    _STATE.ranges = ranges
    try:
        yield
    finally:
        _STATE.ranges = previous
