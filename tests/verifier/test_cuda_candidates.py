"""CUDA (load_inline) candidates on a host without a GPU: compile-checked with nvcc, never accepted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from verifier import Candidate, VerifyOptions, verify

CUDA_DIR = Path(__file__).parent / "cuda"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed on this host"),
]
OPTIONS = VerifyOptions(device="cpu", timeout_s=400)


def test_honest_cuda_candidate_compiles_but_is_not_run(prepared_reference) -> None:
    report = verify(prepared_reference, Candidate.from_file(CUDA_DIR / "honest_dwconv_cuda.py"), OPTIONS)
    assert report.language == "cuda"
    assert report.verdict == "not_run", report.reasons
    assert not report.accepted
    compile_check = next(c for c in report.checks if c.name == "compile")
    assert compile_check.passed and "sm_90" in compile_check.detail
    assert "not run" in report.reasons[0] and "no GPU" in report.reasons[0]


def test_cuda_compile_error_is_a_rejection_with_the_compiler_message(prepared_reference) -> None:
    honest = (CUDA_DIR / "honest_dwconv_cuda.py").read_text()
    broken = honest.replace("= acc;", "= acc + undeclared_bias_term;")  # nvcc must reject the identifier
    assert broken != honest
    report = verify(prepared_reference, Candidate(source=broken), OPTIONS)
    assert report.verdict == "rejected"
    assert report.reasons[0].startswith("compile: ")
    assert "undeclared_bias_term" in report.reasons[0]
