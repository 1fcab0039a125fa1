"""GPU-only checks (skipped without CUDA): timing, speedups, timed-output checks, side streams."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.verifier.conftest import REFERENCE_FILE, corpus_entry
from tests.verifier.corpus_files import expand
from verifier import Candidate, Reference, VerifyOptions, prepare, verify

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
GPU_SHAPE = {"gpu": {"batch_size": 8, "channels": 64, "height": 128, "width": 128}}
OPTIONS = VerifyOptions(device="cuda", timing_runs=30, warmup_runs=5)


@pytest.fixture(scope="module")
def gpu_reference():
    return prepare(Reference.from_file(REFERENCE_FILE, shapes=GPU_SHAPE), OPTIONS)


def test_honest_kernel_is_timed_against_eager_and_compile(gpu_reference) -> None:
    report = verify(gpu_reference, corpus_entry("honest_dwconv").candidate(), OPTIONS)
    assert report.verdict == "accepted", report.reasons
    assert report.timing is not None and report.timing.candidate_ms > 0 and report.timing.eager_ms > 0
    assert report.timing.speedup_eager == pytest.approx(report.timing.eager_ms / report.timing.candidate_ms)
    # the eager baseline was timed again right after the candidate; the prepare-time one is kept beside it
    assert report.timing.eager_prepare_ms is not None and report.timing.eager_prepare_ms > 0
    assert not any("could not be timed again" in note for note in report.notes)
    checks = {c.name: c for c in report.checks}
    assert checks["timed_outputs"].passed and checks["timing_consistency"].passed and checks["stream"].passed


def test_side_stream_kernel_is_rejected(gpu_reference) -> None:
    gpu_dir = Path(__file__).parent / "gpu"
    source = expand((gpu_dir / "cheat_side_stream.py").read_text(), gpu_dir)
    options = VerifyOptions(device="cuda", timing_runs=30, warmup_runs=5, static_screen=False)
    report = verify(gpu_reference, Candidate(source=source), options)
    assert report.verdict == "rejected"
    assert "stream" in {c.name for c in report.checks if not c.passed}, report.reasons


def test_cached_outputs_cannot_win_the_timing(gpu_reference) -> None:
    report = verify(gpu_reference, corpus_entry("cheat_cached_outputs").candidate(), OPTIONS)
    assert report.verdict == "rejected" and report.timing is None
