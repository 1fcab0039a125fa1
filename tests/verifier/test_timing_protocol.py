"""The GPU timing protocol's order and arithmetic, on a fake device (no GPU needed).

``verifier.worker.timing.timed_phase`` is what the reference, a Triton plan and a CUDA candidate are
timed with on a GPU; here a fake device logs every operation and its events read a fake clock, so
the order (synchronize, flush, start, call, end, synchronize), the warm-up before the timed calls,
the clock readings and the median are checked exactly.
"""

from __future__ import annotations

from typing import Any

import pytest

from verifier import precision
from verifier.worker.timing import Phase, timed_phase


class FakeEvent:
    def __init__(self, device: FakeDevice, name: str) -> None:
        self.device, self.name, self.at = device, name, None

    def record(self) -> None:
        self.device.log.append(self.name)
        self.at = self.device.now

    def elapsed_time(self, end: FakeEvent) -> float:
        return end.at - self.at


class FakeDevice:
    """Each call advances the device's clock by its ``cost`` (ms); flushes cost 1 ms each."""

    def __init__(self, clocks: list[int | None]) -> None:
        self.log: list[str] = []
        self.now = 0.0
        self.clocks = list(clocks)
        self.created = 0

    def synchronize(self) -> None:
        self.log.append("sync")

    def flush(self) -> None:
        self.log.append("flush")
        self.now += 1.0

    def event(self) -> FakeEvent:
        self.created += 1
        return FakeEvent(self, "start" if self.created % 2 else "end")

    def sm_clock_mhz(self) -> int | None:
        self.log.append("clock")
        return self.clocks.pop(0)


def _host_clock(device: FakeDevice) -> Any:
    return lambda: device.now / 1000.0  # the host clock follows the device's in this fake


def test_each_timed_call_is_synchronize_flush_start_call_end_synchronize() -> None:
    device = FakeDevice([1980, 1965])
    costs = [0.5, 0.25, 4.0]

    def call(i: int) -> str:
        device.log.append(f"call{i}")
        device.now += costs[i]
        return f"out{i}"

    phase = timed_phase(call, 0, 3, device, min_warmup_ms=0.0, clock=_host_clock(device))
    timed = device.log[device.log.index("clock") + 1 : len(device.log) - 1]
    assert timed == [
        *("sync", "flush", "start", "call0", "end", "sync"),
        *("sync", "flush", "start", "call1", "end", "sync"),
        *("sync", "flush", "start", "call2", "end", "sync"),
    ]
    # the flush is queued before the start event: its device time is not in the call's time
    assert phase.times_ms == [0.5, 0.25, 4.0]
    assert phase.median_ms == 0.5
    assert phase.sm_clock_mhz == {"before": 1980, "after": 1965}


def test_warm_up_calls_then_a_clock_ramp_come_before_the_first_timed_call() -> None:
    device = FakeDevice([None, None])

    def call(i: int) -> None:
        device.log.append(f"call{i}")
        device.now += 0.1

    phase = timed_phase(call, 3, 2, device, min_warmup_ms=20.0, clock=_host_clock(device))
    first_start = device.log.index("start")
    before = device.log[:first_start]
    assert before[:3] == ["call0", "call1", "call2"]  # warm-up calls, untimed
    assert before.count("flush") >= 20  # at least 20 ms of flushing (1 ms each here) before timing
    assert phase.warmup_calls == 3 and phase.warmup_flush_ms >= 20.0
    assert phase.sm_clock_mhz == {"before": None, "after": None}  # no NVML: recorded as unknown
    assert phase.describe()["warmup_flush_ms"] >= 20.0


def test_before_each_runs_outside_the_timed_region_and_after_each_sees_the_output() -> None:
    device = FakeDevice([None, None])
    seen: list[tuple[int, Any]] = []

    def call(i: int) -> str:
        device.log.append(f"call{i}")
        return f"out{i}"

    def before(i: int) -> None:
        device.log.append(f"load{i}")
        device.now += 50.0  # an expensive copy must not reach the measured time

    phase = timed_phase(
        call,
        1,
        2,
        device,
        before_each=before,
        after_each=lambda i, out: seen.append((i, out)),
        min_warmup_ms=0.0,
        clock=_host_clock(device),
    )
    assert device.log[:2] == ["load0", "call0"]  # the warm-up call gets its inputs too
    timed = device.log[device.log.index("clock") + 1 :]
    assert timed[:7] == ["load0", "sync", "flush", "start", "call0", "end", "sync"]
    assert phase.times_ms == [0.0, 0.0]
    assert seen == [(0, "out0"), (1, "out1")]


def test_phase_median_of_an_even_count() -> None:
    assert Phase([4.0, 1.0, 3.0, 2.0], 0, 0.0).median_ms == 2.5


def test_template_dot_precision_follows_the_baseline() -> None:
    for kind in ("matmul", "conv"):
        expected = "tf32" if precision.BASELINE[kind] else "tf32x3"
        assert precision.fp32_dot_precision(kind) == expected
    # PyTorch's defaults, which KernelBench evaluates with: cuBLAS float32 in full float32, cuDNN in TF32
    assert precision.BASELINE == {"matmul": False, "conv": True}
    assert not any(precision.EXACT.values())


@pytest.mark.parametrize("setting", [precision.BASELINE, precision.EXACT, {"matmul": True, "conv": False}])
def test_pinned_sets_records_and_restores(setting: dict[str, bool]) -> None:
    before = precision.current()
    with precision.pinned(setting) as now:  # type: ignore[arg-type]
        assert now == precision.current()
        assert now == {
            "matmul_fp32": "tf32" if setting["matmul"] else "ieee",
            "conv_fp32": "tf32" if setting["conv"] else "ieee",
        }
    assert precision.current() == before
