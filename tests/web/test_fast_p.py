"""service.leaderboard: fast_p per generator and hardware, checked against the verifier's own fast_p."""

from __future__ import annotations

import pytest

import tasks
from kernels_store.browse import GeneratorTaskResult
from service.leaderboard import FAST_P_THRESHOLDS, fast_p_key, fast_p_rows, generator_label
from verifier.report import Check, Report, Timing
from verifier.report import fast_p as verifier_fast_p

TASKS = ["a.one", "a.two", "b.three", "b.four"]


def result(task: str, origin: str, detail: str, speedup: float | None, hw: str = "h100") -> GeneratorTaskResult:
    return GeneratorTaskResult(task, hw, f"device {hw}", origin, detail, speedup)


def _report(speedup: float | None, solved: bool) -> Report:
    timing = None
    if speedup is not None:
        timing = Timing("gpu", 1 / speedup, 1.0, None, speedup, None, 10, 2, "events")
    return Report("accepted" if solved else "rejected", checks=[Check("values", solved)], timing=timing)


@pytest.mark.parametrize(
    "origin, detail, label",
    [("llm", "gpt-x", "llm:gpt-x"), ("llm", "", "llm"), ("template", "dw_direct", "template"), ("user", "bob", "user")],
)
def test_generators_are_the_template_compiler_each_llm_model_and_users(origin: str, detail: str, label: str) -> None:
    assert generator_label(origin, detail) == label


def test_fast_p_matches_the_verifiers_definition() -> None:
    results = [
        result("a.one", "llm", "m1", 2.5),
        result("a.two", "llm", "m1", 1.2),
        result("b.three", "llm", "m1", None),  # accepted on this hardware, never GPU-timed
        result("a.one", "llm", "m2", 0.9),
        result("a.one", "template", "t1", 1.4),
        result("a.one", "template", "t2", 1.6),  # the template compiler is one generator: its best counts
        result("a.two", "template", "t2", None),
        result("a.one", "user", "", 3.0, hw="cpu-box"),  # another hardware is another row
        result("zz.outside", "llm", "m1", 9.0),  # not in the task list: ignored
    ]
    rows = {(r.generator, r.hardware_fingerprint): r.to_dict() for r in fast_p_rows(results, TASKS)}
    assert set(rows) == {("llm:m1", "h100"), ("llm:m2", "h100"), ("template", "h100"), ("user", "cpu-box")}
    per_task = {
        ("llm:m1", "h100"): {"a.one": 2.5, "a.two": 1.2, "b.three": None},
        ("llm:m2", "h100"): {"a.one": 0.9},
        ("template", "h100"): {"a.one": 1.6, "a.two": None},
        ("user", "cpu-box"): {"a.one": 3.0},
    }
    for key, solved in per_task.items():
        reports = [_report(solved.get(t), t in solved) for t in TASKS]
        for p in FAST_P_THRESHOLDS:
            assert rows[key][fast_p_key(p)] == pytest.approx(verifier_fast_p(reports, p)), (key, p)
    m1 = rows[("llm:m1", "h100")]
    assert (m1["tasks"], m1["solved"], m1["timed"], m1["device_name"]) == (4, 3, 2, "device h100")
    assert (m1["fast_0"], m1["fast_1"], m1["fast_1.5"], m1["fast_2"]) == (0.75, 0.5, 0.25, 0.25)
    counts = {(r.generator, r.hardware_fingerprint): [c.count for c in r.cells] for r in fast_p_rows(results, TASKS)}
    assert counts[("llm:m1", "h100")] == [3, 2, 1, 1]  # the page shows these: 3/4, 2/4, 1/4, 1/4


def test_an_untimed_kernel_counts_for_correctness_only() -> None:
    (row,) = fast_p_rows([result("a.one", "llm", "m", None, hw="cpu")], TASKS)
    assert [(c.p, c.count, c.tasks) for c in row.cells] == [(p, int(p == 0), 4) for p in FAST_P_THRESHOLDS]
    assert row.cell(0).share == 0.25 and row.timed == 0


def test_the_json_leaderboard_keeps_its_shape(server) -> None:
    from tests.web.seed import CPU, Seeder

    seeder = Seeder(server.store)
    seeder.kernel("general.softmax", speedup=1.7)
    seeder.kernel("general.softmax", origin="template", detail="rows", env=CPU)
    with server.client() as c:
        board = c.get("/v1/leaderboard").json()
    suite = len(tasks.ids())
    assert set(board) == {"mode", "tasks", "fast_p", "task_count"} and board["task_count"] == suite
    assert board["mode"] == "forward" and all(t["mode"] == "forward" for t in board["tasks"])
    assert {t["task_id"] for t in board["tasks"]} == {"general.softmax"}
    for row in board["fast_p"]:
        assert {"generator", "hardware_fingerprint", "device_name", "tasks", "solved"} <= set(row)
        assert {"fast_0", "fast_1", "fast_1.5", "fast_2"} <= set(row)
    by_generator = {r["generator"]: r for r in board["fast_p"]}
    assert by_generator["llm:fixture-model-a"]["fast_1.5"] == pytest.approx(1 / suite)
    assert by_generator["template"]["fast_0"] == pytest.approx(1 / suite) and by_generator["template"]["fast_1"] == 0
