"""``kiln serve --executor ray`` end to end: jobs verified on a local Ray cluster, and a job whose Ray
head went away goes back to the queue and finishes when the head is back, with no verdict written twice."""

from __future__ import annotations

import time

import pytest

from tests.executors.trivial import REFERENCE, variant
from tests.service.conftest import make_server, wait_for_status  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def _job(client, reference: str) -> str:
    created = client.post(
        "/v1/jobs", json={"reference_source": reference, "proposer": "template", "language": "triton", "budget": 2}
    )
    assert created.status_code == 202, created.text
    return created.json()["id"]


def test_serve_on_ray_and_survive_the_head_going_away(loopback_cluster, make_server) -> None:  # noqa: F811
    cluster = loopback_cluster()
    server = make_server(workers=1, device="cpu", executor="ray", ray_address=cluster.address, lease_seconds=30)
    with server.client() as client:
        first = _job(client, REFERENCE)
        job = wait_for_status(client, first, {"succeeded", "failed", "cancelled"}, timeout_s=300)
        assert job["status"] == "succeeded", job
        placement = job["best"]["report"]["placement"]
        assert placement["executor"] == "ray" and placement["node_id"] and placement["hostname"], placement
        where = job["result"]["executor"]
        assert where["name"] == "ray" and where["executor"] == "ray", where
        assert [n["node_id"] for n in where["nodes"]] == [placement["node_id"]]

        # POST /v1/verify goes to the cluster too
        answer = client.post("/v1/verify", json={"reference_source": REFERENCE, "candidate_source": variant(7)})
        assert answer.status_code == 200, answer.text
        assert answer.json()["verdict"] == "accepted"
        assert answer.json()["report"]["placement"]["executor"] == "ray"

        # a second job: the head dies while it runs, the job goes back to the queue, and resumes
        second = _job(client, REFERENCE.replace("x * 2.0 + 1.0", "x * 3.0 - 1.0"))
        wait_for_status(client, second, {"running"}, timeout_s=60)
        cluster.kill_head()
        requeued = wait_for_status(client, second, {"queued"}, timeout_s=120)
        assert requeued["status"] == "queued"
        time.sleep(3)  # the runner claims nothing while the executor is unavailable
        assert client.get(f"/v1/jobs/{second}").json()["status"] == "queued"

        cluster.restart_head()
        job = wait_for_status(client, second, {"succeeded", "failed", "cancelled"}, timeout_s=300)
        assert job["status"] == "succeeded", job
        assert job["result"]["executor"]["name"] == "ray"
        assert job["best"]["report"]["placement"]["executor"] == "ray"

    # every candidate of the job has one verification on this hardware: none lost, none written twice
    store = server.store
    candidates = store.list_candidates(job["result"]["task_id"], limit=100).items
    assert len(candidates) == job["result"]["candidates"] >= 1
    for cand in candidates:
        assert store.list_verifications(candidate_id=cand.id).total == 1
