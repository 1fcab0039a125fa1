"""tasks.roofline_share: which shape and GPU profile a timing is compared with, and when there is none."""

from __future__ import annotations

import pytest

import tasks
from tasks.roofline_share import floors_profile, roofline_share, timed_shape
from tests.web.seed import A100, H100, fixture_report, gpu_timing

TASK = tasks.get("dwconv2d.convnext_7x7")


def _report(**kwargs: object) -> dict:
    return fixture_report(TASK.source, "candidate", env=H100, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "device_name, profile",
    [
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", None),
        ("NVIDIA H100 NVL", None),
        ("NVIDIA A100-SXM4-80GB", None),
        ("NVIDIA H200", "h200"),
        ("NVIDIA H200 NVL", None),
        ("NVIDIA GH200 480GB", None),
        ("AMD EPYC", None),
    ],
)
def test_h100_and_h200_sxm_get_their_datasheet_profiles(device_name: str, profile: str | None) -> None:
    assert tasks.profile_for_device(device_name) == profile
    assert floors_profile(device_name) == (profile or tasks.DEFAULT_HARDWARE)


def test_the_timed_shape_is_the_one_the_timing_names() -> None:
    report = _report(timing=gpu_timing(2.0, shape="stage3"), shapes=["stage1", "stage3"])
    assert timed_shape(TASK, report).name == "stage3"


def test_without_a_named_shape_the_first_verified_shape_in_task_order_was_timed() -> None:
    # The verifier times trial 0, whose shape is the reference's first (the task's declaration order).
    report = _report(timing=gpu_timing(2.0, shape=""), shapes=["stage4", "stage2"])  # reports list them sorted
    assert timed_shape(TASK, report).name == "stage2"


def test_share_is_the_floor_over_the_kernel_time() -> None:
    timing = gpu_timing(2.0, shape="stage1")
    share = roofline_share(TASK, _report(timing=timing), timing["candidate_ms"], H100["device_name"])
    expected = tasks.share_of_roofline(TASK, "stage1", timing["candidate_ms"], "h100-sxm")
    assert share.share == pytest.approx(expected) and share.shape == "stage1" and share.hardware == "h100-sxm"
    assert share.floor_ms == pytest.approx(tasks.roofline(TASK, "stage1").floor_ms)
    assert "stage1" in share.title


@pytest.mark.parametrize(
    "report_kwargs, candidate_ms, device, why",
    [
        ({"timing": None}, None, H100["device_name"], "not measured on a GPU"),
        ({"timing": gpu_timing(2.0)}, 0.1, A100["device_name"], "no roofline profile for NVIDIA A100"),
        ({"timing": gpu_timing(2.0, shape="tiny")}, 0.1, H100["device_name"], "small shape tiny"),
        ({"timing": gpu_timing(2.0, shape=""), "shapes": ["as written"]}, 0.1, H100["device_name"], "which shape"),
    ],
)
def test_no_share_is_claimed_without_a_gpu_timing_a_profile_or_a_realistic_shape(
    report_kwargs: dict, candidate_ms: float | None, device: str, why: str
) -> None:
    share = roofline_share(TASK, _report(**report_kwargs), candidate_ms, device)
    assert share.share is None and why in share.why_not


def test_a_submitted_reference_has_no_cost_model() -> None:
    share = roofline_share(None, _report(timing=gpu_timing(2.0)), 0.1, H100["device_name"])
    assert share.share is None and "no cost model" in share.why_not
