"""Fused normalisations (``norm`` nodes: statistics and output in one kernel) against torch in the
Triton interpreter (``template_harness``): layer norm over several dims, group, instance and batch norm
with batch statistics, and the RMSNorm / L1 / L2 / max patterns written as torch ops; whole rows in
registers and long rows looped over twice, over the last dim and over a middle one; with the CPU
profile and the default GPU profile's (smaller) tiles."""

from __future__ import annotations

import pytest

from agents.template.templates.rows import ROW_ELEMENTS
from tests.agents.template_harness import matched, plan_here, reference_source, results_fixture

AFFINE = "\n        nn.init.normal_(self.norm.weight)\n        nn.init.normal_(self.norm.bias)"
LONG = ROW_ELEMENTS + 904  # past the one-pass tile: the looped form, a partial last chunk
CASES = {
    "rmsnorm_middle_dim": (
        "x / torch.sqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-5)",
        "torch.randn(2, 8, 4, 5)",
    ),
    "rmsnorm_last_dim_long": (
        "x / torch.sqrt(torch.mean(x ** 2, dim=-1, keepdim=True) + 1e-5)",
        f"torch.randn(2, {LONG})",
    ),
    "rmsnorm_middle_dim_long_rsqrt": (
        "x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-6)",
        "torch.randn(2, 600, 70)",
    ),
    "l1_normalise": ("x / torch.sum(torch.abs(x), dim=1, keepdim=True)", "torch.randn(5, 33)"),
    "l2_normalise_scaled": ("x / torch.norm(x, p=2, dim=1, keepdim=True) * 2", "torch.randn(3, 9, 7)"),
    "max_normalise_two_dims": ("x / torch.amax(torch.abs(x), dim=(1, 2), keepdim=True)", "torch.randn(3, 9, 7)"),
    "layer_norm_two_dims_affine": (
        "self.norm(x)",
        "torch.randn(3, 5, 7)",
        "        self.norm = nn.LayerNorm((5, 7))" + AFFINE,
    ),
    "layer_norm_two_dims_long_far_from_zero": (
        "self.norm(x)",
        "torch.randn(2, 80, 70) * 2 + 100.0",
        "        self.norm = nn.LayerNorm((80, 70))" + AFFINE,
    ),
    "group_norm_affine": ("self.norm(x)", "torch.randn(2, 6, 5)", "        self.norm = nn.GroupNorm(2, 6)" + AFFINE),
    "group_norm_long": ("self.norm(x)", "torch.randn(2, 4, 50, 50)", "        self.norm = nn.GroupNorm(2, 4)" + AFFINE),
    "instance_norm": ("self.norm(x)", "torch.randn(2, 3, 4, 5)", "        self.norm = nn.InstanceNorm2d(3)"),
    "batch_norm_batch_stats_long_affine": (
        "F.batch_norm(x, None, None, y, z, training=True)",
        "torch.randn(8, 3, 30, 30) + 5, torch.randn(3), torch.randn(3)",
    ),
    "batch_norm_batch_stats_1d": ("F.batch_norm(x, None, None, training=True)", "torch.randn(8, 3, 30)"),
    "batch_norm_batch_stats_2d": ("F.batch_norm(x, None, None, training=True)", "torch.randn(8, 3)"),
}

results = results_fixture(CASES, [None, "small_tiles"], ["cpu", "small_tiles"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_norm_matches_torch(case: str, results: dict) -> None:
    got = matched(results, case)
    assert got["kinds"] == ["norm"], got["describe"]


def test_reduction_read_elsewhere_is_not_fused() -> None:
    """A statistic the output also returns stays a reduction of its own (nothing computed twice)."""
    source = reference_source(
        "x / torch.sum(x, dim=1, keepdim=True) + torch.sum(x, dim=1, keepdim=True)", "torch.randn(3, 4)"
    )
    kinds = [n.kind for n in plan_here(source).program.nodes]
    assert "norm" not in kinds and "reduce" in kinds, kinds


FOLDED = {
    "huber_loss": ("F.huber_loss(x, y, delta=0.5)", "torch.randn(4, 9, 7), torch.randn(4, 9, 7)"),
    "mse_over_non_adjacent_dims": (
        "torch.mean((x - y) ** 2, dim=(0, 2))",
        "torch.randn(4, 9, 7), torch.randn(4, 9, 7)",
    ),
    "argmax_of_product_middle_dim": ("torch.argmax(x * y, dim=1)", "torch.randn(3, 40, 33), torch.randn(3, 40, 33)"),
    "frobenius_sum_of_squares": ("torch.sum(x * x)", "torch.randn(5, 300)"),
    "hinge_broadcast_targets": (
        "torch.mean(torch.clamp(1 - x * y, min=0))",
        "torch.randn(6, 50), torch.randint(0, 2, (50,)).float() * 2 - 1",
    ),
    "weighted_sum_rows_broadcast_weight": ("torch.sum(x * y, dim=1)", "torch.randn(6, 5, 7), torch.randn(5, 7)"),
}

folded = results_fixture(FOLDED)


@pytest.mark.parametrize("case", sorted(FOLDED))
def test_reduction_evaluates_its_expression_on_load(case: str, folded: dict) -> None:
    """A reduction of an expression of same-shape inputs reads the inputs: no elementwise buffer first."""
    got = matched(folded, case)
    assert got["kinds"] == ["reduce"], got["describe"]


SOFTMAX = {
    "log_softmax_last_dim": ("torch.log_softmax(x, dim=-1)", "torch.randn(5, 33) * 4"),
    "log_softmax_last_dim_long": ("torch.log_softmax(x, dim=1)", f"torch.randn(2, {LONG}) * 4"),
    "softmax_middle_dim": ("torch.softmax(x, dim=1)", "torch.randn(3, 40, 33) * 4"),
    "log_softmax_first_dim_long": ("torch.log_softmax(x, dim=0)", "torch.randn(700, 70) * 4"),
}

CROSS_ENTROPY = {
    "cross_entropy": ("F.cross_entropy(x, y)", "torch.randn(6, 5) * 4, torch.randint(0, 5, (6,))"),
    "cross_entropy_long_rows_sum": (
        'F.cross_entropy(x, y, reduction="sum")',
        "torch.randn(3, 3000) * 4, torch.randint(0, 3000, (3,))",
    ),
    "cross_entropy_ignored_none": (
        'F.cross_entropy(x, y, ignore_index=2, reduction="none")',
        "torch.randn(9, 4), torch.randint(0, 4, (9,))",
    ),
    "log_softmax_also_returned": (
        "F.nll_loss(torch.log_softmax(x, 1), y) + torch.log_softmax(x, 1).sum()",
        "torch.randn(6, 5), torch.randint(0, 5, (6,))",
    ),
}

cross_entropy = results_fixture(CROSS_ENTROPY, [None, "small_tiles"], ["cpu", "small_tiles"])


@pytest.mark.parametrize("case", sorted(CROSS_ENTROPY))
def test_cross_entropy_writes_no_log_softmax(case: str, cross_entropy: dict) -> None:
    """Cross entropy is logsumexp(x_i) - x[i, t_i] a row; a log-softmax read elsewhere is still computed."""
    got = matched(cross_entropy, case)
    assert ("norm" in got["kinds"]) == (case == "log_softmax_also_returned"), got["describe"]


softmax = results_fixture(SOFTMAX, [None, "small_tiles"], ["cpu", "small_tiles"])


@pytest.mark.parametrize("case", sorted(SOFTMAX))
def test_softmax_over_any_dim_is_one_kernel(case: str, softmax: dict) -> None:
    got = matched(softmax, case)
    assert got["kinds"][0] == "norm" and "reduce" not in got["kinds"][:1], got["describe"]
