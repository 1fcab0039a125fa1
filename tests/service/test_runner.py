"""The job runner's lease, requeue and recording logic, driven fast by a stub generator.

The stub stands where ``agents.generate`` stands: it drives a real ``agents.Session`` (dedupe, budget,
events, ranking) through the runner's own ``prepare_fn``/``verify_fn``, and the stub executor answers
each candidate with a prepared verdict. No sandbox, no template compiler: each test takes about a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agents.session import Session, Stop
from kernels_store import LeaseLostError, Store, open_store
from service.events import EventHub
from service.executors import ExecutorUnavailable
from service.persistence import resolve_task
from service.runner import JobRunner
from service.settings import Settings
from tests.store.conftest import FakeClock
from tests.store.factories import CPU, kernel, report
from verifier.report import Report

TASK = "general.softmax"
LEASE_S = 30


class StubExecutor:
    """Verifies nothing: each candidate source gets the verdict prepared for it."""

    name = "stub"

    def __init__(self, verdicts: dict[str, str], task_source: str) -> None:
        self.verdicts = verdicts
        self.task_source = task_source
        self.verified: list[str] = []
        self.up = True
        self.why = "the stub executor is down"

    def prepare(self, reference: Any, options: Any) -> Any:
        return SimpleNamespace(device="cpu", environment=CPU, reference=reference)

    def verify(self, prepared: Any, candidate: Any, options: Any) -> Report:
        self.verified.append(candidate.source)
        verdict = self.verdicts[candidate.source]
        return Report.from_dict(
            report(candidate.source, reference_source=self.task_source, verdict=verdict, environment=CPU)
        )

    def parallelism(self) -> int:
        return 1

    def available(self) -> bool:
        return self.up

    def unavailable_reason(self) -> str | None:
        return None if self.up else self.why

    def close(self) -> None:
        pass


def stub_generator(sources: list[str], during: Callable[[Session], None] | None = None) -> Any:
    """An ``agents.generate`` that submits ``sources`` in order (``during`` runs after the first)."""

    def generate(
        request: Any,
        *,
        on_event: Any,
        on_candidate: Any,
        cancel: Any,
        prepare_fn: Any,
        verify_fn: Any,
        parallelism: int,
    ) -> Any:
        session = Session(request, on_event, cancel, verify_fn, prepare_fn, parallelism, on_candidate)
        try:
            for n, source in enumerate(sources):
                session.submit(source, "template")
                if n == 0 and during is not None:
                    during(session)
        except Stop as stop:  # as agents.generate: the budget or a cancel ends the job
            return session.result(stop.reason)
        return session.result("exhausted")

    return generate


def until_cancelled(started: threading.Event) -> Callable[[Session], None]:
    """A ``during`` that says it has started, then holds the job until it is cancelled (a shutdown)."""

    def hold(session: Session) -> None:
        started.set()
        session.cancel.wait(30)

    return hold


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'kiln.sqlite'}", clock=clock)
    yield opened
    opened.close()


def _job(store: Store, budget: int = 8) -> str:
    resolve_task(store, task_id=TASK, reference_source=None, device="cpu")  # what POST /v1/jobs does first
    return store.create_job(
        kind="generate", task_id=TASK, params={"language": "triton", "proposer": "template"}, budget=budget
    ).id


def _runner(store: Store, executor: StubExecutor, generator: Any, hub: EventHub | None = None) -> JobRunner:
    settings = Settings(device="cpu", workers=1, lease_seconds=LEASE_S)
    return JobRunner(store, settings, hub or EventHub(), executor=executor, generator=generator)  # type: ignore[arg-type]


def _wait(store: Store, job_id: str, done: Callable[[Any], bool], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        if job is not None and done(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} is {store.get_job(job_id)}")


def _run_until_done(runner: JobRunner, store: Store, job_id: str) -> Any:
    """Start ``runner``, wait until the job has ended, stop it; the job then."""
    runner.start()
    try:
        return _wait(store, job_id, lambda j: j.status not in ("queued", "running"))
    finally:
        runner.stop()


def _events(hub: EventHub, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    events, _ = hub.since(job_id, 0, 0)
    return [(e.type, e.data) for e in events]


def test_each_candidate_is_recorded_once_and_the_job_finishes_with_its_best(store: Store) -> None:
    job_id = _job(store)
    rejected, first, second = kernel(1), kernel(2), kernel(3)
    executor = StubExecutor({rejected: "rejected", first: "accepted", second: "accepted"}, store.get_task(TASK).source)
    writes: list[int] = []
    record = store.record_verification

    def counted(candidate_id: int, *args: Any, **kwargs: Any) -> Any:
        writes.append(candidate_id)
        return record(candidate_id, *args, **kwargs)

    store.record_verification = counted  # type: ignore[method-assign]
    hub = EventHub()
    runner = _runner(store, executor, stub_generator([rejected, first, first, second]), hub)
    job = _run_until_done(runner, store, job_id)
    assert job.status == "succeeded", job
    assert executor.verified == [rejected, first, second]  # the duplicate is verified once
    assert len(writes) == len(set(writes)) == 3  # and each verdict is written once
    stored = {c.source: c for c in store.list_candidates(TASK).items}
    assert set(stored) == {rejected, first, second} and {c.job_id for c in stored.values()} == {job_id}
    assert job.result["best_candidate_id"] == stored[first].id  # untimed: the first accepted stays best
    assert (job.progress["verified"], job.progress["accepted"]) == (3, 2)

    events = _events(hub, job_id)
    types = [t for t, _ in events]
    assert types[0] == "started" and types[-1] == "finished" and types.count("verified") == 3
    verified = [d for t, d in events if t == "verified"]
    assert [d["candidate_id"] for d in verified] == [stored[s].id for s in (rejected, first, second)]
    assert all("source" not in d and "report" not in d and "candidate" not in d for t, d in events)


def test_a_clean_shutdown_hands_the_running_job_back_to_the_queue(store: Store) -> None:
    job_id = _job(store)
    source = kernel(1)
    executor = StubExecutor({source: "rejected"}, store.get_task(TASK).source)
    started = threading.Event()
    hub = EventHub()
    runner = _runner(store, executor, stub_generator([source, kernel(2)], during=until_cancelled(started)), hub)
    runner.start()
    assert started.wait(30)
    runner.stop()
    job = store.get_job(job_id)
    assert job is not None and job.status == "queued" and job.worker_id is None, job
    assert [t for t, _ in _events(hub, job_id)][-1] == "requeued"
    assert store.list_candidates(TASK).total == 1  # what was verified before the stop is kept


def test_an_unavailable_executor_requeues_the_job_and_nothing_is_claimed_until_it_is_back(store: Store) -> None:
    job_id = _job(store)
    source = kernel(1)
    executor = StubExecutor({source: "accepted"}, store.get_task(TASK).source)
    works = stub_generator([source])
    calls: list[int] = []

    def generate(request: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            executor.up = False
            raise ExecutorUnavailable("the Ray head is gone")
        return works(request, **kwargs)

    hub = EventHub()
    runner = _runner(store, executor, generate, hub)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while "requeued" not in [t for t, _ in _events(hub, job_id)] and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the worker polls: with the executor down the queued job stays queued
        job = store.get_job(job_id)
        assert job is not None and job.status == "queued" and job.worker_id is None and len(calls) == 1, job
        executor.up = True
        runner.notify()
        job = _wait(store, job_id, lambda j: j.status not in ("queued", "running"))
    finally:
        runner.stop()
    assert job.status == "succeeded" and len(calls) == 2, job
    assert ("requeued", {"reason": "executor unavailable: the Ray head is gone"}) in _events(hub, job_id)


def test_queued_jobs_are_told_once_why_they_wait_and_the_runner_says_it(store: Store) -> None:
    """While the executor cannot verify, each queued job gets one ``waiting`` event per reason (the
    reason the executor gives), ``runner.waiting`` holds it, and the jobs run once it can verify."""
    first, second = _job(store), _job(store)
    source = kernel(1)
    executor = StubExecutor({source: "accepted"}, store.get_task(TASK).source)
    executor.up, executor.why = False, "cannot reach the Ray cluster: nothing answers at 10.0.0.9:6379"
    hub = EventHub()
    runner = _runner(store, executor, stub_generator([source]), hub)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while not all(_events(hub, j) for j in (first, second)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.waiting == executor.why
        for _ in range(3):  # the runner checks again at every poll: a reason is said once per job
            runner.notify()
            time.sleep(0.1)
        executor.why = "no node of the Ray cluster offers a GPU or the kiln_verify resource"
        deadline = time.monotonic() + 30
        while len(_events(hub, second)) < 2 and time.monotonic() < deadline:
            runner.notify()
            time.sleep(0.05)
        for job_id in (first, second):
            assert store.get_job(job_id).status == "queued"
            assert _events(hub, job_id) == [
                (
                    "waiting",
                    {"reason": "cannot reach the Ray cluster: nothing answers at 10.0.0.9:6379", "executor": "stub"},
                ),
                ("waiting", {"reason": executor.why, "executor": "stub"}),
            ]
        assert not hub.knows(first), "a waiting event alone does not make the job this process's"
        executor.up = True
        runner.notify()
        for job_id in (first, second):
            assert _wait(store, job_id, lambda j: j.status not in ("queued", "running")).status == "succeeded"
        assert runner.waiting is None
    finally:
        runner.stop()


def test_a_worker_whose_lease_was_taken_over_stops_without_finishing_the_job(store: Store, clock: FakeClock) -> None:
    job_id = _job(store)
    first, second = kernel(1), kernel(2)
    executor = StubExecutor({first: "accepted", second: "accepted"}, store.get_task(TASK).source)

    def lease_runs_out(session: Session) -> None:
        clock.advance(LEASE_S + 1)  # this worker looks dead: another one takes the job over
        assert store.claim_next_job("other-host:1:0", lease_s=LEASE_S, kinds=["generate"]) is not None

    hub = EventHub()
    runner = _runner(store, executor, stub_generator([first, second], during=lease_runs_out), hub)
    runner.start()
    try:
        job = _wait(store, job_id, lambda j: j.worker_id == "other-host:1:0")
        time.sleep(0.5)
    finally:
        runner.stop()
    job = store.get_job(job_id)
    assert job is not None and job.status == "running" and job.worker_id == "other-host:1:0", job
    assert job.attempts == 2
    assert "finished" not in [t for t, _ in _events(hub, job_id)]  # the job is the other worker's to finish
    with pytest.raises(LeaseLostError):
        store.heartbeat(job_id, f"{runner.worker_prefix}:0", lease_s=LEASE_S)


def test_a_requeued_job_resumes_with_the_verdicts_it_had_stored(store: Store) -> None:
    job_id = _job(store)
    first, second = kernel(1), kernel(2)
    executor = StubExecutor({first: "rejected", second: "accepted"}, store.get_task(TASK).source)
    started = threading.Event()
    runner = _runner(store, executor, stub_generator([first, second], during=until_cancelled(started)))
    runner.start()
    assert started.wait(30)
    runner.stop()  # back to the queue after the first verdict was stored
    assert executor.verified == [first]

    runner = _runner(store, executor, stub_generator([first, second]))
    job = _run_until_done(runner, store, job_id)
    assert job.status == "succeeded", job
    assert executor.verified == [first, second]  # the stored verdict of the first is re-used, not verified again
    assert store.list_candidates(TASK).total == 2
