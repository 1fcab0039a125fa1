"""A job's mode reaches its verifications: a backward job's candidates are verified (and recorded) as
training kernels, and its best kernel is looked up among backward verdicts."""

from __future__ import annotations

from typing import Any

from kernels_store import Store
from service.persistence import resolve_task
from tests.service.test_runner import TASK, StubExecutor, _run_until_done, _runner, clock, store, stub_generator
from tests.store.factories import CPU, kernel, report
from verifier.report import Report

__all__ = ["clock", "store"]  # the fixtures, used by name


class ModeExecutor(StubExecutor):
    def __init__(self, verdicts: dict[str, str], task_source: str) -> None:
        super().__init__(verdicts, task_source)
        self.modes: list[str] = []

    def verify(self, prepared: Any, candidate: Any, options: Any) -> Report:
        self.modes.append(options.mode)
        data = report(candidate.source, reference_source=self.task_source, environment=CPU)
        return Report.from_dict({**data, "mode": options.mode})


def test_a_backward_job_verifies_and_records_training_kernels(store: Store) -> None:
    resolve_task(store, task_id=TASK, reference_source=None, device="cpu")
    job_id = store.create_job(
        kind="generate", task_id=TASK, params={"language": "triton", "proposer": "template", "mode": "backward"}
    ).id
    executor = ModeExecutor({kernel(1): "accepted"}, store.get_task(TASK).source)
    job = _run_until_done(_runner(store, executor, stub_generator([kernel(1)])), store, job_id)
    assert job.status == "succeeded", job
    assert executor.modes == ["backward"]
    cand = store.find_candidate(TASK, job.result["best_sha256"])
    assert [v.mode for v in store.list_verifications(candidate_id=cand.id).items] == ["backward"]
    assert store.best_kernels(task_id=TASK) == []  # not a forward kernel
    assert [b.candidate.id for b in store.best_kernels(task_id=TASK, mode="backward")] == [cand.id]
