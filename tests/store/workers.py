"""What each concurrent writer does in the concurrency tests (module level: processes import it)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from kernels_store import open_store
from tests.store.factories import report

TASK_ID = "concurrent.task"


def wait(barrier: Any) -> None:
    if barrier is not None:
        barrier.wait(timeout=30)


def add_and_verify(
    url: str, sources: list[str], environment: dict[str, Any], seed: int, barrier: Any = None
) -> list[tuple[str, int, bool, int, bool]]:
    """Add every source as a candidate and record its verification, in a shuffled order.

    Returns (source sha256, candidate id, candidate created, verification id, verification created).
    """
    store = open_store(url, auto_upgrade=False)
    order = list(sources)
    random.Random(seed).shuffle(order)
    out = []
    try:
        wait(barrier)
        for source in order:
            added = store.add_candidate(TASK_ID, source, language="triton", origin="llm", origin_detail=f"w{seed}")
            recorded = store.record_verification(added.candidate.id, report(source, environment=environment))
            out.append(
                (
                    added.candidate.source_sha256,
                    added.candidate.id,
                    added.created,
                    recorded.verification.id,
                    recorded.created,
                )
            )
    finally:
        store.close()
    return out


def claim_all(url: str, worker_id: str, barrier: Any = None, holding: Any = None) -> list[str]:
    """Claim jobs until none is left; the ids claimed.

    With ``holding`` (a barrier), each worker waits on it right after its first claim, so every worker
    holds a lease at the same moment: the claims then really do interleave, whatever the scheduler does.
    """
    store = open_store(url, auto_upgrade=False)
    claimed = []
    try:
        wait(barrier)
        while (job := store.claim_next_job(worker_id, lease_s=600)) is not None:
            assert job.worker_id == worker_id
            claimed.append(job.id)
            if len(claimed) == 1:
                wait(holding)
    finally:
        store.close()
    return claimed


def run_reporting(queue: Any, index: int, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Process entry point: run ``function(*args)`` and put ``(index, result, error)`` on ``queue``."""
    try:
        queue.put((index, function(*args), None))
    except BaseException as e:
        queue.put((index, None, f"{type(e).__name__}: {e}"))


def open_and_add_task(url: str, task_id: str, barrier: Any = None) -> str | None:
    """Open (and so maybe migrate) the store, then write to it; the revision the store found or made."""
    wait(barrier)
    store = open_store(url)
    try:
        store.put_task(task_id, "reference")
        return None if store.migration is None else store.migration.after
    finally:
        store.close()
