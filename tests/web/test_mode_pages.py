"""The leaderboard page ranks each mode apart: ``/`` is the forward ranking, ``/?mode=backward`` the
training kernels'; a backward speedup never shows in the forward fast_p."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kernels_store import open_store
from service.app import create_app
from tests.web.seed import H100, Seeder, fixture_report, gpu_timing, kernel_source


def test_the_leaderboard_page_shows_one_mode_at_a_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'kiln.sqlite'}")
    seeder = Seeder(store)
    seeder.kernel("general.softmax", speedup=1.3)  # a forward kernel, 1.30x
    task = seeder.task("dwconv2d.convnext_7x7")
    source = kernel_source("training")
    cand = store.add_candidate(task.id, source, language="triton", origin="template", origin_detail="training")
    report = fixture_report(task.source, source, env=H100, timing=gpu_timing(3.7))
    store.record_verification(cand.candidate.id, {**report, "mode": "backward"})  # a training kernel, 3.70x
    with TestClient(create_app(store=store, run_jobs=False)) as client:
        forward = client.get("/").text
        backward = client.get("/", params={"mode": "backward"}).text
        assert client.get("/", params={"mode": "sideways"}).status_code == 422
    assert "1.30" in forward and "3.70" not in forward
    assert "3.70" in backward and "1.30" not in backward and "training kernels (forward and backward)" in backward
    assert 'href="/?mode=backward"' in forward  # the mode chip
    store.close()


def test_the_task_page_lists_one_mode_at_a_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'kiln.sqlite'}")
    seeder = Seeder(store)
    seeder.kernel("general.softmax", speedup=1.3)
    task = seeder.task("general.softmax")
    source = kernel_source("training")
    cand = store.add_candidate(task.id, source, language="triton", origin="template", origin_detail="training")
    report = fixture_report(task.source, source, env=H100, timing=gpu_timing(3.7))
    store.record_verification(cand.candidate.id, {**report, "mode": "backward"})
    with TestClient(create_app(store=store, run_jobs=False)) as client:
        forward = client.get("/tasks/general.softmax").text
        backward = client.get("/tasks/general.softmax", params={"mode": "backward"}).text
    mine, other = "Fixture kernel training.", "Fixture kernel general_softmax_1."  # the seeder's first tag
    assert other in forward and mine not in forward
    assert mine in backward and other not in backward
    store.close()
