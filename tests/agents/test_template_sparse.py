"""The template compiler's CSR SpMM (``templates/sparse.py``): a running sum along each chunk of edges,
verified on the CPU (Triton interpreter) with chunks short enough that hub rows span several of them,
and its static profile at the default GPU tuning profile on several random graphs."""

from __future__ import annotations

import pytest

import tasks
from agents.template import plan_template
from agents.template.emit import emit_candidate
from agents.template.tuning import GPU_PROFILES
from verifier import VerifyOptions, verify

OPTIONS = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=600)


def _plan(task_id: str, shapes: list[str]):
    reference = tasks.get(task_id).reference(shapes=shapes)
    return reference, plan_template(reference, OPTIONS, shapes[0])


@pytest.mark.parametrize("task_id", ["spmm.csr", "gcn.layer"])
def test_short_chunks_split_rows_and_stay_correct(task_id: str) -> None:
    """16 edges a chunk and 16 rows a block on every small shape (int64 and int32 indices, float32 and
    bfloat16, a bias epilogue for the GCN layer): rows cross chunk boundaries, some rows are empty."""
    shapes = tasks.get(task_id).shape_names("small")
    reference, plan = _plan(task_id, shapes)
    profile = {"spmm": {"block_m": 16, "block_e": 16, "block_f": 16, "num_warps": 4}}
    source = emit_candidate(plan.program, plan.model, profile, plan.title, "short_chunks")
    assert "be = max(16, 256 // n" in source and "tl.dot(w" not in source
    report = verify(reference, source, OPTIONS)
    assert report.verdict == "accepted", report.reasons


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_default_gpu_profile_meets_the_traffic_target(seed: int) -> None:
    """spmm.csr at its first small shape, the default GPU profile, on the graph of ``seed``: under 1.5x the
    compulsory bytes (1.42-1.50 before the running-sum chunks, 1.20-1.28 after: 128 edges a chunk at 16
    features instead of 64), at least 80% of sectors (88% before, 91-93% after), no spill in the sm_90
    build (219 registers before with the one-hot ``tl.dot``, 180 after)."""
    task = tasks.get("spmm.csr")
    shape = task.shape_names("small")[0]
    reference, plan = _plan("spmm.csr", [shape])
    name, profile = next(iter(GPU_PROFILES.items()))
    options = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=600, seed=seed)
    report = verify(reference, emit_candidate(plan.program, plan.model, profile, plan.title, name), options)
    assert report.verdict == "accepted", report.reasons
    summary = report.static_profile["summary"]
    assert summary["traffic_ratio"] <= 1.35, summary
    assert summary["sector_efficiency"] >= 0.85, summary
    assert summary["spill_bytes"] == 0 and summary["max_registers"] <= 200, summary
