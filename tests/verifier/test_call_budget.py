"""The parent's memory for a prepared reference is bounded: fewer calls kept when calls are large
(issue 23: KernelBench's as-written sizes reach 12.9 GB a call)."""

from __future__ import annotations

import pytest
import torch

from tests.executors.trivial import CANDIDATE, REFERENCE
from verifier import Candidate, Reference, VerifyOptions, prepare, verify
from verifier.reference_run import InputSet, ReferenceTrial, within_budget
from verifier.worker.call_budget import CallBudget, value_bytes

MB = 1 << 20


class _Sink:
    def __init__(self) -> None:
        self.frames: list[tuple[str, dict | None]] = []

    def send(self, kind: str, fields: dict | None = None, values: object = None) -> None:
        self.frames.append((kind, fields))


def test_the_budget_counts_what_is_sent_and_keeps_the_first_call() -> None:
    call = {"inputs": [torch.zeros(MB // 4)], "outputs": torch.zeros(MB // 4)}  # 2 MiB a call
    assert value_bytes(call) == 2 * MB and value_bytes({"n": 3, "s": "text"}) == 0
    budget, sink = CallBudget(5 * MB), _Sink()
    reporter = budget.wrap(sink)
    assert budget.fits()  # nothing kept yet: the first call always is
    reporter.send("trial", {"index": 0}, {"init": [], "state": {"w": torch.zeros(MB // 8)}})  # 0.5 MiB
    reporter.send("call", {"index": 0, "call": 0}, call)
    assert budget.fits()  # 2.5 + 2 <= 5
    reporter.send("call", {"index": 0, "call": 1}, call)
    assert not budget.fits() and budget.refused  # 4.5 + 2 > 5
    reporter.send("done")
    kinds = [k for k, _ in sink.frames]
    assert kinds == ["trial", "call", "call", "budget", "done"]  # said once, before done
    said = sink.frames[3][1]
    assert said == {"limit_bytes": 5 * MB, "kept_bytes": 4.5 * MB, "largest_call_bytes": 2 * MB, "calls_kept": 2}
    assert CallBudget(None).fits() and not CallBudget(None).refused


def _trial(index: int, calls: int, planned: int) -> ReferenceTrial:
    sets = [InputSet([torch.ones(2)], torch.ones(2)) for _ in range(calls)]
    return ReferenceTrial(index, 1, list(range(planned)), "", [], {}, sets)


def test_within_budget_cuts_seeds_drops_empty_trials_and_times_on_the_first_call() -> None:
    trials, sets = within_budget([_trial(0, 2, 4), _trial(1, 0, 4)], [], measure=True)
    assert [len(t.calls) for t in trials] == [2] and trials[0].input_seeds == [0, 1]
    assert sets == [trials[0].calls[0]]  # the same object: no extra memory
    assert within_budget([_trial(0, 1, 3)], [], measure=False)[1] == []


@pytest.mark.slow
def test_a_reference_over_the_budget_is_verified_on_the_calls_that_fit() -> None:
    big = REFERENCE.replace("N = 1024", "N = 1 << 18")  # 1 MiB inputs and 1 MiB outputs a call
    options = VerifyOptions(device="cpu", trials=3, calls_per_trial=3, memory_budget_mb=5, timeout_s=120)
    prepared = prepare(Reference(source=big), options)
    assert [len(t.calls) for t in prepared.trials] == [2]
    budget = prepared.environment["memory_budget"]
    assert budget["calls_kept"] == 2 and budget["limit_bytes"] == 5 * MB and budget["trials_kept"] == 1
    report = verify(prepared, Candidate(source=CANDIDATE), options)
    assert report.verdict == "accepted", report.reasons
    assert report.environment["memory_budget"]["calls_kept"] == 2
    unbounded = prepare(Reference(source=big), VerifyOptions(device="cpu", trials=3, calls_per_trial=3))
    assert [len(t.calls) for t in unbounded.trials] == [3, 3, 3] and "memory_budget" not in unbounded.environment
