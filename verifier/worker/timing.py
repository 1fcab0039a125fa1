"""GPU timing, identical for the reference and the candidate.

Each timed call: overwrite a 256 MiB buffer (flushes L2, 50-60 MB on Hopper), synchronise the
whole device, record a start event, call, record the end event, synchronise (KernelBench's order:
the end event is recorded on the stream right after the launch, so host-side wake-up and event
submission are not in the measured time). Warm-up calls come first (Triton JIT, cuDNN autotuning,
torch.compile). The median of the runs is reported. Work a candidate leaves on a side stream is
caught by the correctness calls' stream check, not by the timer.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch

FLUSH_BYTES = 256 << 20
METHOD = "CUDA events (start, call, end, synchronize); 256 MiB L2 flush before every call; median after warm-up"


def time_calls(
    fn: Callable[[], Any],
    warmup: int,
    runs: int,
    before_each: Callable[[int], None] | None = None,
) -> list[float]:
    """Per-call milliseconds for ``runs`` calls (the reference's eager and compiled timings).

    ``before_each(i)`` runs before call ``i``'s cache flush, outside the timed region.
    """
    flush = torch.empty(FLUSH_BYTES // 4, dtype=torch.int32, device="cuda")
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        starts = [torch.cuda.Event(enable_timing=True) for _ in range(runs)]
        ends = [torch.cuda.Event(enable_timing=True) for _ in range(runs)]
        for i in range(runs):
            if before_each is not None:
                before_each(i)
            flush.zero_()
            torch.cuda.synchronize()
            starts[i].record()
            fn()
            ends[i].record()
            torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in zip(starts, ends, strict=True)]


def time_reference(model: torch.nn.Module, inputs: list[Any], request: dict[str, Any]) -> dict[str, Any]:
    """Eager and torch.compile medians of the reference on the first trial's inputs."""
    warmup, runs = int(request["warmup_runs"]), int(request["runs"])
    eager = time_calls(lambda: model(*inputs), warmup, runs)
    result: dict[str, Any] = {
        "eager_ms": statistics.median(eager),
        "compiled_ms": None,
        "compile_error": None,
        "runs": runs,
        "warmup_runs": warmup,
        "method": METHOD,
        "device_name": torch.cuda.get_device_name(),
    }
    if request.get("compare_compile", True):
        try:
            compiled = torch.compile(model)
            times = time_calls(lambda: compiled(*inputs), max(warmup, 3), runs)
            result["compiled_ms"] = statistics.median(times)
        except Exception as e:
            result["compile_error"] = f"{type(e).__name__}: {e}"[:500]
    return result
