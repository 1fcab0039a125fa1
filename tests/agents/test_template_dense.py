"""Matmul variants, logsumexp and reshapes of the template compiler against torch (Triton interpreter).

Tutorial style, as ``test_template_conv``: a tiny module per case, its candidate run on the interpreter
and compared with the module's forward, all cases in one child process (``template_harness``).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
import torch

from agents.template.templates import dense
from tests.agents.template_harness import matched, plan_here, reference_source, results_fixture

CASES = {
    "bmm_with_epilogue": ("torch.relu(torch.bmm(x, y)) * 2.0", "torch.randn(3, 5, 7), torch.randn(3, 7, 6)"),
    "bmm_transposed_operand": ("torch.bmm(x, y.transpose(1, 2))", "torch.randn(2, 4, 9), torch.randn(2, 5, 9)"),
    "matmul_3d_by_matrix": ("torch.matmul(x, y)", "torch.randn(2, 3, 7), torch.randn(7, 5)"),
    "einsum_4d_by_matrix": ('torch.einsum("bijl,lk->bijk", x, y)', "torch.randn(2, 3, 4, 6), torch.randn(6, 5)"),
    "triu_of_product": ("torch.triu(torch.matmul(x, y))", "torch.randn(9, 9), torch.randn(9, 9)"),
    # 10 x 3 tiles of 64: a full group of 8 row tiles, then a ragged one of 2 (grouped tile order)
    "matmul_many_tiles_ragged_groups": ("torch.tril(x @ y, diagonal=3)", "torch.randn(635, 16), torch.randn(16, 150)"),
    "bmm_many_tiles": ("torch.bmm(x, y)", "torch.randn(2, 130, 8), torch.randn(2, 8, 200)"),
    "tril_of_product_offset": ("torch.tril(x @ y, diagonal=-1)", "torch.randn(7, 7), torch.randn(7, 7)"),
    "logsumexp_keepdim": ("torch.logsumexp(x, dim=1, keepdim=True)", "torch.randn(4, 37, 3) * 10"),
    "logsumexp_two_dims": ("torch.logsumexp(x, dim=(0, 2))", "torch.randn(4, 5, 3)"),
    "flatten_then_linear": (
        "self.fc(torch.relu(x).view(x.size(0), -1))",
        "torch.randn(2, 3, 4, 5)",
        "        self.fc = nn.Linear(60, 7)",
    ),
    "attention": (
        "F.scaled_dot_product_attention(x, y, z)",
        "torch.randn(2, 3, 5, 4), torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 4)",
    ),
    "split_reshape_of_computed": ("torch.softmax((x * 2).view(2, 3, 4, 5), dim=2)", "torch.randn(6, 20)"),
}

# matrix x vector (GEMV kernel, no tl.dot) and large K (split-K: tl.dot partials, then a reduction)
for _name, _body, *_shapes in [
    ("gemv_column_split", "x @ y", (33, 9000), (9000, 1)),  # K = 9000: two splits of 4,608, 5 row blocks of 8
    ("gemv_row_epilogue", "torch.relu(x @ y) + 1.0", (1, 40), (40, 70)),
    ("gemv_transposed_matrix", "x.t() @ y", (300, 20), (300, 1)),
    ("bmm_gemv", "torch.bmm(x, y)", (2, 5, 40), (2, 40, 1)),
    ("split_k_triu", "torch.triu(x @ y, diagonal=1)", (12, 2100), (2100, 12)),  # 4 splits of 576, the last ragged
    ("split_k_epilogue", "torch.sigmoid(x @ y) + z", (9, 2100), (2100, 12), (12,)),
    ("bmm_split_k", "torch.bmm(x, y.transpose(1, 2))", (2, 5, 1100), (2, 6, 1100)),
]:
    CASES[_name] = (_body, ", ".join(f"torch.randn{shape}" for shape in _shapes))


results = results_fixture(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch(case: str, results: dict) -> None:
    got = matched(results, case)
    if case.startswith(("bmm", "triu", "tril", "gemv", "split_k")):
        assert got["kinds"] == ["matmul"], got["describe"]  # epilogue and triangle mask fused


def test_matmul_tile_is_real_source() -> None:
    tree = ast.parse(dense.MATMUL_SOURCE)
    assert [f.name for f in tree.body if isinstance(f, ast.FunctionDef)] == ["matmul_tile"]


def _launched(body: str, inputs: str, tmp_path: Path) -> list[str]:
    """The kernels the CPU candidate's forward launches for these inputs (on the meta device: no run)."""
    plan = plan_here(reference_source(body, inputs))
    (tmp_path / "cand.py").write_text(plan.variants("cpu")[0][0])
    spec = importlib.util.spec_from_file_location("cand_path_by_shape", tmp_path / "cand.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names: list[str] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        def __getitem__(self, grid: object) -> object:
            return lambda *args, **kwargs: names.append(self.name)

    for name in [n for n in vars(module) if n.startswith("_k")]:
        setattr(module, name, Recorder(name.split("_matmul")[-1] or "direct"))
    torch.manual_seed(0)
    ref_inputs = eval(f"[{inputs}]", {"torch": torch})
    module.ModelNew()(*[t.to("meta") for t in ref_inputs])
    return names


@pytest.mark.parametrize(
    ("body", "inputs", "kernels"),
    [
        ("x @ y", "torch.randn(8, 4096), torch.randn(4096, 1)", ["_gemv", "_reduce"]),  # level 1's 4, small
        ("x @ y", "torch.randn(1, 64), torch.randn(64, 32)", ["_gemv", "_reduce"]),
        ("x @ y", "torch.randn(8, 4096), torch.randn(4096, 8)", ["_split", "_reduce"]),  # level 1's 6, small
        ("x @ y", "torch.randn(256, 256), torch.randn(256, 256)", ["direct"]),  # level 1's 1, small
        ("x @ y", "torch.randn(32, 128), torch.randn(128, 64)", ["direct"]),  # level 1's 2, small
        ("x @ y", "torch.randn(2, 60), torch.randn(60, 7)", ["direct"]),  # K small in absolute terms
        ("x @ y", "torch.randn(64, 1024), torch.randn(1024, 512)", ["direct"]),  # K not 4x max(M, N)
    ],
)
def test_path_by_shape(body: str, inputs: str, kernels: list[str], tmp_path: Path) -> None:
    assert _launched(body, inputs, tmp_path) == kernels


def test_gemv_has_no_dot_and_split_k_keeps_it() -> None:
    plan = plan_here(reference_source("x @ y", "torch.randn(8, 64), torch.randn(64, 1)"))
    source = plan.variants("cpu")[0][0]
    gemv = source.split("_gemv(")[1].split("@triton.jit")[0]
    split = source.split("_split(")[1].split("@triton.jit")[0]
    assert "tl.dot" not in gemv and "tl.sum(acc, axis=1)" in gemv
    assert "matmul_tile(" in split
