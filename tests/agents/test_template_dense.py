"""Matmul variants, logsumexp and reshapes of the template compiler against torch (Triton interpreter).

Tutorial style, as ``test_template_conv``: a tiny module per case, its candidate run on the interpreter
and compared with the module's forward, all cases in one child process (``template_harness``).
"""

from __future__ import annotations

import ast

import pytest

from agents.template.templates import dense
from tests.agents.template_harness import matched, results_fixture

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


results = results_fixture(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch(case: str, results: dict) -> None:
    got = matched(results, case)
    if case.startswith(("bmm", "triu", "tril")):
        assert got["kinds"] == ["matmul"], got["describe"]  # epilogue and triangle mask fused


def test_matmul_tile_is_real_source() -> None:
    tree = ast.parse(dense.MATMUL_SOURCE)
    assert [f.name for f in tree.body if isinstance(f, ast.FunctionDef)] == ["matmul_tile"]
