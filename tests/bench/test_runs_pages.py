"""Bench runs on the leaderboard: GET /v1/runs, /v1/runs/{id}, and the /runs pages (server-rendered)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from kernels_store import open_store
from service.app import create_app
from service.bench.summary import run_summary
from tests.bench.runs import new_run

SOURCE = "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return x * 2\n"
SOURCE += "def get_inputs():\n    return [torch.randn(8)]\ndef get_init_inputs():\n    return []\n"


def test_runs_api_and_pages(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'kiln.sqlite'}")
    for name in ("kb.level1.1_double", "kb.level1.2_triple"):
        store.put_task(name, SOURCE.replace("2", "3") if "triple" in name else SOURCE, family="kernelbench")
    run = new_run(
        store, ["kb.level1.1_double", "kb.level1.2_triple"], device_name="Test CPU <b>", hardware_fingerprint="a" * 16
    )
    store.update_run_task(
        run.id,
        "kb.level1.1_double",
        status="done",
        verdict="no_small_shape",
        reason="no valid small shape (2 tried): <script>x</script>",
        changed_constants={"batch_size": [4096, 4]},
    )
    store.set_run_status(run.id, "interrupted", summary=run_summary(store, store.run_tasks(run.id)))

    with TestClient(create_app(store=store, run_jobs=False)) as client:
        listing = client.get("/v1/runs").json()
        assert listing["total"] == 1
        (item,) = listing["items"]
        assert item["id"] == run.id and item["status"] == "interrupted" and (item["tasks"], item["done"]) == (2, 1)
        assert set(item["fast_p"]) == {"0", "0.5", "0.8", "1", "1.5", "2"} and item["geomean_speedup"] is None
        detail = client.get(f"/v1/runs/{run.id}").json()
        by_id = {t["task_id"]: t for t in detail["task_results"]}
        assert by_id["kb.level1.1_double"]["verdict"] == "no_small_shape"
        assert by_id["kb.level1.1_double"]["changed_constants"] == {"batch_size": [4096, 4]}
        assert by_id["kb.level1.2_triple"]["status"] == "pending" and detail["counts"] == {"no_small_shape": 1}
        assert client.get("/v1/runs/nope").status_code == 404
        assert client.get("/v1/runs", params={"suite": "other"}).json()["total"] == 0

        page = client.get("/runs")
        assert page.status_code == 200 and f"/runs/{run.id}" in page.text and "kb.level1" in page.text
        one = client.get(f"/runs/{run.id}")
        assert one.status_code == 200
        assert "no valid small shape (2 tried)" in one.text and "<script>x</script>" not in one.text  # escaped
        assert "Test CPU &lt;b&gt;" in one.text and "<svg" in one.text and "4096→4" in one.text
        assert client.get("/runs/nope").status_code == 404
        past_the_end = client.get("/runs", params={"page": "7"})  # the last page, as the task pages do
        assert past_the_end.status_code == 200 and f"/runs/{run.id}" in past_the_end.text
        assert client.get("/runs", params={"page": str(10**12)}).status_code == 400  # as every page number
        board = client.get("/", params={"family": "kernelbench", "level": "1"})
        assert board.status_code == 200 and "kb.level1.2_triple" in board.text and "level 1" in board.text
    store.close()


def test_a_backward_run_is_shown_and_compared_as_one(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'kiln.sqlite'}")
    store.put_task("kb.level1.1_double", SOURCE, family="kernelbench")
    forward = new_run(store, ["kb.level1.1_double"], options={"mode": "forward"})
    backward = new_run(store, ["kb.level1.1_double"], options={"mode": "backward"})
    older_backward = new_run(store, ["kb.level1.1_double"], options={"mode": "backward"})
    with TestClient(create_app(store=store, run_jobs=False)) as client:
        modes = {r["id"]: r["mode"] for r in client.get("/v1/runs").json()["items"]}
        assert modes == {forward.id: "forward", backward.id: "backward", older_backward.id: "backward"}
        assert client.get(f"/v1/runs/{backward.id}").json()["mode"] == "backward"
        page = client.get(f"/runs/{backward.id}").text
        assert "<dt>mode</dt><dd>backward (training steps" in page
        assert f"/runs/{older_backward.id}" in page and f"/runs/{forward.id}" not in page  # compared: backward only
        assert "<td>backward</td>" in client.get("/runs").text
    store.close()
