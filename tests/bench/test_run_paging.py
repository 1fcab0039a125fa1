"""Big runs (issue 24): ``/runs/{id}`` of a 10,000-task run was a 6.5 MB page and ``/v1/runs/{id}`` 5.9 MB,
unpaged; the suite filter listed 1000 of 1201 suites; ``HEAD /runs`` was a 405. Now both are paged,
every suite is in the filter and every page answers HEAD."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from kernels_store import open_store
from kernels_store.models import BenchRun, Task
from service.app import create_app
from service.web.runs_page import TASKS_PAGE_SIZE
from tests.bench.runs import new_run

SOURCE = "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return x * 2\n"
TASKS = 450
SUITES = 1201


def test_a_big_run_is_paged_and_every_suite_is_in_the_filter(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'kiln.sqlite'}")
    ids = [f"kb.level1.{n:04d}_task" for n in range(TASKS)]
    now = store.clock()
    with store.write() as session:  # many tasks and runs at once: one statement each
        session.execute(
            insert(Task),
            [{"id": i, "source": SOURCE, "source_sha256": "0" * 64, "created_at": now, "updated_at": now} for i in ids],
        )
    run = new_run(store, ids)
    other = {"tier": "small", "proposer": "template", "generator": "template", "device": "cpu", "status": "completed"}
    with store.write() as session:
        session.execute(
            insert(BenchRun),
            [
                {"id": f"r{n:05d}", "suite": f"suite.{n:05d}", "created_at": now, "updated_at": now, **other}
                for n in range(SUITES)
            ],
        )

    with TestClient(create_app(store=store, run_jobs=False)) as client:
        first = client.get(f"/v1/runs/{run.id}").json()
        assert first["task_total"] == TASKS and len(first["task_results"]) == TASKS  # under the default limit
        page = client.get(f"/v1/runs/{run.id}", params={"limit": 100, "offset": 400}).json()
        assert [t["task_id"] for t in page["task_results"]] == ids[400:]
        assert (page["task_total"], page["limit"], page["offset"]) == (TASKS, 100, 400)
        assert client.get(f"/v1/runs/{run.id}", params={"limit": 5000}).status_code == 422

        html = client.get(f"/runs/{run.id}").text
        assert html.count('<td><a href="/tasks/') == TASKS_PAGE_SIZE and f"/runs/{run.id}?page=3#tasks" in html
        last = client.get(f"/runs/{run.id}", params={"page": "3"}).text
        assert last.count('<td><a href="/tasks/') == TASKS - 2 * TASKS_PAGE_SIZE and ids[-1] in last
        assert client.get(f"/runs/{run.id}", params={"page": str(10**12)}).status_code == 400

        runs = client.get("/runs").text
        assert "suite.00000" in runs and f"suite.{SUITES - 1:05d}" in runs and "kb.level1" in runs
        for path in ("/", "/runs", f"/runs/{run.id}", f"/tasks/{ids[0]}", "/healthz"):
            head = client.head(path)
            assert head.status_code == 200 and head.content == b"", path
    store.close()
