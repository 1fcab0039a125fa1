"""The HTTP API through a real uvicorn on loopback: validation, limits, auth, tasks, jobs, events."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

import tasks
from service.client import parse_sse
from tests.service.conftest import LiveServer

REFERENCE = (
    "import torch\nimport torch.nn as nn\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
    "        return torch.relu(x)\n\ndef get_inputs():\n    return [torch.randn(64)]\n\n"
    "def get_init_inputs():\n    return []\n"
)


def test_health_and_openapi(server: LiveServer) -> None:
    with server.client() as c:
        health = c.get("/healthz").json()
        assert health["status"] == "ok" and health["database"] == "ok"
        schema = c.get("/openapi.json").json()
    # the schema is what clients are generated from: each endpoint with its method, the bodies' fields
    methods = {path: set(ops) for path, ops in schema["paths"].items()}
    assert {p: m for p, m in methods.items() if "post" in m} == {
        "/v1/jobs": {"post"},
        "/v1/jobs/{job_id}/cancel": {"post"},
        "/v1/compilations": {"post"},
        "/v1/compilations/{job_id}/cancel": {"post"},
        "/v1/verify": {"post"},
    }
    reads = (
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/events",
        "/v1/compilations/{job_id}",
        "/v1/compilations/{job_id}/events",
    )
    for path in (*reads, "/v1/tasks/{task_id}/best", "/v1/leaderboard"):
        assert methods[path] == {"get"}, path
    bodies = schema["components"]["schemas"]
    assert {"task_id", "reference_source", "language", "proposer", "budget", "model"} <= set(
        bodies["JobCreate"]["properties"]
    )
    assert {"candidate_source", "task_id", "reference_source"} <= set(bodies["VerifyRequest"]["properties"])
    (hardware,) = [p for p in schema["paths"]["/v1/tasks/{task_id}"]["get"]["parameters"] if p["name"] == "hardware"]
    assert all(profile in hardware["description"] for profile in tasks.HARDWARE)  # the profiles there are


def test_tasks_endpoints(server: LiveServer) -> None:
    with server.client() as c:
        listed = c.get("/v1/tasks").json()
        assert {"dwconv2d.convnext_7x7", "spmm.csr", "fftconv.long_conv"} <= {t["id"] for t in listed}
        detail = c.get("/v1/tasks/dwconv2d.convnext_7x7").json()
        assert "class Model" in detail["source"] and detail["roofline"] and detail["tolerances"]
        assert all(f["floor_ms"] > 0 and f["hardware"] == "h100-sxm" for f in detail["roofline"])
        on_h200 = c.get("/v1/tasks/dwconv2d.convnext_7x7", params={"hardware": "h200"}).json()["roofline"]
        assert [f["hardware"] for f in on_h200] == ["h200"] * len(detail["roofline"])
        # memory-bound shapes: 4.8 TB/s against 3.35
        assert on_h200[0]["floor_ms"] == pytest.approx(detail["roofline"][0]["floor_ms"] * 3.35 / 4.8)
        unknown = c.get("/v1/tasks/dwconv2d.convnext_7x7", params={"hardware": "a100"})
        assert unknown.status_code == 422 and "h200-measured" in unknown.json()["detail"]
        missing = c.get("/v1/tasks/dwconv2d.convnext7x7")
        assert missing.status_code == 404 and "dwconv2d.convnext_7x7" in missing.json()["detail"]
        assert c.get("/v1/tasks/dwconv2d.convnext_7x7/best").json() == []


@pytest.mark.parametrize(
    "body, code, fragment",
    [
        ({}, 422, "exactly one of task_id and reference_source"),
        ({"task_id": "dwconv2d.convnext_7x7", "reference_source": REFERENCE}, 422, "exactly one"),
        ({"reference_source": "def broken(:\n"}, 422, "syntax error at line 1"),
        ({"reference_source": "import torch\nclass Model: pass\n"}, 422, "get_inputs"),
        ({"reference_source": "x = 1\n" * 60000}, 413, "KILN_MAX_SOURCE_BYTES"),
        ({"task_id": "nope.nothing"}, 404, "unknown task id"),
        ({"task_id": "dwconv2d.convnext_7x7", "budget": 10_000}, 422, "KILN_MAX_BUDGET"),
        ({"task_id": "dwconv2d.convnext_7x7", "budget": 0}, 422, "budget"),
        ({"task_id": "dwconv2d.convnext_7x7", "language": "fortran"}, 422, "language"),
        ({"task_id": "dwconv2d.convnext_7x7", "proposer": "llm"}, 422, "KILN_LLM_MODEL"),
        ({"task_id": "dwconv2d.convnext_7x7", "surprise": 1}, 422, "surprise"),
    ],
)
def test_job_requests_are_validated(
    server: LiveServer, body, code: int, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KILN_LLM_MODEL", raising=False)
    with server.client() as c:
        r = c.post("/v1/jobs", json=body)
    assert r.status_code == code, r.text
    assert fragment in r.text


def test_job_lifecycle_without_a_runner(server: LiveServer) -> None:
    with server.client() as c:
        created = c.post("/v1/jobs", json={"reference_source": REFERENCE, "budget": 2})
        assert created.status_code == 202
        job = created.json()
        assert job["status"] == "queued" and job["task_id"].startswith("user.")
        assert c.get(job["links"]["self"]).json()["id"] == job["id"]
        cancelled = c.post(job["links"]["cancel"]).json()
        assert cancelled["status"] == "cancelled"
        assert c.get("/v1/jobs/does-not-exist").status_code == 404
        with c.stream("GET", job["links"]["events"]) as stream:  # a finished job: status, then the end
            events = list(parse_sse(stream.iter_lines()))
    assert events[0].type == "status" and events[0].data["status"] == "cancelled"
    assert events[-1].type == "finished"


def test_events_stream_what_the_runner_publishes(server: LiveServer) -> None:
    hub = server.app.state.kiln.hub
    with server.client() as c:
        job = c.post("/v1/jobs", json={"task_id": "dwconv2d.convnext_7x7"}).json()

        def publish() -> None:
            hub.publish(job["id"], "verified", {"verdict": "rejected", "reasons": ["values: off"]})
            hub.publish(job["id"], "finished", {"status": "failed"})

        threading.Timer(0.5, publish).start()
        with c.stream("GET", job["links"]["events"], timeout=20) as stream:
            events = list(parse_sse(stream.iter_lines()))
    assert [e.type for e in events] == ["status", "verified", "finished"]
    assert events[1].data["reasons"] == ["values: off"] and events[1].id == "1"


def test_per_owner_limit(make_server) -> None:
    srv = make_server(max_active_jobs_per_owner=2)
    with srv.client() as c:
        for _ in range(2):
            assert c.post("/v1/jobs", json={"task_id": "spmm.csr"}).status_code == 202
        r = c.post("/v1/jobs", json={"task_id": "spmm.csr"})
    assert r.status_code == 429 and "KILN_MAX_ACTIVE_JOBS" in r.text and r.headers["retry-after"]


def test_writes_need_a_known_bearer_token_when_tokens_are_configured(make_server) -> None:
    srv = make_server(api_tokens=frozenset({"secret-1", "secret-2"}))
    body = {"task_id": "spmm.csr"}
    with (
        srv.client() as anonymous,
        srv.client("wrong") as wrong,
        srv.client("secret-1") as one,
        srv.client("secret-2") as two,
    ):
        assert anonymous.post("/v1/jobs", json=body).status_code == 401
        assert wrong.post("/v1/jobs", json=body).status_code == 401
        job = one.post("/v1/jobs", json=body).json()
        assert two.post(f"/v1/jobs/{job['id']}/cancel").status_code == 403
        assert one.post(f"/v1/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
        assert anonymous.get(f"/v1/jobs/{job['id']}").status_code == 200  # reads stay open


def test_writes_from_non_loopback_clients_are_refused_without_tokens(server: LiveServer) -> None:
    with TestClient(server.app) as c:  # TestClient's peer address is "testclient", not loopback
        r = c.post("/v1/jobs", json={"task_id": "spmm.csr"})
        assert r.status_code == 403 and "KILN_API_TOKENS" in r.text
        assert c.get("/v1/tasks").status_code == 200


def test_leaderboard_is_json(server: LiveServer) -> None:
    with server.client() as c:
        board = c.get("/v1/leaderboard").json()
    assert board["task_count"] == len(tasks.ids()) and board["tasks"] == [] and board["fast_p"] == []
