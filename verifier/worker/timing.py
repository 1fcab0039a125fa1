"""GPU timing, identical for the reference, a Triton plan and a CUDA candidate.

Each timed call (KernelBench's and GPU MODE's order): synchronise the device, overwrite a 256 MiB
buffer (flushes L2, 50-60 MB on Hopper), record the start event, call, record the end event,
synchronise. The flush is queued before the start event, so the host's launch of the call overlaps
the flush and Python dispatch stays out of the measured time; the end event is recorded on the
stream right after the launch, so host-side wake-up is not measured either. Before the timed calls:
``warmup`` calls (Triton JIT, cuDNN autotuning, torch.compile), then the flush repeated for at least
``WARMUP_MIN_MS`` so an idle GPU's clocks have ramped up (a fresh process on an idle H200 reads
345 MHz). The SM clock is read before and after the timed calls where torch can read it (NVML).
The median of the runs is reported. Work a candidate leaves on a side stream is caught by the
correctness calls' stream check, not by the timer.

The protocol (:func:`timed_phase`) is written against :class:`TimingDevice`, so its order and
arithmetic are tested on a CPU with a fake device; :class:`CudaDevice` is the real one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

FLUSH_BYTES = 256 << 20
WARMUP_MIN_MS = 100.0
"""Device time spent flushing after the warm-up calls, before the first timed call (clock ramp)."""
METHOD = (
    "CUDA events (synchronize, 256 MiB L2 flush, start, call, end, synchronize); warm-up calls and "
    f"{WARMUP_MIN_MS:.0f} ms of flushes first; median"
)


class TimingEvent(Protocol):
    def record(self) -> None: ...

    def elapsed_time(self, end: Any) -> float: ...


class TimingDevice(Protocol):
    """What the protocol needs of a device: the real one is :class:`CudaDevice`."""

    def synchronize(self) -> None: ...

    def flush(self) -> None: ...

    def event(self) -> TimingEvent: ...

    def sm_clock_mhz(self) -> int | None: ...


class CudaDevice:
    """The current CUDA device through torch."""

    def __init__(self) -> None:
        import torch

        self._torch = torch
        self._buffer = torch.empty(FLUSH_BYTES // 4, dtype=torch.int32, device="cuda")

    def synchronize(self) -> None:
        self._torch.cuda.synchronize()

    def flush(self) -> None:
        self._buffer.zero_()

    def event(self) -> TimingEvent:
        return self._torch.cuda.Event(enable_timing=True)

    def sm_clock_mhz(self) -> int | None:
        """The SM clock now (NVML through ``torch.cuda.clock_rate``); None where it cannot be read."""
        try:
            return int(self._torch.cuda.clock_rate())
        except Exception:
            return None


@dataclass
class Phase:
    """One timed phase: per-call milliseconds and what the GPU looked like around them."""

    times_ms: list[float]
    warmup_calls: int
    warmup_flush_ms: float
    sm_clock_mhz: dict[str, int | None] = field(default_factory=dict)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    def describe(self) -> dict[str, Any]:
        """The fields every timing frame carries besides its median."""
        return {
            "times_ms": self.times_ms,
            "warmup_runs": self.warmup_calls,
            "warmup_flush_ms": round(self.warmup_flush_ms, 1),
            "sm_clock_mhz": self.sm_clock_mhz,
        }


def timed_phase(
    call: Callable[[int], Any],
    warmup: int,
    runs: int,
    device: TimingDevice,
    *,
    before_each: Callable[[int], None] | None = None,
    after_each: Callable[[int, Any], None] | None = None,
    min_warmup_ms: float = WARMUP_MIN_MS,
    clock: Callable[[], float] = time.perf_counter,
) -> Phase:
    """Time ``runs`` calls of ``call(i)`` after ``warmup`` untimed ones and the clock ramp.

    ``before_each(i)`` runs before each call (warm-up and timed), outside the timed region (restoring
    kept state, copying inputs in); ``after_each(i, out)`` after a timed call's closing synchronize
    (checking or sending its outputs)."""
    for w in range(warmup):
        if before_each is not None:
            before_each(w)
        call(w)
    device.synchronize()
    spent, began = 0.0, clock()
    while spent < min_warmup_ms:
        for _ in range(8):
            device.flush()
        device.synchronize()
        spent = (clock() - began) * 1000.0
    clock_before = device.sm_clock_mhz()
    times: list[float] = []
    for i in range(runs):
        if before_each is not None:
            before_each(i)
        device.synchronize()
        device.flush()
        start, end = device.event(), device.event()
        start.record()
        out = call(i)
        end.record()
        device.synchronize()
        times.append(float(start.elapsed_time(end)))
        if after_each is not None:
            after_each(i, out)
        del out
    return Phase(times, warmup, spent, {"before": clock_before, "after": device.sm_clock_mhz()})


def time_calls(
    fn: Callable[[], Any],
    warmup: int,
    runs: int,
    before_each: Callable[[int], None] | None = None,
) -> list[float]:
    """Per-call milliseconds of ``runs`` calls of ``fn`` on the current CUDA device (:func:`timed_phase`),
    at the eager baseline's float32 precision."""
    import torch

    from verifier import precision

    with torch.no_grad(), precision.pinned(precision.BASELINE):
        return timed_phase(lambda _: fn(), warmup, runs, CudaDevice(), before_each=before_each).times_ms


def time_reference(model: Any, inputs: list[Any], request: dict[str, Any]) -> dict[str, Any]:
    """Eager and torch.compile medians of the reference on the first trial's inputs, with the
    float32 precision pinned to the baseline's (:mod:`verifier.precision`) and recorded."""
    import torch

    from verifier import precision

    warmup, runs = int(request["warmup_runs"]), int(request["runs"])
    device = CudaDevice()
    with torch.no_grad(), precision.pinned(precision.BASELINE) as fp32:
        eager = timed_phase(lambda _: model(*inputs), warmup, runs, device)
        result: dict[str, Any] = {
            **eager.describe(),
            "eager_ms": eager.median_ms,
            "compiled_ms": None,
            "compile_error": None,
            "runs": runs,
            "method": METHOD,
            "device_name": torch.cuda.get_device_name(),
            "fp32_precision": fp32,
        }
        if request.get("compare_compile", True):
            try:
                compiled = torch.compile(model)
                times = timed_phase(lambda _: compiled(*inputs), max(warmup, 3), runs, device)
                result["compiled_ms"] = times.median_ms
            except Exception as e:
                result["compile_error"] = f"{type(e).__name__}: {e}"[:500]
    return result
