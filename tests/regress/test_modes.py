"""``kiln regress`` re-verifies each best kernel in the mode it was verified in: a training kernel as a
training step, a forward kernel as a forward, each against its own mode's record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kernels_store import Store
from service.regress import RegressOptions, Selection, run_regress, select_targets
from tests.regress.conftest import KERNEL_SOURCE, REFERENCE_SOURCE
from tests.store.factories import CPU, report
from verifier import Candidate, Reference, Report, VerifyOptions

TASK = "dwconv2d.corpus_3x3"
SHAPES = [{"name": "small", "tier": "small", "params": {"batch_size": 1, "channels": 4, "height": 8, "width": 8}}]


class ModeRecorder:
    """Stands in for the verifier (no kernel runs): notes the mode of every call; the backward step is
    rejected, so a run that verified the training kernel as a forward would wrongly say it holds."""

    def __init__(self) -> None:
        self.prepared: list[str] = []
        self.verified: list[str] = []

    def prepare(self, reference: Reference, options: VerifyOptions, progress: Callable[[str], None] | None) -> Any:
        self.prepared.append(options.mode)
        return reference

    def verify(self, prepared: Any, candidate: Candidate, options: VerifyOptions, progress: Any) -> Report:
        self.verified.append(options.mode)
        rejected = options.mode == "backward"
        return Report(
            verdict="rejected" if rejected else "accepted",
            reasons=["values: gradient of parameter `weight`: 3 of 36 elements exceed atol"] if rejected else [],
            mode=options.mode,
            device="cpu",
            environment=dict(CPU),
            shapes=sorted(prepared.shapes),
            reference_sha256=prepared.sha256,
            candidate_sha256=candidate.sha256,
        )


def test_each_kernel_is_re_verified_in_its_own_mode(store: Store) -> None:
    store.put_task(TASK, REFERENCE_SOURCE, family="dwconv2d", shapes=SHAPES)
    cand = store.add_candidate(TASK, KERNEL_SOURCE, language="triton", origin="template").candidate
    forward = report(KERNEL_SOURCE, reference_source=REFERENCE_SOURCE, environment=CPU)
    store.record_verification(cand.id, forward)
    store.record_verification(cand.id, {**forward, "mode": "backward"})

    targets = select_targets(store, Selection())
    assert [t.best.mode for t in targets] == ["forward", "backward"]  # one target per mode
    verifier = ModeRecorder()
    result = run_regress(store, targets, RegressOptions(device="cpu"), verifier=verifier)
    assert verifier.verified == ["forward", "backward"]
    assert verifier.prepared == ["forward", "backward"]  # a reference prepared for one mode serves only it
    by_mode = {r.mode: r for r in result.results}
    assert by_mode["forward"].outcome == "holds"
    assert by_mode["backward"].outcome == "regressed" and "gradient of parameter `weight`" in by_mode["backward"].reason
    assert by_mode["backward"].to_dict()["mode"] == "backward" and "backward" in by_mode["backward"].kernel_label
    # the rejection replaced the backward record only: the forward verdict still stands
    found = store.find_verification(cand.id, CPU, reference_sha256=forward["reference_sha256"], mode="backward")
    assert found is not None and found.verdict == "rejected"
    assert store.find_verification(cand.id, CPU, reference_sha256=forward["reference_sha256"]).verdict == "accepted"
    assert store.best_kernels(task_id=TASK, mode="backward") == []
    assert [b.candidate.id for b in store.best_kernels(task_id=TASK)] == [cand.id]
