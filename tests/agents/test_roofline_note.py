"""The LLM loop's roofline feedback uses the GPU the kernel was timed on (tasks.roofline_share)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import tasks
from agents.llm.loop import roofline_note
from verifier import Report
from verifier.report import Timing

TASK = "dwconv2d.convnext_7x7"


def _report(device_name: str, shape: str = "stage1") -> Report:
    timing = Timing(device_name, 0.05, 0.1, 0.08, 2.0, 1.25, 100, 10, "cuda-events", shape=shape)
    return Report("accepted", timing=timing, device="cuda", shapes=[shape])


def _session(task_id: str | None = TASK) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(task_id=task_id))


@pytest.mark.parametrize(("device", "profile"), [("NVIDIA H200", "h200"), ("NVIDIA H100 80GB HBM3", "h100-sxm")])
def test_note_is_on_the_timing_devices_profile(device: str, profile: str) -> None:
    note = roofline_note(_session(), _report(device))  # type: ignore[arg-type]
    floor = tasks.roofline(tasks.get(TASK), "stage1", profile).floor_ms
    assert note.startswith(f"Roofline ({profile}, shape stage1)")
    assert f"reaches {floor / 0.05:.1%}" in note


def test_no_note_without_a_profile_or_on_a_small_shape() -> None:
    assert roofline_note(_session(), _report("NVIDIA A100-SXM4-80GB")) == ""  # type: ignore[arg-type]
    small = tasks.get(TASK).shape_names("small")[0]
    assert roofline_note(_session(), _report("NVIDIA H200", small)) == ""  # type: ignore[arg-type]
    assert roofline_note(_session(None), _report("NVIDIA H200")) == ""  # type: ignore[arg-type]
