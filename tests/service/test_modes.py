"""The API's ``mode``: checked (a 422 names the allowed values), stored with jobs and verdicts, part of
the ``POST /v1/verify`` cache key, and ranked apart on the leaderboard and a task's best kernels."""

from __future__ import annotations

from pathlib import Path

from tests.service.conftest import LiveServer

CORPUS = Path(__file__).parent.parent / "verifier" / "corpus"


def test_an_unknown_mode_is_a_422_naming_the_allowed_values(server: LiveServer) -> None:
    reference = (CORPUS / "reference_dwconv3x3.py").read_text()
    honest = (CORPUS / "honest_dwconv.py").read_text()
    with server.client() as c:
        for path, body in (
            ("/v1/verify", {"reference_source": reference, "candidate_source": honest, "mode": "sideways"}),
            ("/v1/jobs", {"task_id": "dwconv2d.convnext_7x7", "mode": "sideways"}),
        ):
            answer = c.post(path, json=body)
            assert answer.status_code == 422, answer.text
            assert all(f"'{m}'" in answer.text for m in ("forward", "backward", "both")), answer.text
        assert c.get("/v1/leaderboard", params={"mode": "sideways"}).status_code == 422
        assert server.store.list_verifications().total == 0 and server.store.list_jobs().total == 0


def test_a_job_keeps_its_mode(server: LiveServer) -> None:
    with server.client() as c:
        backward = c.post("/v1/jobs", json={"task_id": "dwconv2d.convnext_7x7", "mode": "backward"})
        forward = c.post("/v1/jobs", json={"task_id": "dwconv2d.convnext_7x7"})
        assert backward.status_code == 202 and forward.status_code == 202
        assert backward.json()["mode"] == "backward" and forward.json()["mode"] == "forward"
        assert c.get(f"/v1/jobs/{backward.json()['id']}").json()["mode"] == "backward"
    assert server.store.get_job(backward.json()["id"]).params["mode"] == "backward"


def test_a_forward_verdict_never_answers_a_backward_request(server: LiveServer) -> None:
    """The honest forward kernel (its forward launches Triton outside an autograd.Function) is accepted
    in forward mode and rejected as a training kernel: the backward request is verified, not answered
    from the forward verdict, and each mode's ranking holds only its own."""
    reference = (CORPUS / "reference_dwconv3x3.py").read_text()
    honest = (CORPUS / "honest_dwconv.py").read_text()
    body = {"reference_source": reference, "candidate_source": honest}
    with server.client(timeout=600) as c:
        forward = c.post("/v1/verify", json=body).json()
        assert forward["verdict"] == "accepted" and forward["mode"] == "forward"
        backward = c.post("/v1/verify", json={**body, "mode": "backward"}).json()
        assert backward["cached"] is False and backward["mode"] == "backward"
        assert backward["verdict"] == "rejected" and backward["verification_id"] != forward["verification_id"]
        assert any(r.startswith("backward:") for r in backward["report"]["reasons"]), backward["report"]["reasons"]
        again = c.post("/v1/verify", json={**body, "mode": "backward"}).json()
        assert again["cached"] is True and again["verdict"] == "rejected"
        assert again["verification_id"] == backward["verification_id"]
        cached_forward = c.post("/v1/verify", json={**body, "mode": "forward"}).json()
        assert cached_forward["cached"] is True and cached_forward["verdict"] == "accepted"

        task = forward["task_id"]
        best = c.get(f"/v1/tasks/{task}/best").json()
        assert [(b["candidate_id"], b["mode"]) for b in best] == [(forward["candidate_id"], "forward")]
        assert c.get(f"/v1/tasks/{task}/best", params={"mode": "backward"}).json() == []
        board = c.get("/v1/leaderboard", params={"mode": "backward"}).json()
        assert board["mode"] == "backward" and all(k["task_id"] != task for k in board["tasks"])
        assert any(k["task_id"] == task for k in c.get("/v1/leaderboard").json()["tasks"])
