"""Issue 24: 40 concurrent submissions with one token got 5 jobs accepted on PostgreSQL (limit 4).

The per-token limit is counted and the job inserted in one transaction (an advisory lock on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so concurrent submissions get exactly the limit: through
``service.jobs.submit_job`` from many threads at once (the server runs it on a pool of threads) and
over HTTP.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from kernels_store import open_store
from service.api.schemas import JobCreate
from service.jobs import submit_job
from service.refusals import Refused
from service.settings import Settings
from tests.service.conftest import LiveServer

LIMIT, SUBMISSIONS = 4, 40


def test_concurrent_submit_job_calls_get_exactly_the_limit(db_url: str) -> None:
    settings = Settings(database_url=db_url, max_active_jobs_per_owner=LIMIT)
    stores = [open_store(db_url) for _ in range(8)]
    start = threading.Barrier(SUBMISSIONS)

    def submit(index: int) -> int:
        start.wait()
        try:
            body = JobCreate(task_id="spmm.csr")
            submit_job(stores[index % len(stores)], settings, body, device="cpu", owner="one")
        except Refused as e:
            return e.status_code
        return 202

    try:
        with ThreadPoolExecutor(max_workers=SUBMISSIONS) as pool:
            codes = list(pool.map(submit, range(SUBMISSIONS)))
        assert codes.count(202) == LIMIT and set(codes) == {202, 429}, codes
        assert stores[0].list_jobs(status=["queued", "running"], limit=100).total == LIMIT
    finally:
        for store in stores:
            store.close()


def test_concurrent_http_submissions_get_exactly_the_limit(make_server, db_url: str) -> None:
    server: LiveServer = make_server(database_url=db_url, max_active_jobs_per_owner=LIMIT, api_tokens=frozenset({"t"}))
    start = threading.Barrier(SUBMISSIONS)

    def submit(_: int) -> int:
        with server.client("t", timeout=120) as c:
            start.wait()
            return c.post("/v1/jobs", json={"task_id": "spmm.csr"}).status_code

    with ThreadPoolExecutor(max_workers=SUBMISSIONS) as pool:
        codes = list(pool.map(submit, range(SUBMISSIONS)))
    assert codes.count(202) == LIMIT, codes
    assert set(codes) <= {202, 429, 503}, codes  # 503: the parse pool was full; never a fifth job
    assert server.store.list_jobs(status=["queued", "running"], limit=100).total == LIMIT
