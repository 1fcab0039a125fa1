"""The template compiler's generic pointwise, reduction and scan paths against torch (Triton interpreter).

Each case is a tiny reference: its trace is lowered and emitted as a candidate, the candidate is run
on the CPU interpreter and compared with the reference's own forward (tutorial style: the kernels,
their launcher, a check), every case in one child process without a sandbox (``template_harness``).
One case also goes through ``verify()`` end to end.
"""

from __future__ import annotations

import pytest

import agents
from tests.agents.template_harness import matched, reference_source, results_fixture
from verifier import Reference, VerifyOptions

OPTIONS = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=180)

X = "torch.randn(3, 5, 7)"
CASES = {
    # pointwise activations with scalar arguments, all fused into one elementwise kernel
    "activations": (
        "F.leaky_relu(x, 0.1) + F.selu(x) + F.elu(x, 0.7) + F.softplus(x, 2.0, 3.0) + F.hardsigmoid(x)"
        " + F.hardswish(x) + F.mish(x) + F.hardtanh(x, -0.5, 0.5) + torch.pow(torch.abs(x) + 1, 1.7)",
        X,
    ),
    "sum_keepdim": ("torch.sum(x, dim=1, keepdim=True) * 2", X),
    "mean_non_adjacent_dims": ("torch.mean(x, dim=(0, 2))", X),
    "max_last": ("torch.max(x, dim=-1)[0]", X),
    "argmin_middle": ("torch.argmin(x, dim=1)", X),
    "argmax_ties": ("torch.argmax(torch.round(x), dim=2)", X),
    "prod_first": ("torch.prod(x, dim=0)", "torch.rand(3, 5, 7) + 0.5"),
    "var_std": ("torch.var(x, dim=2) + torch.std(x, dim=1, keepdim=True).mean()", X),
    "l2_and_frobenius": ("x / torch.norm(x, p=2, dim=1, keepdim=True) + x / torch.norm(x, p='fro')", X),
    "log_softmax_dim0": ("torch.log_softmax(x, dim=0)", X),
    "softmax_dim1": ("torch.softmax(x, dim=1)", X),
    "cumsum_reverse": ("torch.cumsum(x.flip(2), dim=2).flip(2)", "torch.randn(3, 5, 300)"),
    "cumprod": ("torch.cumprod(x, dim=1)", "torch.rand(3, 5, 7) + 0.5"),
    "smooth_l1_and_mse": (
        "F.smooth_l1_loss(x, y, beta=0.5) + F.mse_loss(x, y)",
        X + ", " + X,
    ),
    "cross_entropy": ("F.cross_entropy(x, y)", "torch.randn(6, 5), torch.randint(0, 5, (6,))"),
    "nll_loss_ignored_index_sum": (
        'F.nll_loss(torch.log_softmax(x, 1), y, ignore_index=2, reduction="sum") + F.nll_loss(x, y, ignore_index=2)',
        "torch.randn(9, 4), torch.randint(0, 4, (9,))",
    ),
    "layer_norm_two_dims": ("self.norm(x)", X, "        self.norm = nn.LayerNorm((5, 7))"),
    "layer_norm_and_softmax_rows": ("torch.softmax(self.norm(x), dim=-1)", X, "        self.norm = nn.LayerNorm(7)"),
    "max_pool1d_ceil_dilated": ("F.max_pool1d(x, 3, 2, 1, dilation=2, ceil_mode=True)", X),
    "avg_pool2d_ceil_pad_counts": (
        "F.avg_pool2d(x, 3, 2, 1, ceil_mode=True) + F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)",
        "torch.randn(2, 3, 8, 7)",
    ),
    "max_avg_pool3d": (
        "F.max_pool3d(x, 2) + F.avg_pool3d(x, (2, 2, 2), divisor_override=3)",
        "torch.randn(2, 2, 5, 6, 4)",
    ),
    "conv2d_strided_dilated": (
        "self.conv(x)",
        "torch.randn(2, 4, 9, 8)",
        "        self.conv = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 1))",
    ),
    "conv1d_grouped_no_bias": (
        "self.conv(x)",
        "torch.randn(2, 4, 11)",
        "        self.conv = nn.Conv1d(4, 6, 3, stride=2, groups=2, bias=False)",
    ),
    "conv3d": (
        "self.conv(x)",
        "torch.randn(1, 2, 4, 5, 3)",
        "        self.conv = nn.Conv3d(2, 3, (2, 3, 1), padding=1)",
    ),
    "group_norm_of_computed": (
        "self.norm(torch.relu(x))",
        "torch.randn(2, 6, 4, 3)",
        "        self.norm = nn.GroupNorm(3, 6)",
    ),
    "group_norm_of_input": ("self.norm(x)", "torch.randn(2, 6, 5)", "        self.norm = nn.GroupNorm(2, 6)"),
    "instance_norm": ("self.norm(x)", "torch.randn(2, 3, 4, 5)", "        self.norm = nn.InstanceNorm2d(3)"),
    # the verifier runs modules in eval mode: running statistics; F.batch_norm(training=True): batch statistics
    "batch_norm_eval": ("self.norm(x)", "torch.randn(4, 3, 5, 6)", "        self.norm = nn.BatchNorm2d(3)"),
    "batch_norm_batch_stats": ("F.batch_norm(x, None, None, training=True)", "torch.randn(4, 3, 5, 6)"),
}


results = results_fixture(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_generic_path_matches_torch(case: str, results: dict) -> None:
    matched(results, case)


def test_reduction_kernel_verifies_end_to_end() -> None:
    body = "torch.log_softmax(x, dim=1) + torch.argmax(x, dim=1, keepdim=True)"
    source = reference_source(body, "torch.randn(4, 33, 6)")
    request = agents.GenerationRequest(
        reference=Reference(source=source, name="logsoftmax_argmax"), verify_options=OPTIONS
    )
    result = agents.generate(request)
    assert result.best is not None, (
        result.stopped_because,
        result.errors,
        [c.report.reasons for c in result.candidates],
    )
    assert "reduce" in result.best.params["kernels"]


def test_pool_kernel_is_real_source_emitted_once() -> None:
    import ast

    from agents.template.templates import pool
    from tests.agents.template_harness import plan_here

    tree = ast.parse(pool.POOL_SOURCE)
    assert [f.name for f in tree.body if isinstance(f, ast.FunctionDef)] == ["pool_kernel"]
    source = reference_source("F.max_pool2d(F.avg_pool2d(x, 2), 2)", "torch.randn(1, 2, 8, 8)")
    candidate, _ = plan_here(source).variants("cpu")[0]
    assert candidate.count("def pool_kernel(") == 1
