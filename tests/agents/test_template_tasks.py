"""The template compiler's kernels verify as accepted on CPU (Triton interpreter), one task per family.

Set KILN_AGENTS_ALL_TEMPLATES=1 to run every task of the suite (about 2-3 minutes on 2 cores).
"""

from __future__ import annotations

import os

import pytest

import agents
import tasks
from verifier import Reference, VerifyOptions
from verifier.static_screen import screen

OPTIONS = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=180)

REPRESENTATIVE = [
    "dwconv2d.unireplknet_13x13_dilated",  # 13x13 plus five dilated branches, summed in one kernel
    "dwconv2d.inceptionnext_mixer",  # 3x3, 1x11 and 11x1 bands on split channels, concatenated in place
    "dwconv2d.van_lka",  # 5x5 dw -> 7x7 dw dilation 3 -> 1x1 conv with the gating multiply fused
    "conv1d.long_causal",
    "spmm.csr",
    "gcn.layer",
    "fftconv.long_conv",
    "fftconv.gated_long_conv",
]
TASK_IDS = tasks.ids() if os.environ.get("KILN_AGENTS_ALL_TEMPLATES") else REPRESENTATIVE


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_template_kernel_is_accepted(task_id: str) -> None:
    events: list[dict] = []
    request = agents.GenerationRequest(
        reference=agents.reference_for_task(task_id, "cpu"), task_id=task_id, verify_options=OPTIONS
    )
    result = agents.generate(request, on_event=events.append)
    assert result.best is not None, (
        result.stopped_because,
        result.errors,
        [c.report.reasons for c in result.candidates],
    )
    best = result.best
    assert best.report.verdict == "accepted" and best.origin == "template"
    assert result.stopped_because == "exhausted"
    assert len(result.candidates) == 1  # one tuning profile on a CPU
    assert set(best.report.shapes) == set(tasks.get(task_id).shape_names("small"))
    assert best.params["profile"] == "cpu"
    assert screen(best.source) == []
    assert "torch.fft" not in best.source and "F.conv" not in best.source
    assert [e["type"] for e in events][:1] == ["started"] and events[-1]["type"] == "finished"


NOT_A_TEMPLATE = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return torch.fmod(x, 3.0)


def get_inputs():
    return [torch.randn(8, 8)]


def get_init_inputs():
    return []
"""


def test_unrecognised_op_gets_no_template() -> None:
    request = agents.GenerationRequest(reference=Reference(source=NOT_A_TEMPLATE, name="fmod"), verify_options=OPTIONS)
    result = agents.generate(request)
    assert result.best is None and result.candidates == []
    assert result.stopped_because == "no template"
    assert any("aten.fmod" in e for e in result.errors)


def test_cuda_language_has_no_template() -> None:
    request = agents.GenerationRequest(
        reference=agents.reference_for_task("conv1d.long_causal", "cpu"), language="cuda", verify_options=OPTIONS
    )
    result = agents.generate(request)
    assert result.stopped_because == "no template" and "Triton kernels only" in result.errors[0]
