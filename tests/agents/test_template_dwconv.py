"""Depthwise 2D convolutions in every tap style the tuning profiles use (``strip``: input reuse across
the output strip through ``tl.gather``; ``vector``; ``unrolled``), against torch in the Triton
interpreter (``template_harness``), on shapes where most taps of a large kernel miss the image."""

from __future__ import annotations

import pytest

from agents.template.tuning import GPU_PROFILES
from tests.agents.template_harness import matched, results_fixture

CASES = {
    "dw7x7_same_bias": (
        "self.conv(x)",
        "torch.randn(2, 3, 11, 37)",
        "        self.conv = nn.Conv2d(3, 3, 7, padding=3, groups=3)",
    ),
    "dw31x31_mostly_outside": (
        "self.conv(x)",
        "torch.randn(1, 2, 9, 40)",
        "        self.conv = nn.Conv2d(2, 2, 31, padding=15, groups=2, bias=False)",
    ),
    "dw_strided_dilated_asymmetric": (
        "torch.relu(self.conv(x))",
        "torch.randn(1, 4, 13, 45)",
        "        self.conv = nn.Conv2d(4, 4, (3, 5), stride=(2, 3), padding=(1, 4), dilation=(2, 3), groups=4)",
    ),
    "dw_vertical_band_11x1": (
        "self.conv(x)",
        "torch.randn(1, 3, 21, 19)",
        "        self.conv = nn.Conv2d(3, 3, (11, 1), padding=(5, 0), groups=3)",
    ),
    "dw_vertical_band_strided_dilated": (
        "self.conv(x)",
        "torch.randn(1, 2, 30, 12)",
        "        self.conv = nn.Conv2d(2, 2, (5, 1), stride=(2, 1), padding=(3, 0), dilation=(3, 1), groups=2)",
    ),
    "dw_two_branches_summed": (
        "self.a(x) + self.b(x)",
        "torch.randn(1, 3, 10, 33)",
        "        self.a = nn.Conv2d(3, 3, 13, padding=6, groups=3)\n"
        "        self.b = nn.Conv2d(3, 3, 5, padding=4, dilation=2, groups=3)",
    ),
}
PROFILES = sorted({p["dwconv2d"].get("taps", "unrolled"): name for name, p in GPU_PROFILES.items()}.items())


results = results_fixture(CASES, [name for _, name in PROFILES], [taps for taps, _ in PROFILES])


@pytest.mark.parametrize("case", sorted(CASES))
def test_depthwise_matches_torch(case: str, results: dict) -> None:
    got = matched(results, case)
    assert got["kinds"].count("dwconv") == 1, got["kinds"]


def test_the_default_gpu_profile_reuses_inputs_across_the_strip() -> None:
    first = next(iter(GPU_PROFILES.values()))
    assert first["dwconv2d"]["taps"] == "strip"


@pytest.mark.slow
def test_strip_taps_halve_the_bytes_requested_per_output() -> None:
    """ConvNeXt's 7x7 depthwise at its small shape, verified on the CPU in both tap styles: the static
    profile's requested bytes per output element fall at least twice with the strip."""
    import tasks
    from agents.template import plan_template
    from agents.template.emit import emit_candidate
    from verifier import VerifyOptions, verify

    task = tasks.get("dwconv2d.convnext_7x7")
    shape = task.shape_names("small")[0]
    reference = task.reference(shapes=[shape])
    options = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=600)
    plan = plan_template(reference, options, shape)
    per_output = {}
    for taps in ("unrolled", "strip"):
        profile = {"dwconv2d": {"block_h": 8, "block_w": 32, "taps": taps, "num_warps": 2}}
        report = verify(reference, emit_candidate(plan.program, plan.model, profile, plan.title, taps), options)
        assert report.verdict == "accepted", report.reasons
        per_output[taps] = report.static_profile["summary"]["bytes_per_output"]
    assert per_output["strip"] * 2 <= per_output["unrolled"], per_output


@pytest.mark.slow
def test_vertical_band_loads_its_input_rows_once() -> None:
    """InceptionNeXt's 11x1 band at its small shape, the default GPU profile, verified on the CPU: the
    tile's input rows are one load (5.05x the compulsory bytes when each kernel row reloaded them)."""
    import tasks
    from tests.agents.template_harness import default_gpu_profile_summary

    task = tasks.get("dwconv2d.inceptionnext_band_11x1")
    shape = task.shape_names("small")[0]
    summary = default_gpu_profile_summary(task.reference(shapes=[shape]), shape)
    assert summary["traffic_ratio"] <= 1.5, summary
    # 81% since the runner's inputs are fresh, aligned allocations (79-81% while they were views into the
    # received frame, starting anywhere in a sector): the 80%
    assert summary["sector_efficiency"] >= 0.80, summary
    assert summary["spill_bytes"] == 0, summary
