"""Which shapes a kernel is re-verified on, from the task's declared shapes and the recorded report."""

from __future__ import annotations

from service.regress.shapes import DeclaredShape, declared_shapes, plan_shapes

TINY = DeclaredShape("tiny", "small", {"n": 2})
SMALL = DeclaredShape("small", "small", {"n": 8})
BIG = DeclaredShape("stage1", "realistic", {"n": 4096})
DECLARED = [TINY, SMALL, BIG]


def test_as_written_stays_as_written() -> None:
    for device in ("cpu", "cuda"):
        plan = plan_shapes(DECLARED, ["as written"], device)
        assert (plan.shapes, plan.note, plan.skip_reason, plan.names) == ({}, "", "", ["as written"])


def test_gpu_reruns_the_recorded_shapes_with_their_current_params() -> None:
    plan = plan_shapes([TINY, SMALL, DeclaredShape("stage1", "realistic", {"n": 2048})], ["stage1"], "cuda")
    assert plan.shapes == {"stage1": {"n": 2048}} and plan.note == ""


def test_gpu_falls_back_to_realistic_shapes_when_the_recorded_ones_are_gone() -> None:
    plan = plan_shapes(DECLARED, ["stage9"], "cuda")
    assert plan.shapes == {"stage1": {"n": 4096}}
    assert "stage9 no longer declared" in plan.note and "stage1 instead" in plan.note


def test_cpu_keeps_the_small_recorded_shapes_only() -> None:
    plan = plan_shapes(DECLARED, ["small", "stage1"], "cpu")
    assert plan.shapes == {"small": {"n": 8}}
    assert "stage1 are GPU work" in plan.note


def test_cpu_checks_a_gpu_verified_kernel_on_the_small_shapes() -> None:
    plan = plan_shapes(DECLARED, ["stage1"], "cpu")
    assert plan.shapes == {"tiny": {"n": 2}, "small": {"n": 8}}
    assert "small shapes tiny, small" in plan.note


def test_cpu_skips_a_task_without_small_shapes() -> None:
    plan = plan_shapes([BIG], ["stage1"], "cpu")
    assert plan.shapes == {} and "no small-tier shape" in plan.skip_reason


def test_declared_shapes_reads_the_stored_list_and_ignores_malformed_entries() -> None:
    raw = [{"name": "small", "tier": "small", "params": {"n": 8}}, {"name": 3}, "junk", {"name": "x"}]
    assert declared_shapes(raw) == [SMALL]
    assert declared_shapes(None) == [] and declared_shapes({"small": {}}) == []
