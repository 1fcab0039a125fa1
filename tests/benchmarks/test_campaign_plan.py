"""The GPU campaign's plan (limits, estimate) and report summary: pure functions, no GPU, no processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import campaign_plan as plan
from benchmarks.campaign_report import part_report, summarise


@pytest.mark.parametrize("sandboxed", [True, False])
def test_the_gpu_plan_fits_eight_minutes_by_its_own_estimate_and_limits(sandboxed: bool) -> None:
    parts = plan.plan(sandboxed)
    assert [p.name for p in parts] == ["env", "template", "corpus", "stability", "gpu-tests"]
    assert plan.total_limit(parts) <= plan.GPU_BUDGET_S  # even if every part runs to its limit
    assert plan.total_estimate(parts) < plan.total_limit(parts)
    text = plan.render(parts)
    assert text.startswith("plan (estimates from per-step costs") and ": fits in 480 s" in text
    template = parts[1]
    assert template.expected_items()[:2] == ["general.matmul", "general.softmax"]  # matmul and softmax first
    stability = parts[3]
    assert len([i for i in stability.expected_items() if i.startswith("run")]) >= 2  # a spread needs two runs
    corpus = parts[2]
    if sandboxed:
        assert corpus.expected_items()[:2] == ["prepare", "honest_dwconv"]  # the timed entry first
    else:
        assert corpus.limit_s == 0 and "no sandbox" in corpus.note
        assert template.limit_s == plan.GPU_LIMITS["template"] + plan.GPU_LIMITS["corpus"]  # gets the time


def test_a_part_expects_only_what_fits_before_its_deadline() -> None:
    part = plan.PartPlan("x", 100, [plan.Item("a", 40), plan.Item("b", 40), plan.Item("c", 40)])
    assert part.deadline_s == 85 and part.expected_items() == ["a", "b"] and part.estimate_s == 85
    short = plan.PartPlan("y", 20, [plan.Item("a", 8)])
    assert short.deadline_s == 15 and short.expected_items() == ["a"]  # a quarter of a short limit
    over = plan.plan(True, limits={"template": 600})
    assert "DOES NOT FIT" in plan.render(over)


def test_a_limit_from_the_command_line_wins() -> None:
    parts = {p.name: p for p in plan.plan(True, limits={"gpu-tests": 60, "template": 100})}
    assert parts["gpu-tests"].limit_s == 60 and parts["gpu-tests"].items
    assert parts["template"].limit_s == 100


def _write(parts: Path, name: str, data: object) -> None:
    (parts / f"{name}.json").write_text(json.dumps(data))


def test_the_report_of_a_run_without_a_sandbox_says_so_and_passes(tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    _write(parts, "env", {"mode": "GPU run", "git_commit": "abc"})
    _write(parts, "sandbox", {"mechanism": "none", "trusted_code": True, "consequence": "corpus skipped"})
    for name, status in [("env", "done"), ("template", "done"), ("corpus", "skipped"), ("stability", "done")]:
        _write(parts, f"{name}.status", {"status": status, "seconds": 1, "limit_s": 0 if status == "skipped" else 9})
    _write(parts, "gpu-tests.status", {"status": "skipped", "seconds": 0, "limit_s": 0})
    timing = {"candidate_ms": 0.1, "eager_ms": 0.3, "speedup_eager": 3.0, "speedup_low": 2.8, "speedup_high": 3.1}
    tasks = [
        {"task_id": "general.matmul", "status": "done", "verdict": "accepted", "timing": timing},
        {"task_id": "general.softmax", "status": "done", "verdict": "accepted", "implausible": "speedup 12x"},
        {"task_id": "gcn.layer", "status": "not run", "note": "the part's deadline was reached"},
    ]
    _write(parts, "template", {"device": "cuda", "tasks": tasks})
    _write(parts, "stability", {"runs": [{"run": 1, "verdict": "accepted"}, {"run": 2, "verdict": "accepted"}]})
    assert part_report(tmp_path) == 0
    data = json.loads((tmp_path / "campaign.json").read_text())
    line = data["summary"]["line"]
    assert line.startswith("sandbox none (trusted code only)") and "corpus skipped (no sandbox)" in line
    assert "template 2/2 tasks accepted (1 not reached)" in line and "implausible: general.softmax" in line
    md = (tmp_path / "campaign.md").read_text()
    assert "| 3.00 | 2.80-3.10 |" in md  # the speedup and its interval
    assert "**re-check**" in md and "## Adversarial corpus: skipped" in md


def test_a_rejected_task_or_an_unexpected_corpus_verdict_fails_the_summary() -> None:
    base = {
        "parts": {key: {"status": "done"} for key in plan.PARTS},
        "gpu_tests": {"status": "passed"},
        "stability": {"runs": [{"verdict": "accepted"}]},
        "sandbox": {"mechanism": "bwrap"},
    }
    good_corpus = {
        "results": [{"verdict": "accepted", "as_expected": True}, {"verdict": "not run", "as_expected": None}]
    }
    ok = summarise({**base, "corpus": good_corpus, "template": {"tasks": [{"verdict": "accepted"}]}})
    assert ok["good"] and "corpus 1/1 as expected (1 not run)" in ok["line"]
    rejected = summarise({**base, "corpus": good_corpus, "template": {"tasks": [{"verdict": "rejected"}]}})
    assert not rejected["good"]
    bad = {"results": [{"verdict": "accepted", "as_expected": False}]}
    assert not summarise({**base, "corpus": bad, "template": {"tasks": [{"verdict": "accepted"}]}})["good"]
