"""Loading a directory of KernelBench problem files as tasks: unchanged, checked statically, not run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tasks

MATMUL = '''import torch
import torch.nn as nn


class Model(nn.Module):
    """Simple model that performs a single square matrix multiplication (C = A * B)."""

    def __init__(self):
        super(Model, self).__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


N = 16


def get_inputs():
    A = torch.randn(N, N)
    B = torch.randn(N, N)
    return [A, B]


def get_init_inputs():
    return []  # No special initialization inputs needed
'''

RELU = '''"""ReLU activation."""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.relu(x)


batch_size = 4
dim = 32


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
'''

CONV_WITH_SIDE_EFFECT = """import torch
import torch.nn as nn

raise RuntimeError("executed at load time")


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3)

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.randn(1, 3, 8, 8)]


def get_init_inputs():
    return [3]
"""


def _kernelbench(root: Path) -> Path:
    (root / "level1").mkdir(parents=True)
    (root / "level2").mkdir()
    (root / "level1" / "1_Square_matrix_multiplication_.py").write_text(MATMUL, encoding="utf-8")
    (root / "level1" / "19_ReLU.py").write_text(RELU, encoding="utf-8")
    (root / "level1" / "2_ReLU_again.py").write_text(RELU, encoding="utf-8")
    (root / "level2" / "5_Conv2d_Raises_On_Import.py").write_text(CONV_WITH_SIDE_EFFECT, encoding="utf-8")
    return root


def test_load_a_level_directory(tmp_path: Path) -> None:
    root = _kernelbench(tmp_path / "KernelBench")
    loaded = tasks.load_kernelbench_dir(root / "level1")
    assert [t.id for t in loaded] == [
        "kb.level1.1_square_matrix_multiplication",
        "kb.level1.2_relu_again",
        "kb.level1.19_relu",
    ]
    mm = loaded[0]
    assert mm.family == "kernelbench"
    assert mm.source == MATMUL  # unchanged
    assert [(s.name, s.tier, dict(s.params)) for s in mm.shapes] == [("as_written", "realistic", {})]
    assert mm.constants == {"N": 16}
    assert mm.origin.endswith("1_Square_matrix_multiplication_.py")
    assert loaded[2].description == "ReLU activation."
    ref = mm.reference(tier="realistic")
    assert ref.source == MATMUL and ref.shapes == {"as_written": {}} and ref.tolerances == {}
    with pytest.raises(tasks.NoShapesError, match="no small shapes"):
        mm.reference(tier="small")
    assert not mm.has_cost_model


def test_load_the_whole_tree_without_executing_anything(tmp_path: Path) -> None:
    root = _kernelbench(tmp_path / "KernelBench")
    loaded = tasks.load_kernelbench_dir(root, prefix="bench")
    ids = [t.id for t in loaded]
    assert ids == [
        "bench.level1.1_square_matrix_multiplication",
        "bench.level1.2_relu_again",
        "bench.level1.19_relu",
        "bench.level2.5_conv2d_raises_on_import",
    ]  # the level-2 file raises at import: loading did not run it
    with pytest.raises(RuntimeError, match="executed at load time"):
        tasks.run_reference(loaded[3], "as_written")


def test_loaded_problems_run_and_register(tmp_path: Path) -> None:
    loaded = tasks.load_kernelbench_dir(_kernelbench(tmp_path / "kb") / "level1")
    run = tasks.run_reference(loaded[0], "as_written", seed=0)
    a, b = run.inputs
    torch.testing.assert_close(run.output, a @ b)
    tasks.register(loaded)
    try:
        assert tasks.get("kb.level1.19_relu") is loaded[2]
        assert "kernelbench" in tasks.families()
        assert [t.id for t in tasks.all_tasks(family="kernelbench")] == [t.id for t in loaded]
        with pytest.raises(tasks.TaskError, match="already registered"):
            tasks.register(loaded[0])
        tasks.register(loaded[0], replace=True)
    finally:
        for t in loaded:
            tasks.unregister(t.id)
    with pytest.raises(KeyError):
        tasks.get("kb.level1.19_relu")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (RELU.replace("class Model(", "class Net("), "no top-level `class Model`"),
        (RELU.replace("def get_inputs", "def make_inputs"), "no top-level `def get_inputs()`"),
        (
            RELU.replace("def get_init_inputs():\n    return []", "get_init_inputs = list"),
            "no top-level `def get_init_inputs()`",
        ),
        ("def broken(:\n", "syntax error"),
    ],
)
def test_invalid_files_are_rejected_or_skipped(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "1_Good.py").write_text(RELU, encoding="utf-8")
    (tmp_path / "2_Bad.py").write_text(text, encoding="utf-8")
    with pytest.raises(tasks.KernelBenchFormatError, match=r"2_Bad\.py") as e:
        tasks.load_kernelbench_dir(tmp_path)
    assert problem in str(e.value)
    assert [t.id for t in tasks.load_kernelbench_dir(tmp_path, skip_invalid=True)] == ["kb.1_good"]


def test_colliding_ids_and_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "1_ReLU.py").write_text(RELU, encoding="utf-8")
    (tmp_path / "1-relu.py").write_text(RELU, encoding="utf-8")
    with pytest.raises(tasks.KernelBenchFormatError, match=r"both map to task id kb\.1_relu"):
        tasks.load_kernelbench_dir(tmp_path)
    with pytest.raises(NotADirectoryError):
        tasks.load_kernelbench_dir(tmp_path / "missing")
    with pytest.raises(tasks.TaskError, match="prefix"):
        tasks.load_kernelbench_dir(tmp_path, prefix="Bad Prefix")
