"""Honest Triton kernels (test data in kernels/) pass for one task of every family; wrong ones fail.

Two checks: an in-process comparison under the Triton CPU interpreter (interp_check.py, in a
subprocess because TRITON_INTERPRET must be set before triton is imported), and the real verifier
(sandboxed workers, CPU interpreter) on each task's small tier. A kernel file may take the parts it
shares with its task's reference by an ``#include`` line (tests/verifier/corpus_files.py): both
checks get the file expanded, one standalone module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tasks
from tests.verifier.corpus_files import expand
from verifier import Report

HERE = Path(__file__).parent
KERNELS_SOURCE = HERE / "kernels"

# task id -> honest candidate: at least one per family (dwconv2d, conv1d, spmm/gcn, fftconv, general).
HONEST = {
    "dwconv2d.convnext_7x7": "dwconv2d_direct.py",
    "dwconv2d.inceptionnext_band_1x11": "dwconv2d_direct.py",
    "conv1d.long_causal": "conv1d_causal_direct.py",
    "spmm.csr": "spmm_csr_rowwise.py",
    "fftconv.long_conv": "fftconv_direct.py",
    "general.softmax": "softmax_rows.py",
}


def _expanded(directory: Path) -> Path:
    """Every kernel file with its ``#include`` lines expanded, written to ``directory``."""
    for path in KERNELS_SOURCE.glob("*.py"):
        text = expand(path.read_text(encoding="utf-8"), KERNELS_SOURCE, (path.resolve(),))
        (directory / path.name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _expanded(tmp_path_factory.mktemp("kernels"))


def _softmax_off_by_a_permille(kernels: Path, tmp: Path) -> Path:
    source = (kernels / "softmax_rows.py").read_text(encoding="utf-8")
    assert "/ total" in source
    path = tmp / "softmax_off.py"
    path.write_text(source.replace("/ total", "/ (total * 1.001)"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def interpreter_results(tmp_path_factory: pytest.TempPathFactory, kernels: Path) -> dict[str, dict[str, str | None]]:
    tmp = tmp_path_factory.mktemp("interp")
    pairs = [f"{t}={kernels / k}" for t, k in HONEST.items()]
    pairs.append(f"general.softmax={_softmax_off_by_a_permille(kernels, tmp)}")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "interp_check.py"), *pairs],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    return {pair.partition("=")[0] + ("" if "softmax_off" not in pair else ":mutant"): r for pair, r in raw.items()}


@pytest.mark.parametrize("task_id", list(HONEST))
def test_honest_kernel_matches_reference_in_interpreter(
    interpreter_results: dict[str, dict[str, str | None]], task_id: str
) -> None:
    result = interpreter_results[task_id]
    assert set(result) == set(tasks.get(task_id).shape_names("small"))
    assert all(v is None for v in result.values()), result


def test_interpreter_check_catches_a_wrong_kernel(interpreter_results: dict[str, dict[str, str | None]]) -> None:
    result = interpreter_results["general.softmax:mutant"]
    assert result["tiny"] is not None and "diff" in result["tiny"]  # 0.1% off fails the float32 bound


def _verify(task_id: str, candidate: Path) -> Report:
    from verifier import Candidate, VerifyOptions, verify

    reference = tasks.get(task_id).reference(tier="small")
    return verify(reference, Candidate.from_file(candidate), VerifyOptions(device="cpu"))


@pytest.mark.parametrize("task_id", list(HONEST))
def test_honest_kernel_accepted_by_verifier(kernels: Path, task_id: str) -> None:
    report = _verify(task_id, kernels / HONEST[task_id])
    assert report.verdict == "accepted", (
        report.summary() + "\n" + "\n".join(f"{c.name}: {c.detail}" for c in report.failed_checks())
    )
    assert set(report.shapes) == set(tasks.get(task_id).shape_names("small"))
    assert report.timing is None  # CPU interpreter runs are never timed


def test_verifier_rejects_a_slightly_wrong_kernel(kernels: Path, tmp_path: Path) -> None:
    report = _verify("general.softmax", _softmax_off_by_a_permille(kernels, tmp_path))
    assert report.verdict == "rejected"


def test_verifier_rejects_a_torch_fallback(kernels: Path) -> None:
    """No task allows compute ops: fftconv computed with torch.fft is a fallback, not a kernel."""
    report = _verify("fftconv.long_conv", kernels / "fallback_fftconv_torch.py")
    assert report.verdict == "rejected"
    assert any("fft" in r.lower() for r in report.reasons), report.reasons
