"""Parallel writers (threads, and processes) neither lose nor duplicate results, on both databases."""

from __future__ import annotations

import multiprocessing
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from kernels_store import Environment, make_engine, open_store
from kernels_store.migrate import current_revision, head_revision, schema_diff
from tests.store import workers
from tests.store.factories import A100, H100, REFERENCE, kernel

SOURCES = [kernel(n, "c") for n in range(12)]
N_JOBS = 30


def _check_add_and_verify(results: list[list[tuple[str, int, bool, int, bool]]], environments: list[dict]) -> None:
    candidate_ids: dict[str, set[int]] = defaultdict(set)
    candidate_created: dict[str, int] = defaultdict(int)
    verification_ids: dict[tuple[str, str], set[int]] = defaultdict(set)
    verification_created: dict[tuple[str, str], int] = defaultdict(int)
    for worker_results, env in zip(results, environments, strict=True):
        assert len(worker_results) == len(SOURCES)
        env_key = Environment.from_mapping(env).key
        for sha, cand_id, cand_new, ver_id, ver_new in worker_results:
            candidate_ids[sha].add(cand_id)
            candidate_created[sha] += cand_new
            verification_ids[(sha, env_key)].add(ver_id)
            verification_created[(sha, env_key)] += ver_new
    # Every writer got the same row back for the same content, and exactly one of them created it.
    assert len(candidate_ids) == len(SOURCES)
    assert all(len(ids) == 1 for ids in candidate_ids.values())
    assert set(candidate_created.values()) == {1}
    assert len(verification_ids) == len(SOURCES) * len({Environment.from_mapping(e).key for e in environments})
    assert all(len(ids) == 1 for ids in verification_ids.values())
    assert set(verification_created.values()) == {1}


def _check_store(url: str, n_environments: int) -> None:
    store = open_store(url)
    stats = store.stats()
    assert (stats.candidates, stats.verifications) == (len(SOURCES), len(SOURCES) * n_environments)
    store.close()


def _check_claims(url: str, job_ids: list[str], claims: dict[str, list[str]]) -> None:
    claimed = [job_id for ids in claims.values() for job_id in ids]
    assert sorted(claimed) == sorted(job_ids)  # every job claimed, none twice
    store = open_store(url)
    for worker_id, ids in claims.items():
        for job_id in ids:
            job = store.get_job(job_id)
            assert (job.status, job.worker_id, job.attempts) == ("running", worker_id, 1)
    store.close()


def _prepare(url: str) -> list[str]:
    store = open_store(url)
    store.put_task(workers.TASK_ID, REFERENCE)
    job_ids = [store.create_job(params={"n": n}).id for n in range(N_JOBS)]
    store.close()
    return job_ids


def test_parallel_threads(db_url: str) -> None:
    job_ids = _prepare(db_url)
    environments = [H100, H100, H100, A100, A100, A100]
    barrier = threading.Barrier(len(environments))
    with ThreadPoolExecutor(len(environments)) as pool:
        futures = [
            pool.submit(workers.add_and_verify, db_url, SOURCES, env, seed, barrier)
            for seed, env in enumerate(environments)
        ]
        results = [f.result() for f in futures]
    _check_add_and_verify(results, environments)
    _check_store(db_url, n_environments=2)

    names = [f"thread-{n}" for n in range(6)]
    barrier, holding = threading.Barrier(len(names)), threading.Barrier(len(names))
    with ThreadPoolExecutor(len(names)) as pool:
        claimed = pool.map(lambda name: workers.claim_all(db_url, name, barrier, holding), names)
        claims = dict(zip(names, claimed, strict=True))
    _check_claims(db_url, job_ids, claims)
    # every worker held a lease while the others claimed theirs (the `holding` barrier): none went without
    assert all(claims.values()), claims


def _in_processes(function: Callable[..., Any], arg_lists: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``function(*args, barrier)`` in one forked process per argument tuple; their results in order."""
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(len(arg_lists)), context.Queue()
    processes = [
        context.Process(target=workers.run_reporting, args=(queue, i, function, (*args, barrier)))
        for i, args in enumerate(arg_lists)
    ]
    for process in processes:
        process.start()
    try:
        reports = [queue.get(timeout=90) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
    errors = [error for _, _, error in reports if error]
    assert not errors, errors
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return [result for _, result, _ in sorted(reports, key=lambda r: r[0])]


@pytest.mark.timeout(180)
def test_parallel_processes(db_url: str) -> None:
    job_ids = _prepare(db_url)
    n = 3
    results = _in_processes(workers.add_and_verify, [(db_url, SOURCES, H100, seed) for seed in range(n)])
    _check_add_and_verify(results, [H100] * n)
    _check_store(db_url, n_environments=1)

    names = [f"process-{k}" for k in range(n)]
    claimed = _in_processes(workers.claim_all, [(db_url, name) for name in names])
    _check_claims(db_url, job_ids, dict(zip(names, claimed, strict=True)))


def test_processes_opening_a_fresh_sqlite_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    _in_processes(workers.open_and_add_task, [(url, f"task.{n}") for n in range(4)])
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision() and schema_diff(engine) == []
    finally:
        engine.dispose()
    assert open_store(url).stats().tasks == 4


def test_the_active_job_limit_holds_under_concurrent_creation(db_url: str) -> None:
    """Issue 24: 40 concurrent submissions with one token got 5 jobs on PostgreSQL (limit 4). The count
    and the insert are now one step; each thread has its own store (its own connections)."""
    from kernels_store import ActiveJobLimitError

    limit, attempts = 4, 40
    stores = [open_store(db_url) for _ in range(8)]
    stores[0].put_task("ew.limit", REFERENCE)
    start = threading.Barrier(attempts)

    def submit(index: int) -> bool:
        start.wait()
        try:
            stores[index % len(stores)].create_job(task_id="ew.limit", budget=1, owner_token="one", max_active=limit)
        except ActiveJobLimitError:
            return False
        return True

    try:
        with ThreadPoolExecutor(max_workers=attempts) as pool:
            created = sum(pool.map(submit, range(attempts)))
        assert created == limit
        assert stores[0].list_jobs(owner_token="one", limit=100).total == limit
        other = stores[0].create_job(task_id="ew.limit", budget=1, owner_token="two", max_active=limit)
        assert other.status == "queued"  # the limit is per owner
    finally:
        for store in stores:
            store.close()
