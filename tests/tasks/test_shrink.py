"""The automatic small tier (tasks.shrink) on problems written here in KernelBench format."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tasks.shrink import (
    ELEMENT_TARGET,
    MAX_DIM,
    WORK_BUDGET,
    Attempt,
    constant_table,
    divisors_kept,
    overrides_for,
    propose,
    shrink,
)

GROUPED_CONV = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, groups):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, groups=groups, padding=kernel_size // 2)

    def forward(self, x):
        return self.conv(x)


batch_size = 32
in_channels = 96
out_channels = in_channels * 2
groups = 12
kernel_size = 7
height = 255
width = 255
shape = (height, width)


def get_inputs():
    return [torch.randn(batch_size, in_channels, *shape)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size, groups]
"""

SQUARE_MATMUL = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, a, b):
        return a @ b


N = 1024 * 4


def get_inputs():
    return [torch.randn(N, N), torch.randn(N, N)]


def get_init_inputs():
    return []
"""

# effective window (kernel - 1) * dilation + 1 = 25: the first proposal (length 24) cannot run
DILATED_CONV = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, channels, kernel_size, dilation):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)

    def forward(self, x):
        return self.conv(x)


batch_size = 64
channels = 64
length = 96
kernel_size = 9
dilation = 3


def get_inputs():
    return [torch.randn(batch_size, channels, length)]


def get_init_inputs():
    return [channels, kernel_size, dilation]
"""


def test_proposal_keeps_what_the_op_needs() -> None:
    table = constant_table(GROUPED_CONV)
    proposal = propose(table)
    overrides, changed = overrides_for(table, proposal)
    new = {**table.values, **overrides}

    assert proposal.work <= WORK_BUDGET
    assert new["kernel_size"] == 7 and new["groups"] == 12  # windows and groups are never shrunk
    assert new["in_channels"] % new["groups"] == 0 and new["out_channels"] % new["groups"] == 0
    assert divisors_kept(table, overrides)
    assert new["out_channels"] == 2 * new["in_channels"]  # derived constants are evaluated again
    assert new["height"] == new["width"] and new["height"] % 2 == 1  # equal sizes stay equal, odd stay odd
    assert new["shape"] == [new["height"], new["width"]]
    assert new["height"] + 2 * (new["kernel_size"] // 2) >= new["kernel_size"]
    assert new["batch_size"] < 32 and new["height"] < 255
    assert changed == {name: [table.values[name], overrides[name]] for name in overrides}
    assert set(changed) == {"batch_size", "in_channels", "out_channels", "height", "width", "shape"}


def test_tuple_and_chained_assigned_sizes_are_constants_too() -> None:
    """``depth, height, width = 32, 64, 64`` and ``height = width = 128`` (KernelBench level 2) are
    constants, one per name."""
    table = constant_table("batch_size = 128\ndepth, height, width = 32, 64, 64\nkernel_size = 3\n")
    assert table.values == {"batch_size": 128, "depth": 32, "height": 64, "width": 64, "kernel_size": 3}
    overrides, _ = overrides_for(table, propose(table))
    assert overrides["depth"] < 32 and overrides["height"] == overrides["width"] < 64
    table = constant_table("batch_size = 128\nheight = width = 128\n")
    assert table.values == {"batch_size": 128, "height": 128, "width": 128}
    overrides, _ = overrides_for(table, propose(table))
    assert overrides["height"] == overrides["width"] < 128


def test_sizes_divided_by_groups_keep_two_per_group() -> None:
    """GEMM + GroupNorm(256) over 8192 features: one feature per group would make the norm's output noise."""
    table = constant_table("batch_size = 1024\nin_features = 8192\nout_features = 8192\nnum_groups = 256\n")
    overrides, _ = overrides_for(table, propose(table))
    assert overrides["out_features"] % 256 == 0 and overrides["out_features"] >= 512


def test_one_constant_used_twice_is_sized_by_the_inputs_it_makes() -> None:
    table = constant_table(SQUARE_MATMUL)
    assert table.values["N"] == 4096  # `1024 * 4` is a constant expression
    overrides, changed = overrides_for(table, propose(table))
    assert 2 * overrides["N"] ** 2 <= ELEMENT_TARGET and overrides["N"] <= MAX_DIM
    assert changed["N"][0] == 4096


def _fake_runner(kinds: list[str]):  # type: ignore[no-untyped-def]
    calls: list[dict] = []

    def run(source: str, overrides: dict) -> Attempt:
        kind = kinds[min(len(calls), len(kinds) - 1)]
        calls.append(overrides)
        return Attempt(
            overrides=dict(overrides),
            divisor=0,
            floor=0,
            work=0,
            ok=kind == "ok",
            kind=kind,
            reason=f"fake {kind}",
            reference_seconds=0.1,
            elements=1000,
        )

    return run, calls


def test_failed_proposals_are_reported_as_no_small_shape_with_every_reason() -> None:
    run, calls = _fake_runner(["error"])
    result = shrink(GROUPED_CONV, run=run)
    assert result.status == "no_small_shape" and not result.params
    assert len(calls) >= 2  # larger floors were tried before giving up
    floors = [a.floor for a in result.attempts]
    assert floors == sorted(floors) and floors[0] < floors[-1]
    assert "no valid small shape" in result.reason and result.reason.count("fake error") == len(calls)


def test_a_reference_that_does_not_load_is_reference_failed() -> None:
    run, calls = _fake_runner(["load"])
    result = shrink(GROUPED_CONV, run=run)
    assert result.status == "reference_failed" and len(calls) == 1
    assert shrink("def broken(:\n", run=run).status == "reference_failed"


@pytest.mark.slow  # three sandboxed reference runs (~10 s idle, more on a busy machine)
def test_a_window_too_large_for_the_first_proposal_gets_a_larger_floor_in_the_sandbox() -> None:
    result = shrink(DILATED_CONV)
    assert result.status == "ok", result.reason
    kinds = [a.kind for a in result.attempts]
    assert kinds[0] == "error" and kinds[-1] == "ok"  # the reference said the window did not fit
    assert "input size" in result.attempts[0].reason.lower()
    length = result.params.get("length", 96)
    assert length >= (9 - 1) * 3 + 1
    assert result.attempts[0].overrides["length"] < (9 - 1) * 3 + 1
    assert "kernel_size" not in result.changed and "dilation" not in result.changed
    assert result.elements is not None and result.elements <= 4 * ELEMENT_TARGET
    assert result.reference_seconds is not None and math.isfinite(result.reference_seconds)


def test_a_loaded_problem_gets_the_small_shape_as_a_task_shape(tmp_path: Path) -> None:
    import tasks

    level = tmp_path / "level1"
    level.mkdir()
    (level / "7_Square_matmul.py").write_text(SQUARE_MATMUL)
    (task,) = tasks.load_kernelbench_dir(level)
    table = constant_table(task.source)
    overrides, _ = overrides_for(table, propose(table))
    small = tasks.with_small_shape(task, overrides, "automatic small tier")
    assert small.id == "kb.level1.7_square_matmul" and small.shape_names() == ["small", "as_written"]
    assert small.reference(tier="small").shapes == {"small": overrides}
    assert small.params("small")["N"] == overrides["N"] and small.params("as_written")["N"] == 4096
