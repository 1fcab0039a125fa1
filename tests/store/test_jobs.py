"""The job queue: claim order, leases and reclaiming, progress, cancel, finish, owner tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kernels_store import LeaseLostError, NotFoundError, Store, hash_token
from tests.store.conftest import FakeClock
from tests.store.factories import REFERENCE


def test_create_and_claim_oldest_first(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    first = store.create_job(task_id="t1", params={"language": "triton"}, budget=8)
    second = store.create_job(kind="verify")
    assert (first.status, first.budget, first.params, first.attempts) == ("queued", 8, {"language": "triton"}, 0)

    claimed = store.claim_next_job("w1", lease_s=30)
    assert claimed.id == first.id
    assert (claimed.status, claimed.worker_id, claimed.attempts) == ("running", "w1", 1)
    assert claimed.started_at is not None and claimed.lease_expires_at > claimed.started_at
    assert store.claim_next_job("w2", kinds=["generate"]) is None  # only a "verify" job is left
    assert store.claim_next_job("w2", kinds=["verify"]).id == second.id
    assert store.claim_next_job("w3") is None
    with pytest.raises(NotFoundError):
        store.create_job(task_id="missing")


def test_expired_lease_is_reclaimed_and_the_old_worker_is_fenced_off(store: Store, clock: FakeClock) -> None:
    job = store.create_job()
    store.claim_next_job("w1", lease_s=10)
    clock.advance(5)
    store.heartbeat(job.id, "w1", lease_s=10)  # renewed: not claimable 9 s later
    clock.advance(9)
    assert store.claim_next_job("w2") is None

    clock.advance(2)  # w1 died: its lease ran out
    reclaimed = store.claim_next_job("w2", lease_s=10)
    assert reclaimed.id == job.id and reclaimed.worker_id == "w2" and reclaimed.attempts == 2
    assert reclaimed.started_at == store.get_job(job.id).started_at
    for stale_call in (
        lambda: store.heartbeat(job.id, "w1"),
        lambda: store.update_progress(job.id, "w1", {"done": 1}),
        lambda: store.finish_job(job.id, "w1", "succeeded"),
    ):
        with pytest.raises(LeaseLostError):
            stale_call()
    done = store.finish_job(job.id, "w2", "succeeded", result={"best_candidate_id": 7})
    assert (done.status, done.result, done.lease_expires_at) == ("succeeded", {"best_candidate_id": 7}, None)
    assert done.finished_at is not None
    with pytest.raises(LeaseLostError):
        store.heartbeat(job.id, "w2")


def test_a_job_that_keeps_losing_workers_fails_after_max_attempts(store: Store, clock: FakeClock) -> None:
    job = store.create_job()
    for worker in ("w1", "w2"):
        assert store.claim_next_job(worker, lease_s=1, max_attempts=2).id == job.id
        clock.advance(2)
    assert store.claim_next_job("w3", max_attempts=2) is None
    failed = store.get_job(job.id)
    assert failed.status == "failed" and "worker lost 2 times" in failed.error


def test_progress_and_cancel(store: Store, clock: FakeClock) -> None:
    queued = store.create_job()
    running = store.create_job()
    cancelled = store.request_cancel(queued.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None

    claimed = store.claim_next_job("w1", lease_s=10)
    assert claimed.id == running.id  # the cancelled job is never handed out
    progressed = store.update_progress(running.id, "w1", {"done": 2, "total": 8}, lease_s=60)
    assert progressed.progress == {"done": 2, "total": 8}
    assert progressed.lease_expires_at > claimed.lease_expires_at

    asked = store.request_cancel(running.id)
    assert asked.status == "running" and asked.cancel_requested
    assert store.heartbeat(running.id, "w1").cancel_requested  # the worker learns it at its next beat
    stopped = store.finish_job(running.id, "w1", "cancelled")
    assert stopped.status == "cancelled"
    assert store.request_cancel(running.id).status == "cancelled"  # finished jobs stay as they are
    with pytest.raises(ValueError):
        store.finish_job(running.id, "w1", "running")
    with pytest.raises(NotFoundError):
        store.request_cancel("0" * 32)


def test_a_dead_workers_job_with_a_cancel_request_ends_cancelled(store: Store, clock: FakeClock) -> None:
    job = store.create_job()
    store.claim_next_job("w1", lease_s=1)
    store.request_cancel(job.id)
    clock.advance(5)
    assert store.claim_next_job("w2") is None
    assert store.get_job(job.id).status == "cancelled"


def test_owner_token_is_stored_hashed(store: Store) -> None:
    mine = store.create_job(owner_token="secret-token-1")
    store.create_job(owner_token="secret-token-2")
    store.create_job()
    assert mine.owned_by("secret-token-1") and not mine.owned_by("secret-token-2") and not mine.owned_by(None)
    assert "owner_token_hash" not in mine.to_dict() and "secret" not in repr(mine)
    with store.read() as s:
        stored = s.execute(text("SELECT owner_token_hash FROM jobs WHERE id = :id"), {"id": mine.id}).scalar_one()
        dump = " ".join(str(v) for row in s.execute(text("SELECT * FROM jobs")) for v in row)
    assert stored == hash_token("secret-token-1")
    assert "secret-token" not in dump

    listed = store.list_jobs(owner_token="secret-token-1")
    assert [j.id for j in listed.items] == [mine.id]


def test_list_jobs_newest_first_with_filters(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    ids = [store.create_job(task_id="t1" if n % 2 else None).id for n in range(5)]
    store.claim_next_job("w1")
    page = store.list_jobs(limit=2)
    assert page.total == 5 and [j.id for j in page.items] == ids[::-1][:2] and page.has_more
    assert [j.id for j in store.list_jobs(status="running").items] == [ids[0]]
    assert store.list_jobs(status=["queued", "running"]).total == 5
    assert store.list_jobs(task_id="t1").total == 2
    with pytest.raises(ValueError, match="unknown job status"):
        store.list_jobs(status="paused")


def test_released_job_is_queued_again_without_using_an_attempt(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    job = store.create_job(task_id="t1", budget=2)
    claimed = store.claim_next_job("w1")
    assert claimed is not None and claimed.attempts == 1
    released = store.release_job(job.id, "w1")
    assert released.status == "queued" and released.worker_id is None and released.attempts == 0
    again = store.claim_next_job("w2")
    assert again is not None and again.id == job.id and again.attempts == 1
    with pytest.raises(LeaseLostError):
        store.release_job(job.id, "w1")
