"""Memory traffic and ``tl.dot`` work of interpreted kernels, counted while they run (an estimate).

The kernel runner routes every interpreted ``tl.load``/``tl.store``/atomic through the checked memory
primitives of :mod:`verifier.plan.bounds`; while :func:`counting` is active those also call
:func:`record_access` here with the addresses of the active lanes. For each access (one
``tl.load``/``tl.store`` of one program) it counts the distinct bytes requested and the distinct
32-byte sectors they span, so ``bytes / (32 * sectors)`` is the coalescing (sector) efficiency the
GPU's memory system would see, and the sum over all programs is what its caches must serve. ``tl.dot``
FLOPs are counted from the operand shapes (``2*M*N*K`` a dot).

What it cannot see: a GPU splits a program's access into one request per warp (two warps touching one
sector count it twice there, once here), caches (bytes served from L1/L2 are counted like any others),
latency, and anything about timing. Counting changes nothing a kernel computes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

SECTOR_BYTES = 32
_STATE = threading.local()


@dataclass
class KernelTraffic:
    """What one kernel's launches in one call requested (all launches and programs together)."""

    kernel: str
    launches: int = 0
    programs: int = 0
    load_bytes: int = 0
    load_sectors: int = 0
    load_accesses: int = 0
    store_bytes: int = 0
    store_sectors: int = 0
    store_accesses: int = 0
    atomic_bytes: int = 0
    atomic_sectors: int = 0
    dot_flops: int = 0

    @property
    def bytes(self) -> int:
        return self.load_bytes + self.store_bytes + self.atomic_bytes

    @property
    def sectors(self) -> int:
        return self.load_sectors + self.store_sectors + self.atomic_sectors

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bytes"] = self.bytes
        out["sector_efficiency"] = sector_efficiency(self.bytes, self.sectors)
        return out


def sector_efficiency(nbytes: int, sectors: int) -> float | None:
    """Requested bytes over the bytes of the sectors they span (1.0: perfectly coalesced)."""
    return None if sectors == 0 else round(nbytes / (SECTOR_BYTES * sectors), 4)


@dataclass
class CallTraffic:
    """Every kernel's traffic in one call, by kernel name (in launch order)."""

    kernels: dict[str, KernelTraffic] = field(default_factory=dict)
    current: KernelTraffic | None = None

    def to_dict(self) -> dict[str, Any]:
        kernels = [k.to_dict() for k in self.kernels.values()]
        total_bytes = sum(k.bytes for k in self.kernels.values())
        total_sectors = sum(k.sectors for k in self.kernels.values())
        return {
            "kernels": kernels,
            "bytes": total_bytes,
            "sectors": total_sectors,
            "sector_efficiency": sector_efficiency(total_bytes, total_sectors),
            "dot_flops": sum(k.dot_flops for k in self.kernels.values()),
            "launches": sum(k.launches for k in self.kernels.values()),
        }


def _active() -> CallTraffic | None:
    return getattr(_STATE, "call", None)


@contextlib.contextmanager
def counting() -> Iterator[CallTraffic]:
    """Count the traffic of every interpreted launch made inside the block (this thread only)."""
    previous = _active()
    _STATE.call = CallTraffic()
    try:
        yield _STATE.call
    finally:
        _STATE.call = previous


@contextlib.contextmanager
def launch(kernel: str, grid: tuple[int, ...]) -> Iterator[None]:
    """Attribute the accesses inside the block to ``kernel`` (a no-op unless :func:`counting`)."""
    call = _active()
    if call is None:
        yield
        return
    entry = call.kernels.setdefault(kernel, KernelTraffic(kernel))
    entry.launches += 1
    programs = 1
    for g in grid:
        programs *= int(g)
    entry.programs += programs
    previous, call.current = call.current, entry
    try:
        yield
    finally:
        call.current = previous


def record_access(kind: str, addresses: Any, itemsize: int) -> None:
    """Count one access: ``kind`` is ``load``, ``store`` or ``atomic``; ``addresses`` the active lanes'
    byte addresses (a numpy uint64 array)."""
    call = _active()
    if call is None or call.current is None:
        return
    import numpy as np

    if addresses.size == 0:
        return
    ordered = np.sort(addresses)  # one sort: distinct addresses and sectors are runs of it
    count = 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))
    if (ordered % np.uint64(itemsize)).any():  # an element may straddle two sectors: count both ends
        ends = np.concatenate([ordered, ordered + np.uint64(itemsize - 1)]) // np.uint64(SECTOR_BYTES)
        sectors = int(np.unique(ends).size)
    else:
        first = ordered // np.uint64(SECTOR_BYTES)
        sectors = 1 + int(np.count_nonzero(first[1:] != first[:-1]))
    entry = call.current
    nbytes = count * int(itemsize)
    if kind == "load":
        entry.load_bytes += nbytes
        entry.load_sectors += sectors
        entry.load_accesses += 1
    elif kind == "store":
        entry.store_bytes += nbytes
        entry.store_sectors += sectors
        entry.store_accesses += 1
    else:
        entry.atomic_bytes += nbytes
        entry.atomic_sectors += sectors


def record_dot(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    """Count one ``tl.dot`` of operands shaped ``[..., M, K]`` and ``[..., K, N]``."""
    call = _active()
    if call is None or call.current is None or len(a_shape) < 2 or len(b_shape) < 2:
        return
    batch = 1
    for d in a_shape[:-2]:
        batch *= int(d)
    call.current.dot_flops += 2 * batch * int(a_shape[-2]) * int(a_shape[-1]) * int(b_shape[-1])


_DOT_INSTALLED = False


def install_dot_counter() -> None:
    """Wrap the interpreter's ``create_dot`` so that :func:`record_dot` sees every ``tl.dot`` (once)."""
    global _DOT_INSTALLED
    if _DOT_INSTALLED:
        return
    from triton.runtime.interpreter import InterpreterBuilder

    original = InterpreterBuilder.create_dot

    def create_dot(self: Any, a: Any, b: Any, *args: Any, **kwargs: Any) -> Any:
        record_dot(tuple(a.data.shape), tuple(b.data.shape))
        return original(self, a, b, *args, **kwargs)

    InterpreterBuilder.create_dot = create_dot  # type: ignore[method-assign]
    _DOT_INSTALLED = True
