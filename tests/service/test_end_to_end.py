"""The main job end to end, through a real uvicorn on loopback with the embedded job runner.

Submit a built-in large-kernel convolution task over HTTP, follow its server-sent events, fetch the
kernel, and verify it again here, independently of the service, with the verifier's public API. Then
the same job's life across restarts: queued jobs wait in the store for the next server, a job
interrupted by a clean shutdown goes back to the queue, and a job whose worker died is taken over
when its lease runs out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kernels_store import open_store
from service.persistence import resolve_task
from tests.service.conftest import wait_for_status
from verifier import VerifyOptions, verify

pytestmark = pytest.mark.slow

TASK = "dwconv2d.convnext_7x7"
JOB = {"task_id": TASK, "proposer": "template", "language": "triton", "budget": 2}


def sse_events(client: httpx.Client, path: str, timeout_s: float = 300.0) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event type, data) pairs of a server-sent event stream, parsed here rather than by service code."""
    with client.stream("GET", path, timeout=httpx.Timeout(10.0, read=timeout_s)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        event, data = "message", []
        for line in response.iter_lines():
            if line.startswith(":"):
                continue  # keep-alive comment
            if not line:
                if data:
                    yield event, json.loads("\n".join(data))
                event, data = "message", []
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)


def test_submit_stream_fetch_and_verify_independently(make_server) -> None:
    server = make_server(workers=1, device="cpu")
    with server.client() as client:
        created = client.post("/v1/jobs", json=JOB)
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]

        events = list(sse_events(client, f"/v1/jobs/{job_id}/events"))
        types = [t for t, _ in events]
        assert types[0] == "status"
        assert "started" in types and "verified" in types and "best" in types, types
        assert types[-1] == "finished" and types.count("finished") == 1, types
        verified = [d for t, d in events if t == "verified"]
        assert all("source" not in d for d in verified)  # events carry ids and verdicts, not sources
        finished = events[-1][1]
        assert finished["status"] == "succeeded", finished

        # the job record agrees with the stream the moment the stream ends
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "succeeded"
        assert job["result"]["accepted"] >= 1
        assert job["best"]["report"]["verdict"] == "accepted"

        best = client.get(f"/v1/tasks/{TASK}/best").json()
        assert len(best) == 1
        kernel = best[0]
        assert kernel["source"] == job["best"]["source"]
        assert "@triton.jit" in kernel["source"]
        reference = client.get(f"/v1/tasks/{TASK}").json()["source"]

        board = client.get("/v1/leaderboard").json()
        assert TASK in json.dumps(board)

    # an independent check of what the service handed out: the public verifier API, in this process
    report = verify(reference, kernel["source"], VerifyOptions(device="cpu", trials=2))
    assert report.verdict == "accepted", report.reasons
    broken = kernel["source"].replace("acc += tl.load(b0_ptr + c)", "acc -= tl.load(b0_ptr + c)")
    assert broken != kernel["source"]  # the template's bias line, so the mutation below bites
    assert verify(reference, broken, VerifyOptions(device="cpu", trials=1)).verdict == "rejected"


def test_a_queued_job_waits_for_the_next_server(make_server, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/shared.sqlite"
    api_only = make_server(database_url=url, workers=0)
    with api_only.client() as client:
        job_id = client.post("/v1/jobs", json=JOB).json()["id"]
        time.sleep(1.0)
        assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"  # nobody runs jobs here

    with make_server(database_url=url, workers=1, device="cpu").client() as client:
        job = wait_for_status(client, job_id, {"succeeded", "failed"})
    assert job["status"] == "succeeded", job


def test_a_job_interrupted_by_shutdown_is_requeued_and_finished_by_the_next_server(make_server, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/shared.sqlite"
    first = make_server(database_url=url, workers=1, device="cpu")
    with first.client() as client:
        job_id = client.post("/v1/jobs", json=JOB).json()["id"]
        wait_for_status(client, job_id, {"running"}, timeout_s=60)
    first.stop()  # the lifespan stops the runner: the running job is cancelled and handed back
    stored = open_store(url)
    try:
        job = stored.get_job(job_id)
        assert job is not None
        assert job.status == "queued", job
        assert job.worker_id is None
    finally:
        stored.close()

    with make_server(database_url=url, workers=1, device="cpu").client() as client:
        job = wait_for_status(client, job_id, {"succeeded", "failed"})
    assert job["status"] == "succeeded", job


def test_a_job_whose_worker_died_is_taken_over_after_its_lease(make_server, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/shared.sqlite"
    store = open_store(url)
    try:
        resolve_task(store, task_id=TASK, reference_source=None, device="cpu")  # what POST /v1/jobs does first
        job = store.create_job(
            kind="generate", task_id=TASK, params={"language": "triton", "proposer": "template"}, budget=2
        )
        claimed = store.claim_next_job("crashed-host:1:0", lease_s=1, kinds=["generate"])
        assert claimed is not None and claimed.id == job.id and claimed.status == "running"
    finally:
        store.close()
    time.sleep(1.5)  # the dead worker's lease runs out; nobody released the job

    with make_server(database_url=url, workers=1, device="cpu").client() as client:
        done = wait_for_status(client, job.id, {"succeeded", "failed"})
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2  # the crashed attempt counts: a job that kills its workers cannot loop forever
