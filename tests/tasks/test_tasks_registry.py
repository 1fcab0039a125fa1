"""The registry: stable, unique ids; lookups; per-task metadata; task -> verifier.Reference."""

from __future__ import annotations

import pytest

import tasks
from tasks.model import TASK_ID_PATTERN
from verifier import Reference, Tolerance

# Ids are a public contract (store rows, leaderboard URLs, `kiln generate --task`): renaming one
# must be a deliberate change of this list.
EXPECTED_IDS = [
    "dwconv2d.convnext_7x7",
    "dwconv2d.replknet_31x31",
    "dwconv2d.slak_51x51",
    "dwconv2d.unireplknet_13x13_dilated",
    "dwconv2d.inceptionnext_band_1x11",
    "dwconv2d.inceptionnext_band_11x1",
    "dwconv2d.inceptionnext_mixer",
    "dwconv2d.van_lka",
    "conv1d.long_causal",
    "spmm.csr",
    "gcn.layer",
    "fftconv.long_conv",
    "fftconv.gated_long_conv",
    "general.matmul",
    "general.softmax",
    "general.layernorm",
    "general.linear_gelu",
]
BUILTIN = [t for t in tasks.all_tasks() if t.origin == "builtin"]


def test_ids_are_stable_and_unique() -> None:
    ids = [t.id for t in BUILTIN]
    assert ids == EXPECTED_IDS
    assert len(set(ids)) == len(ids)


def test_families() -> None:
    assert tasks.families()[:6] == ["dwconv2d", "conv1d", "spmm", "gcn", "fftconv", "general"]
    assert [t.id for t in tasks.all_tasks(family="fftconv")] == ["fftconv.long_conv", "fftconv.gated_long_conv"]
    with pytest.raises(KeyError, match="unknown family"):
        tasks.all_tasks(family="nope")


@pytest.mark.parametrize("task", BUILTIN, ids=lambda t: t.id)
def test_task_metadata(task: tasks.Task) -> None:
    assert TASK_ID_PATTERN.match(task.id)
    assert task.id.split(".")[0] == task.family
    assert task.title and len(task.description) > 80 and task.references
    assert task.shapes_in("small") and task.shapes_in("realistic")
    assert all(s.note for s in task.shapes)
    # As written = the first small shape, and the docstring of the source names the task.
    first = task.shapes_in("small")[0]
    assert task.params(first) == dict(task.constants)
    assert task.source.startswith(f'"""{task.id}: ')
    # Every dtype a shape uses has a bound; no built-in task widens the fallback allowlist.
    for dtype in task.dtypes():
        assert isinstance(task.tolerances[dtype], Tolerance)
    assert task.allowed_ops == frozenset()
    assert task.has_cost_model
    # Shapes are JSON-like and name every constant (a Reference's shape is self-contained).
    for s in task.shapes:
        assert set(s.params) == set(task.constants)
        for v in s.params.values():
            assert isinstance(v, int | float | str | bool | list)


def test_get_returns_the_task_and_unknown_ids_name_near_matches() -> None:
    assert tasks.get("general.softmax").family == "general"
    with pytest.raises(tasks.UnknownTaskError) as e:
        tasks.get("general.sofmax")
    assert isinstance(e.value, KeyError)
    assert "general.softmax" in e.value.near
    assert "general.softmax" in str(e.value) and "general.sofmax" in str(e.value)
    with pytest.raises(KeyError, match=r"dwconv2d\.convnext_7x7"):
        tasks.get("convnext")
    with pytest.raises(KeyError) as e2:
        tasks.get("zzzzzz")
    assert e2.value.near == []


def test_reference_for_a_tier_carries_shapes_tolerances_and_ops() -> None:
    task = tasks.get("dwconv2d.convnext_7x7")
    ref = task.reference(tier="small")
    assert isinstance(ref, Reference)
    assert ref.name == task.id and ref.source == task.source
    assert list(ref.shapes) == ["tiny", "odd", "tiny_bf16"]
    assert ref.shapes["odd"] == {**task.constants, "BATCH": 1, "CHANNELS": 3, "HEIGHT": 13, "WIDTH": 9}
    assert ref.shapes["tiny_bf16"]["DTYPE"] == "bfloat16"
    assert ref.tolerances["float32"] == Tolerance(1e-2, 1e-2, 1e-3)
    assert ref.allowed_ops == frozenset()
    big = task.reference(tier="realistic")
    assert "stage1" in big.shapes and "tiny" not in big.shapes
    assert list(task.reference(shapes=["stage4"]).shapes) == ["stage4"]
    assert len(task.reference(tier="all").shapes) == len(task.shapes)


def test_task_specific_tolerances_override_defaults() -> None:
    softmax = tasks.get("general.softmax")
    assert softmax.tolerance("float32").atol == 1e-6  # probabilities ~1/COLS: 1e-2 would mean nothing
    assert softmax.reference().tolerances["float32"].atol == 1e-6
    assert tasks.get("general.matmul").tolerance("bfloat16") == tasks.DEFAULT_TOLERANCES["bfloat16"]


def test_shape_and_task_validation() -> None:
    with pytest.raises(tasks.TaskError):
        tasks.Shape("Bad Name", {}, "small")
    with pytest.raises(tasks.TaskError):
        tasks.Shape("x", {}, "huge")  # type: ignore[arg-type]
    base = tasks.get("general.matmul")

    def task(task_id: str, shape: tasks.Shape) -> tasks.Task:
        return tasks.Task(
            id=task_id,
            family="general",
            title="t",
            description="d",
            source=base.source,
            shapes=(shape,),
            constants=base.constants,
        )

    with pytest.raises(tasks.TaskError, match="not top-level constants"):
        task("general.bad", tasks.Shape("s", {"NOPE": 1}, "small"))
    with pytest.raises(tasks.TaskError, match="does not match"):
        task("Bad-Id", tasks.Shape("s", {}, "small"))
    assert task("general.good", tasks.Shape("s", {}, "small")).id == "general.good"  # the helper builds valid ones


def test_builtin_tasks_cannot_be_replaced() -> None:
    with pytest.raises(tasks.TaskError, match="already registered"):
        tasks.register(tasks.get("general.matmul"), replace=True)
    with pytest.raises(tasks.TaskError):
        tasks.unregister("general.matmul")


def test_to_dict_is_json_ready() -> None:
    import json

    d = tasks.get("spmm.csr").to_dict()
    json.dumps(d)
    assert d["id"] == "spmm.csr" and d["tiers"] == ["small", "realistic"]
    assert {s["name"] for s in d["shapes"]} >= {"tiny", "reddit_f128"}
    assert d["tolerances"]["float32"] == {"atol": 1e-2, "rtol": 1e-2, "max_rel_l2": 1e-3}
