"""Pure functions of the verifier: fallback allowlist, static screen details, fast_p, reports."""

from __future__ import annotations

import pytest
import torch

from verifier import Check, Report, Timing, degeneracy, fast_p
from verifier.allowlist import fallback_ops
from verifier.candidate_run import CandidateOutcome, _judge_timing
from verifier.evaluation import CheckLedger
from verifier.static_screen import screen


def test_layout_and_allocation_ops_are_not_fallbacks() -> None:
    ops = ["aten.empty", "aten.view", "aten.copy_", "aten.set_", "aten.clone", "aten._to_copy", "mylib.my_kernel"]
    assert fallback_ops(ops) == []


def test_compute_ops_are_fallbacks_unless_the_task_allows_them() -> None:
    ops = ["aten.convolution", "aten.mm", "aten.empty", "aten.arange"]
    assert fallback_ops(ops) == ["aten.arange", "aten.convolution", "aten.mm"]
    assert fallback_ops(ops, {"aten.arange"}) == ["aten.convolution", "aten.mm"]


@pytest.mark.parametrize(
    "source",
    [
        "import os\nos.environ['TORCH_CUDA_ARCH_LIST'] = '9.0'\n",
        "import torch\nimport triton.language as tl\nx = getattr(tl, 'float32')\n",
        "import torch\ntry:\n    y = 1\nexcept ValueError:\n    y = torch.empty(3)\n",
        "import math\nimport torch.nn.functional as F\nclass ModelNew:\n    def forward(self, x):\n        return x\n",
        # `.data` outside a kernel is not the interpreter's internals
        "import torch\nclass ModelNew:\n    def forward(self, x):\n        return x.data\n",
    ],
)
def test_honest_patterns_pass_the_screen(source: str) -> None:
    assert screen(source) == []


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("import torch\nname = 'allclose'\nf = getattr(torch, name)\n", "computed attribute name"),
        ("import torch as T\nT.equal = None\n", "assigns `torch.equal`"),
        ("import torch\ndef f(x):\n    return x.__class__.__bases__\n", ".__class__"),
        ("from torch.utils import _python_dispatch\n", "torch.utils._python_dispatch"),
        ("import os\nos.system('id')\n", "os.system"),
        ("x = eval('1')\n", "eval()"),
        ("import torch\ndef f(x):\n    return x.tolist()\n", ".tolist()"),
        ("import torch.utils.data.dataloader as d\nt = d.threading.Thread\n", "reaches the `threading` module"),
        (
            "import triton\n@triton.jit\ndef k(x_ptr):\n    v = x_ptr.handle.data.sum()\n",
            "accesses `.data` inside a Triton kernel",
        ),
    ],
)
def test_screen_names_the_construct_and_line(source: str, fragment: str) -> None:
    findings = [str(f) for f in screen(source)]
    assert any(fragment in f and f.startswith("line ") for f in findings), findings


def _report(verdict: str, speedup: float | None) -> Report:
    timing = None
    if speedup is not None:
        timing = Timing("H100", 1.0, speedup, None, speedup, None, 100, 10, "events")
    return Report(verdict=verdict, timing=timing)  # type: ignore[arg-type]


def test_fast_p_follows_kernelbench() -> None:
    reports = [_report("accepted", 2.0), _report("accepted", 1.2), _report("accepted", None), _report("rejected", 9.0)]
    assert fast_p(reports, 0) == 0.75  # correctness alone
    assert fast_p(reports, 1.0) == 0.5  # unmeasured speed is not claimed
    assert fast_p(reports, 1.5) == 0.25
    assert fast_p(reports, 2.0) == 0.0  # strictly faster than p
    assert fast_p([], 1.0) == 0.0


def test_report_roundtrips_through_json_dicts() -> None:
    report = _report("accepted", 1.5)
    report.checks = [Check("values", True, "ok")]
    back = Report.from_dict(report.to_dict())
    assert back == report
    with pytest.raises(ValueError, match="unknown verdict"):
        Report.from_dict({"verdict": "maybe"})


def test_cpu_reports_say_speed_was_not_measured() -> None:
    assert "not measured" in _report("accepted", None).summary()


def test_degeneracy_guard() -> None:
    assert degeneracy(torch.full((4, 4), 3.0)) is not None
    assert degeneracy(torch.zeros(10) + 1e-9) is not None
    assert degeneracy(torch.randn(10)) is None
    assert degeneracy(torch.tensor([5.0])) is None


def test_timer_tampering_is_caught_by_the_wall_clock_cross_check() -> None:
    ledger = CheckLedger()
    _judge_timing(ledger, CandidateOutcome(timing={"candidate_ms": 0.01}, wall_ms_per_call=0.5))
    assert not ledger.passed and "timing_consistency" in ledger.reasons()[0]
    honest = CheckLedger()
    _judge_timing(honest, CandidateOutcome(timing={"candidate_ms": 0.6}, wall_ms_per_call=0.5))
    assert honest.passed


def test_repeated_failures_are_grouped_with_their_count() -> None:
    ledger = CheckLedger()
    for call in range(3):
        ledger.fail("values", "3 elements exceed the bound", f"trial 1, call {call + 1}")
    assert ledger.reasons() == ["values: trial 1, call 1: 3 elements exceed the bound (same on 2 more call(s))"]
