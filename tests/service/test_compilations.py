"""``POST /v1/compilations``: a whole model compiled as a job, through a real uvicorn on loopback.

A two-layer MLP compiles end to end (its groups generated and verified, one event per group on the
job's stream, the per-group report as ``kiln compile --json`` prints it); bad input is a clear 4xx before
anything is stored; the capture of a submitted model runs sandboxed.
"""

from __future__ import annotations

import json

import pytest

from service.compile.children import ChildError, run_child
from tests.compile.packs import MODELS
from tests.service.conftest import wait_for_status
from tests.service.test_end_to_end import sse_events

MLP = (MODELS / "mlp_relu.py").read_text()


def test_bad_input_is_a_clear_4xx(make_server) -> None:
    server = make_server(max_budget=8, max_source_bytes=4096)
    with server.client() as client:

        def refused(body, want: int, words: str) -> None:
            r = (
                client.post("/v1/compilations", json=body)
                if not isinstance(body, bytes)
                else client.post("/v1/compilations", content=body, headers={"Content-Type": "application/json"})
            )
            assert r.status_code == want, (body if not isinstance(body, bytes) else body[:80], r.text)
            assert words in r.text, r.text

        refused({}, 422, "model_source")
        refused({"model_source": MLP, "extra": 1}, 422, "extra")
        refused({"model_source": "import torch\nx = 1\n"}, 422, "model_source is not in KernelBench format")
        refused({"model_source": MLP + "\ndef broken(:\n"}, 422, "syntax error at line")
        refused({"model_source": MLP + "#" * 5000}, 413, "KILN_MAX_SOURCE_BYTES")
        refused(b'{"model_source": "' + b"x" * 100_000 + b'"}', 413, "KILN_MAX_BODY_BYTES")
        refused({"model_source": MLP, "budget": 9}, 422, "KILN_MAX_BUDGET")
        refused({"model_source": MLP, "budget": 0}, 422, "budget")
        refused({"model_source": MLP, "tier": "huge"}, 422, "tier")
        refused({"model_source": MLP, "name": "../etc"}, 422, "name")
        refused({"model_source": MLP, "shapes": {"nothing_here": 2}}, 422, "no top-level constant 'nothing_here'")
        refused({"model_source": MLP, "shapes": {"batch_size": {"a": 1}}}, 422, "shapes.batch_size")
        refused({"model_source": MLP, "shapes": {"batch_size": list(range(100))}}, 422, "more than 64 elements")
        refused({"model_source": MLP, "proposer": "llm"}, 422, "KILN_LLM_MODEL")
        refused({"model_source": MLP, "fallback": "llm"}, 422, "the llm fallback needs a model: set KILN_LLM_MODEL")
        refused({"model_source": MLP, "fallback": "gpt"}, 422, "fallback")
        refused(b'{"model_source": "x", "budget": NaN}', 422, "NaN is not a JSON number")
        assert server.store.list_jobs(limit=10).total == 0  # nothing refused was stored

        assert client.get("/v1/compilations/nope").status_code == 404
        job = client.post("/v1/jobs", json={"task_id": "dwconv2d.convnext_7x7", "budget": 1}).json()
        assert client.get(f"/v1/compilations/{job['id']}").status_code == 404  # a generation job is no compilation
        assert client.get(f"/v1/compilations/{job['id']}/events").status_code == 404


def test_auth_limits_and_a_queued_compilation(make_server) -> None:
    server = make_server(api_tokens=("tok", "other"), max_active_jobs_per_owner=1)
    with server.client() as anonymous:
        assert anonymous.post("/v1/compilations", json={"model_source": MLP}).status_code == 401
    with server.client("tok") as client:
        created = client.post(
            "/v1/compilations", json={"model_source": MLP, "name": "mlp", "shapes": {"batch_size": 2}}
        )
        assert created.status_code == 202, created.text
        view = created.json()
        assert (view["status"], view["name"], view["tier"], view["shapes"]) == (
            "queued",
            "mlp",
            "shapes",
            {"batch_size": 2},
        )
        assert view["links"]["self"] == f"/v1/compilations/{view['id']}" and view["report"] is None
        assert client.get(view["links"]["self"]).json()["id"] == view["id"]
        busy = client.post("/v1/compilations", json={"model_source": MLP})
        assert busy.status_code == 429 and busy.headers["Retry-After"], busy.text
        cancelled = client.post(view["links"]["cancel"])
        assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled", cancelled.text
    with server.client("other") as client:
        assert client.post(view["links"]["cancel"]).status_code == 403


def test_a_submitted_model_is_captured_in_a_sandbox() -> None:
    nosy = MLP + "\nprint(open(" + json.dumps(str(MODELS / "mlp_relu.py")) + ").read())\n"
    with pytest.raises(ChildError, match=r"FileNotFoundError|No such file"):
        run_child({"action": "capture", "source": nosy, "overrides": {}}, timeout_s=300, sandbox="bwrap")
    answer = run_child({"action": "capture", "source": MLP, "overrides": {}}, timeout_s=300, sandbox="auto")
    assert [g["summary"] for g in answer["groups"]] == ["linear", "relu", "linear"]


@pytest.mark.slow
def test_a_two_layer_mlp_compiles_over_http(make_server) -> None:
    server = make_server(workers=1, device="cpu")
    with server.client() as client:
        created = client.post(
            "/v1/compilations", json={"model_source": MLP, "name": "mlp_relu", "tier": "as_written", "budget": 1}
        )
        assert created.status_code == 202, created.text
        compilation_id = created.json()["id"]
        events = list(sse_events(client, f"/v1/compilations/{compilation_id}/events", timeout_s=900))
        types = [t for t, _ in events]
        assert types[0] == "status" and types[-1] == "finished", types
        assert "started" in types and "note" in types and "groups" in types, types
        groups = [d for t, d in events if t == "group"]
        assert len(groups) == 3 and {g["verdict"] for g in groups} == {"accepted"}, groups  # one per distinct group
        assert [g["done"] for g in groups] == [1, 2, 3] and all(g["tasks"] == 3 for g in groups)
        assert events[-1][1]["status"] == "succeeded", events[-1]

        view = wait_for_status(client, compilation_id, {"succeeded"}, timeout_s=60)
        view = client.get(f"/v1/compilations/{compilation_id}").json()
        report = view["report"]
        assert view["status"] == "succeeded" and view["progress"]["stage"] == "done", view["progress"]
        assert [g["summary"] for g in report["groups"]] == ["linear", "relu", "linear"]
        assert [g["verdict"] for g in report["groups"]] == ["accepted"] * 3, report["groups"]
        assert report["coverage"]["flops_share"] == 1.0 and report["status"] == "completed"
        assert report["name"] == "mlp_relu" and report["model_source"] == MLP and "model_path" not in report
        assert all(g.get("speedup_eager") is None for g in report["groups"])  # never a CPU speedup
        # the groups are tasks of the store, their run a kiln bench run like kiln compile's
        run = client.get(f"/v1/runs/{report['run_id']}").json()
        assert run["suite"] == "compile:mlp_relu", run
        for group in report["groups"]:
            assert client.get(f"/v1/tasks/{group['task_id']}/best").json(), group["task_id"]
