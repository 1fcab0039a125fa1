"""benchmarks/template_kernels.py publishes the best of several timed profiles only after timing it
once more against a fresh eager run (the best of N noisy figures is biased upwards). The generator
and the verifier are replaced by fakes here: what is checked is which figure is published."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

import benchmarks.template_kernels as tk
from agents.types import CandidateResult, GenerationResult
from verifier.report import Report, Timing

DEVICE = "NVIDIA H100 80GB HBM3"


def _report(candidate_ms: float, eager_ms: float) -> Report:
    speedup = eager_ms / candidate_ms
    timing = Timing(
        DEVICE,
        candidate_ms,
        eager_ms,
        2.0,
        speedup,
        2.0 / candidate_ms,
        100,
        10,
        "events",
        shape="gpt2_attention",
        speedup_low=speedup * 0.95,
        speedup_high=speedup * 1.05,
    )
    return Report("accepted", timing=timing, device="cuda", shapes=["gpt2_attention"])


def _args(recheck: bool) -> argparse.Namespace:
    """The benchmark's command line: on cuda, the first shape, 4 profiles, 1 trial of 2 calls."""
    line = "--shapes first --timeout 60 --trials 1 --calls 2 --budget 4 --max-seconds 20"
    return tk.arguments().parse_args(line.split() + (["--recheck"] if recheck else []))


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    verified: list[Any] = []
    lucky = CandidateResult("lucky source", "triton", "template", _report(0.5, 1.5), {"profile": "a"})
    other = CandidateResult("other source", "triton", "template", _report(0.6, 1.5), {"profile": "b"})
    result = GenerationResult(best=lucky, candidates=[lucky, other], stopped_because="exhausted")
    monkeypatch.setattr(tk.agents, "generate", lambda request: result)
    monkeypatch.setattr(tk, "reference_for", lambda task_id, device, shapes: tk.Reference(source="ref"))

    def verify(reference: Any, candidate: Any, options: Any) -> Report:
        verified.append((candidate.source, options.compare_compile))
        return _report(0.55, 1.4)  # the lucky figure does not repeat

    monkeypatch.setattr(tk, "verify", verify)
    return verified


def test_the_best_of_several_is_timed_again_and_that_figure_is_published(fakes: list[Any]) -> None:
    row = tk.run_task("general.softmax", _args(recheck=True))
    assert fakes == [("lucky source", False)]  # the winner, against a fresh eager run, no compile again
    assert row["selected_timing"]["speedup_eager"] == pytest.approx(3.0)
    assert row["timing"]["speedup_eager"] == pytest.approx(1.4 / 0.55)
    assert row["timing"]["compiled_ms"] == 2.0 and row["timing"]["speedup_compiled"] == pytest.approx(2.0 / 0.55)
    assert row["rounds"]["rounds"] == 2 and row["rounds"]["min"] == pytest.approx(1.4 / 0.55)
    assert row["implausible"] is None


def test_without_recheck_the_selected_figure_stands(fakes: list[Any]) -> None:
    row = tk.run_task("general.softmax", _args(recheck=False))
    assert fakes == [] and row["timing"]["speedup_eager"] == pytest.approx(3.0) and "rounds" not in row
