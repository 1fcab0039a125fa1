"""Roofline figures: hand-computed FLOP/byte counts, floors, bounds, and the hardware table's labels."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import tasks
from tasks.roofline import RooflineUnavailableError

BUILTIN = [t for t in tasks.all_tasks() if t.origin == "builtin"]


def test_hardware_table_figures_and_provenance() -> None:
    sheet = tasks.get_hardware("h100-sxm")
    assert sheet.memory_bandwidth.value == 3.35e12
    assert sheet.peak("tensor.bfloat16").value == 989e12
    assert sheet.peak("tensor.tf32").value == 494e12
    assert sheet.peak("vector.float32").value == 67e12
    assert all(f.provenance == "datasheet" for f in [sheet.memory_bandwidth, *sheet.compute.values()])

    measured = tasks.get_hardware("h100-sxm-measured")
    assert measured.memory_bandwidth.value == 3.0e12
    assert measured.memory_bandwidth.provenance == "measured"
    assert "2026-11-13" in measured.memory_bandwidth.source and "read + written" in measured.memory_bandwidth.source
    assert measured.peak("tensor.bfloat16").value == 798e12
    assert measured.peak("tensor.bfloat16").provenance == "measured"
    # What was not measured is labelled as the datasheet's, not passed off as a measurement.
    assert measured.peak("tensor.tf32").provenance == "datasheet"
    assert measured.peak("vector.float32").provenance == "datasheet"
    with pytest.raises(KeyError, match="unknown hardware"):
        tasks.get_hardware("a100")


def test_convnext_stage1_by_hand() -> None:
    """32 x 96 x 56 x 56 float32, 7x7 depthwise + bias: memory-bound."""
    fig = tasks.roofline(tasks.get("dwconv2d.convnext_7x7"), "stage1", "h100-sxm")
    outputs = 32 * 96 * 56 * 56
    assert fig.flops == outputs * (2 * 49 + 1) == 953_745_408
    assert fig.min_bytes == 4 * (2 * outputs + 96 * 49 + 96) == 77_089_536
    assert fig.tensor_flops == 0 and fig.tensor_unit is None
    assert fig.memory_ms == pytest.approx(77_089_536 / 3.35e12 * 1e3)
    assert fig.compute_ms == pytest.approx(953_745_408 / 67e12 * 1e3)
    assert fig.bound == "memory" and fig.floor_ms == pytest.approx(0.0230118, rel=1e-5)
    assert fig.arithmetic_intensity == pytest.approx(953_745_408 / 77_089_536)
    measured = tasks.roofline(tasks.get("dwconv2d.convnext_7x7"), "stage1", "h100-sxm-measured")
    assert measured.floor_ms == pytest.approx(77_089_536 / 3.0e12 * 1e3)


def test_bf16_matmul_8192_by_hand() -> None:
    task = tasks.get("general.matmul")
    fig = tasks.roofline(task, "square_8192_bf16", "h100-sxm")
    assert fig.flops == fig.tensor_flops == 2 * 8192**3
    assert fig.min_bytes == 2 * 3 * 8192**2
    assert fig.tensor_unit == "tensor.bfloat16" and fig.bound == "compute"
    assert fig.floor_ms == pytest.approx(2 * 8192**3 / 989e12 * 1e3)  # 1.1117 ms
    measured = tasks.roofline(task, "square_8192_bf16", "h100-sxm-measured")
    assert measured.floor_ms == pytest.approx(1.377834, rel=1e-5)  # at the measured 798 TFLOP/s
    # A kernel as fast as the workplace's measured matmul reaches 100% of the measured roofline.
    assert measured.share_of_roofline(measured.floor_ms) == pytest.approx(1.0)
    assert tasks.share_of_roofline(task, "square_8192_bf16", 2.0, "h100-sxm-measured") == pytest.approx(
        1.377834 / 2.0, rel=1e-5
    )
    achieved = measured.achieved(1.377834)
    assert achieved["tflops"] == pytest.approx(798, rel=1e-5)
    # float32 operands are timed at TF32 (the float32 tolerance admits tf32 dots).
    assert tasks.roofline(task, "square_4096", "h100-sxm").tensor_unit == "tensor.tf32"


def test_spmm_cora_by_hand() -> None:
    fig = tasks.roofline(tasks.get("spmm.csr"), "cora_f16")
    assert fig.hardware == "h100-sxm"  # the default
    assert fig.flops == 2 * 10556 * 16
    # int64 crow (N+1) and col (nnz), float32 values (nnz), X and Y (N x F each).
    assert fig.min_bytes == 8 * (2708 + 1 + 10556) + 4 * 10556 + 4 * 2 * 2708 * 16 == 494_968
    assert fig.bound == "memory"


def test_gcn_splits_tensor_and_vector_work() -> None:
    task = tasks.get("gcn.layer")
    p = task.params("arxiv")
    fig = tasks.roofline(task, "arxiv", "h100-sxm")
    gemm = 2 * 169343 * 128 * 256
    aggregate = 2 * (1166243 + 169343) * 128 + 169343 * 256  # at width min(128, 256), plus bias
    assert p["IN_FEATURES"] == 128 and fig.tensor_flops == gemm and fig.flops == gemm + aggregate
    assert fig.compute_ms == pytest.approx((gemm / 494e12 + aggregate / 67e12) * 1e3)


def test_fftconv_counts_fft_work() -> None:
    fig = tasks.roofline(tasks.get("fftconv.long_conv"), "hyenadna_1m", "h100-sxm")
    n = 2 * (1 << 20)
    fft = 2.5 * n * math.log2(n)
    per_row = 2 * fft + 6 * (n // 2 + 1) + 2 * (1 << 20)
    assert fig.flops == pytest.approx(256 * per_row + 256 * fft)
    assert fig.min_bytes == 4 * (2 * 256 * (1 << 20) + 256 * (1 << 20) + 256)


@pytest.mark.parametrize("task", BUILTIN, ids=lambda t: t.id)
def test_every_realistic_shape_has_sane_figures(task: tasks.Task) -> None:
    for hw in tasks.HARDWARE:
        for s in task.shapes_in("realistic"):
            fig = tasks.roofline(task, s, hw)
            assert 0 < fig.flops < 1e16 and 1e3 < fig.min_bytes < 1e11  # under 100 GB
            assert 0 <= fig.tensor_flops <= fig.flops
            assert fig.floor_ms == pytest.approx(max(fig.compute_ms, fig.memory_ms))
            assert fig.bound == ("compute" if fig.compute_ms > fig.memory_ms else "memory")
            assert math.isfinite(fig.floor_ms) and fig.floor_ms > 0
            assert fig.share_of_roofline(fig.floor_ms * 4) == pytest.approx(0.25)
            assert "memory_bandwidth" in fig.figures and fig.to_dict()["task_id"] == task.id


def test_no_cost_model_no_roofline(tmp_path: Path) -> None:
    (tmp_path / "1_Relu.py").write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
        "        return torch.relu(x)\n\n\ndef get_inputs():\n    return [torch.randn(4, 4)]\n\n\n"
        "def get_init_inputs():\n    return []\n",
        encoding="utf-8",
    )
    (task,) = tasks.load_kernelbench_dir(tmp_path)
    with pytest.raises(RooflineUnavailableError):
        tasks.roofline(task, "as_written")
    with pytest.raises(ValueError):
        tasks.roofline(tasks.get("general.matmul"), "tiny").share_of_roofline(0)


def test_h200_profiles_figures_and_provenance() -> None:
    sheet = tasks.get_hardware("h200")
    assert sheet.memory_bandwidth.value == 4.8e12 and sheet.memory_bandwidth.provenance == "datasheet"
    # Same chip as the H100 SXM: the same compute peaks.
    assert dict(sheet.compute) == dict(tasks.get_hardware("h100-sxm").compute)
    measured = tasks.get_hardware("h200-measured")
    assert measured.memory_bandwidth.value == 4.3e12 and measured.memory_bandwidth.provenance == "measured"
    assert measured.peak("tensor.bfloat16").value == 780e12
    assert measured.peak("tensor.bfloat16").provenance == "measured"
    assert measured.peak("tensor.tf32").provenance == "datasheet"
    # A memory-bound shape's floor scales with the bandwidth: 3.35 / 4.8 of the H100's.
    task = tasks.get("dwconv2d.convnext_7x7")
    h100, h200 = tasks.roofline(task, "stage1", "h100-sxm"), tasks.roofline(task, "stage1", "h200")
    assert h200.bound == "memory" and h200.floor_ms == pytest.approx(h100.floor_ms * 3.35 / 4.8)


@pytest.mark.parametrize(
    ("device_name", "datasheet", "measured"),
    [
        ("NVIDIA H200", "h200", "h200-measured"),  # torch.cuda.get_device_name on the H200 SXM
        ("NVIDIA H100 80GB HBM3", "h100-sxm", "h100-sxm-measured"),
        ("NVIDIA H200 NVL", None, None),  # other memory and clocks: no profile
        ("NVIDIA GH200 480GB", None, None),
        ("NVIDIA H100 PCIe", None, None),
        ("NVIDIA A100-SXM4-80GB", None, None),
        ("", None, None),
    ],
)
def test_profile_is_chosen_from_the_device_name(device_name: str, datasheet: str | None, measured: str | None) -> None:
    assert tasks.profile_for_device(device_name) == datasheet
    assert tasks.profile_for_device(device_name, measured=True) == measured


def _timed_report(device_name: str, shape: str = "stage1") -> dict:
    timing = {"device_name": device_name, "candidate_ms": 0.05, "shape": shape}
    return {"timing": timing, "shapes": [shape]}


def test_the_share_rule_follows_the_timing_device() -> None:
    task = tasks.get("dwconv2d.convnext_7x7")
    on_h200 = tasks.roofline_share(task, _timed_report("NVIDIA H200"), 0.05, "NVIDIA H200")
    assert on_h200.hardware == "h200"
    assert on_h200.share == pytest.approx(tasks.roofline(task, "stage1", "h200").floor_ms / 0.05)
    measured = tasks.roofline_share(task, _timed_report("NVIDIA H200"), 0.05, "NVIDIA H200", measured=True)
    assert measured.hardware == "h200-measured" and measured.share > on_h200.share
    unknown = tasks.roofline_share(task, _timed_report("NVIDIA A100-SXM4-80GB"), 0.05, "NVIDIA A100-SXM4-80GB")
    assert unknown.share is None and "no roofline profile for NVIDIA A100" in unknown.why_not
