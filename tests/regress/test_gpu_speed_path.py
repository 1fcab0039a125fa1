"""The GPU path of a regression run, end to end through ``run_regress``, on a host without a GPU.

The verifier is replaced by ``ScriptedGpu``, a stand-in that returns reports with *scripted* GPU
timings (test data: no kernel runs here), and ``torch.cuda.is_available`` is patched so the run takes
its GPU path. The recorded results are synthetic H100 verifications. What is under test is what the
product does with GPU measurements: repeats, medians, the speed rule, the hardware match, recording.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from kernels_store import Store
from service.regress import RegressOptions, RegressRun, Selection, run_regress, select_targets
from tests.regress.conftest import KERNEL_SOURCE, REFERENCE_SOURCE
from tests.store.factories import A100, CPU, H100, report
from verifier import Candidate, Reference, Report, Timing, VerifyOptions

TASK = "dwconv2d.corpus_3x3"
SHAPES = [
    {"name": "small", "tier": "small", "params": {"batch_size": 1, "channels": 4, "height": 8, "width": 8}},
    {"name": "stage1", "tier": "realistic", "params": {"batch_size": 8, "channels": 96, "height": 56, "width": 56}},
]
REJECTED = None
"""A scripted run the verifier rejects."""


class ScriptedGpu:
    """Stands in for the verifier: one scripted (candidate_ms, eager_ms) per verify call, in order."""

    def __init__(self, timings: list[tuple[float, float] | None], environment: dict[str, Any] = H100) -> None:
        self.timings = list(timings)
        self.environment = environment
        self.prepared: list[Reference] = []
        self.verified = 0

    def prepare(self, reference: Reference, options: VerifyOptions, progress: Callable[[str], None] | None) -> Any:
        self.prepared.append(reference)
        return reference

    def verify(self, prepared: Any, candidate: Candidate, options: VerifyOptions, progress: Any) -> Report:
        scripted = self.timings[self.verified]
        self.verified += 1
        env = self.environment
        common: dict[str, Any] = {
            "device": f"{env['device_kind']} ({env['device_name']})",
            "environment": dict(env),
            "shapes": sorted(prepared.shapes),
            "reference_sha256": prepared.sha256,
            "candidate_sha256": candidate.sha256,
        }
        if scripted is REJECTED:
            return Report(verdict="rejected", reasons=["values: trial 1: 3 of 96 elements exceed atol"], **common)
        cand_ms, eager_ms = scripted
        timing = Timing(
            device_name=env["device_name"],
            candidate_ms=cand_ms,
            eager_ms=eager_ms,
            compiled_ms=None,
            speedup_eager=eager_ms / cand_ms,
            speedup_compiled=None,
            runs=100,
            warmup_runs=10,
            method="scripted by the test",
        )
        return Report(verdict="accepted", timing=timing, **common)


@pytest.fixture
def gpu_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.fixture
def recorded_h100(store: Store) -> Store:
    """The kernel recorded on the H100 at 1.00 ms, 2.00x over eager (2.00 ms), on shape stage1."""
    store.put_task(TASK, REFERENCE_SOURCE, family="dwconv2d", shapes=SHAPES)
    cand = store.add_candidate(TASK, KERNEL_SOURCE, language="triton", origin="llm", origin_detail="m").candidate
    recorded = report(KERNEL_SOURCE, reference_source=REFERENCE_SOURCE, environment=H100, speedup=2.0)
    recorded["timing"].update(candidate_ms=1.0, eager_ms=2.0, speedup_eager=2.0, shape="stage1")
    recorded["shapes"] = ["stage1"]
    store.record_verification(cand.id, recorded)
    return store


def run(store: Store, verifier: ScriptedGpu, device: str = "auto", repeats: int = 3) -> RegressRun:
    targets = select_targets(store, Selection())
    return run_regress(store, targets, RegressOptions(device=device, repeats=repeats), verifier=verifier)


@pytest.mark.usefixtures("gpu_host")
def test_a_slower_kernel_regresses_by_the_speed_rule(recorded_h100: Store) -> None:
    gpu = ScriptedGpu([(1.30, 2.00), (1.28, 2.02), (1.33, 1.99)])
    result = run(recorded_h100, gpu)
    [kernel] = result.results
    assert result.exit_code == 1 and kernel.outcome == "regressed"
    assert kernel.reason == (
        "slower: 1.3 ms vs 1 ms recorded (+30%, allowed +10%); "
        "1.54x over eager vs 2.00x recorded (-23%, allowed -10%) (median of 3 runs)"
    )
    assert kernel.speed_checked and kernel.speed is not None and kernel.speed.samples == 3
    assert kernel.rerun is not None and kernel.rerun.candidate_ms == 1.30 and kernel.rerun.runs == 3
    # Three verifications, each with a freshly prepared reference, on the recorded (realistic) shape.
    assert gpu.verified == 3 and len(gpu.prepared) == 3
    assert all(list(r.shapes) == ["stage1"] for r in gpu.prepared)
    assert kernel.stored_as == "kept"  # same environment, same verdict: the baseline stays
    assert result.to_dict()["results"][0]["speed"]["time_change"] == pytest.approx(0.30)


@pytest.mark.usefixtures("gpu_host")
def test_a_slower_machine_holds_with_a_note(recorded_h100: Store) -> None:
    [kernel] = run(recorded_h100, ScriptedGpu([(1.30, 2.60), (1.31, 2.61), (1.29, 2.60)])).results
    assert kernel.outcome == "holds" and kernel.reason == "still accepted by the verifier"
    assert any("this machine was slower, not the kernel" in note for note in kernel.notes)


@pytest.mark.usefixtures("gpu_host")
def test_speed_is_not_compared_across_hardware(recorded_h100: Store) -> None:
    [kernel] = run(recorded_h100, ScriptedGpu([(5.0, 2.0)] * 3, environment=A100)).results
    assert kernel.outcome == "holds" and not kernel.speed_checked and kernel.speed is None
    assert any("speed not compared: recorded on other hardware" in note for note in kernel.notes)
    assert kernel.stored_as == "added"  # the A100 had no verification of this kernel


@pytest.mark.usefixtures("gpu_host")
def test_a_rejection_stops_the_repeats_and_is_recorded(recorded_h100: Store) -> None:
    gpu = ScriptedGpu([(1.0, 2.0), REJECTED, (1.0, 2.0)])
    [kernel] = run(recorded_h100, gpu).results
    assert gpu.verified == 2
    assert kernel.outcome == "regressed"
    assert kernel.reason == "no longer accepted: values: trial 1: 3 of 96 elements exceed atol"
    assert kernel.stored_as == "replaced"
    assert recorded_h100.best_kernels() == []  # no longer presented as accepted on the H100


def test_on_the_cpu_speed_is_never_compared(recorded_h100: Store) -> None:
    # Even a report that carried a timing is not used on the CPU path; one verification, small shapes.
    gpu = ScriptedGpu([(9.0, 1.0)] * 3, environment=CPU)
    result = run(recorded_h100, gpu, device="cpu")
    [kernel] = result.results
    assert result.exit_code == 0 and kernel.outcome == "holds" and kernel.speed is None
    assert gpu.verified == 1 and list(gpu.prepared[0].shapes) == ["small"]
    assert "speed not checked: CPU run" in " ".join(kernel.notes) and result.device == "cpu"
