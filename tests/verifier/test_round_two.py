"""Round two of the verifier's integrity: the pieces that make cheats impossible rather than observed.

The compute lock and the process filter are irreversible for the process that installs them, so
those tests run in a fresh interpreter each.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from verifier import Candidate, Reference, VerifyOptions, verify
from verifier.candidate_run import SUBSET_CHECKED, checked_calls
from verifier.native_libraries import library_kernels, library_uses
from verifier.reference_run import InputSet, ReferenceTrial, _trial_plan
from verifier.spec import CALLS_PER_TRIAL_RANGE

ROOT = Path(__file__).resolve().parents[2]


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_compute_lock_refuses_every_namespace_and_survives_tampering_after_prepare() -> None:
    proc = _run_python(
        """
        import torch
        from verifier.worker import compute_lock
        install = compute_lock.prepare()
        # candidate code between prepare and install tries to disarm the lock
        torch._C._dispatch_library = lambda *a, **k: None
        torch._C._dispatch_get_all_op_names = lambda: []
        drain = install([])
        x = torch.ones(4, 4)
        for name, call in [
            ("add", lambda: x + 1),
            ("mm", lambda: x @ x),
            ("mkldnn", lambda: torch.ops.mkldnn._convolution_pointwise(
                torch.ones(1, 2, 4, 4), torch.ones(2, 1, 3, 3), None, [1, 1], [1, 1], [1, 1], 2, "none", [], "")),
            ("item", lambda: x[0, 0].item()),
            ("float", lambda: float(x[0, 0])),
        ]:
            try:
                call()
                print("OPEN", name)
            except RuntimeError as e:
                assert "locked in the candidate process" in str(e), e
                print("LOCKED", name)
        y = torch.empty(4, 4); y.copy_(x); y.fill_(2.0); z = torch.zeros(3); w = x.t().contiguous().view(-1)[:3]
        print("ATTEMPTS", sorted(set(drain())))
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "OPEN" not in proc.stdout, proc.stdout
    assert proc.stdout.count("LOCKED") == 5
    assert "aten.matmul" in proc.stdout and "mkldnn._convolution_pointwise" in proc.stdout


def test_process_filter_blocks_fork_and_exec_but_not_threads() -> None:
    proc = _run_python(
        """
        import os, subprocess, threading
        from verifier.worker import no_new_processes
        assert no_new_processes.install() is None
        done = []
        t = threading.Thread(target=lambda: done.append(1)); t.start(); t.join()
        print("THREAD", done)
        for name, call in [("fork", os.fork), ("run", lambda: subprocess.run(["true"]))]:
            try:
                call()
                print("STARTED", name)
            except OSError as e:
                print("BLOCKED", name, e.errno)
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "THREAD [1]" in proc.stdout
    assert "STARTED" not in proc.stdout and proc.stdout.count("BLOCKED") == 2


def test_vendor_libraries_are_found_in_sources_links_and_kernel_names() -> None:
    assert library_uses(["#include <cublas_v2.h>\n"]) == ["#include <cublas_v2.h>"]
    assert library_uses(["#include <cute/tensor.hpp>"]) == ["#include <cute/...>"]
    assert library_uses([""], ["-lcudnn"]) == ["-lcudnn"]
    assert library_uses(["#include <torch/extension.h>\n#include <cuda_runtime.h>"], ["-O3"]) == []
    names = ["sm90_xmma_gemm_f32f32_tf32f32", "cutlass::Kernel<...>", "dwconv_kernel", "_kiln_warm_up", "my_gemm"]
    assert library_kernels(names) == ["cutlass::Kernel<...>", "sm90_xmma_gemm_f32f32_tf32f32"]


def test_instances_get_a_secret_call_count_from_the_run_seed() -> None:
    ref = Reference(source="")
    low, high = CALLS_PER_TRIAL_RANGE
    counts = set()
    for seed in range(40):
        plan = _trial_plan(ref, VerifyOptions(), random.Random(seed), "cpu")
        assert len(plan) == 1
        assert low <= len(plan[0]["input_seeds"]) <= high
        counts.add(len(plan[0]["input_seeds"]))
        again = _trial_plan(ref, VerifyOptions(), random.Random(seed), "cpu")
        assert again == plan  # reproducible from the run's seed
    assert len(counts) > 1
    gpu_plan = _trial_plan(ref, VerifyOptions(), random.Random(0), "cuda")
    assert len(gpu_plan) == 3 and all(2 <= len(t["input_seeds"]) <= 4 for t in gpu_plan)
    assert len(_trial_plan(ref, VerifyOptions(calls_per_trial=2), random.Random(0), "cpu")[0]["input_seeds"]) == 2


def test_checked_calls_are_all_when_small_and_always_include_the_last_when_large() -> None:
    def trial(numel: int, calls: int) -> ReferenceTrial:
        out = torch.empty(numel, dtype=torch.uint8)
        return ReferenceTrial(0, 1, list(range(calls)), "", [], {}, [InputSet([], out) for _ in range(calls)])

    rng = random.SystemRandom()
    assert checked_calls(trial(16, 9), rng) == set(range(9))
    for _ in range(20):
        chosen = checked_calls(trial((64 << 20) + 1, 9), rng)
        assert 8 in chosen and len(chosen) == SUBSET_CHECKED


def test_cuda_candidate_calling_cublas_is_refused_before_compiling(prepared_reference) -> None:
    source = (Path(__file__).parent / "cuda" / "cheat_cublas_cuda.py").read_text()
    report = verify(prepared_reference, Candidate(source=source), VerifyOptions(device="cpu", timeout_s=120))
    assert report.verdict == "rejected"
    assert report.reasons[0].startswith("no_fallback: extension 'kiln_cublas_cheat' uses vendor compute libraries")
    assert "cublas_v2.h" in report.reasons[0] and "-lcublas" in report.reasons[0]


@pytest.mark.parametrize("sandbox", ["none"])
def test_no_isolation_needs_trusted_code(sandbox: str) -> None:
    from verifier import VerifierInputError

    with pytest.raises(VerifierInputError, match="trusted"):
        verify("x = 1", "y = 2", VerifyOptions(device="cpu", sandbox=sandbox))  # type: ignore[arg-type]


def test_triton_version_is_found_for_any_distribution_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from verifier import hostinfo

    versions = {"pytorch-triton": "3.6.0+git1234"}
    monkeypatch.setattr(hostinfo, "_version", lambda dist: versions.get(dist))
    assert hostinfo.triton_version() == "3.6.0+git1234"
    versions.clear()
    import triton

    assert hostinfo.triton_version() == triton.__version__


def test_gpu_timing_lock_serialises_timed_phases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from verifier import gpu_lock

    monkeypatch.setattr(gpu_lock.tempfile, "gettempdir", lambda: str(tmp_path))
    inside: list[int] = []
    overlap: list[bool] = []

    def phase() -> None:
        with gpu_lock.timing_lock(device_index="3"):
            inside.append(1)
            overlap.append(len(inside) > 1)
            time.sleep(0.2)
            inside.pop()

    threads = [threading.Thread(target=phase) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == [False, False, False]
    assert (tmp_path / "kiln-gpu-timing-3.lock").exists()


def test_gpu_worker_memory_limit_grows_with_the_payload() -> None:
    from verifier.candidate_run import PAYLOAD_BASE_MB, PAYLOAD_FACTOR, CandidateOutcome, CandidateRun
    from verifier.reference_run import PreparedReference
    from verifier.sandbox.isolation import Isolation

    big = torch.empty(1, dtype=torch.float32).expand(1 << 28)  # 1 GiB of payload, no memory
    trial = ReferenceTrial(0, 1, [1], "", [], {}, [InputSet([big], big)])
    iso = Isolation("bwrap", "isolated", "private")
    prepared = PreparedReference(Reference(source=""), "cuda", iso, 0, [trial], [], {}, None, None, 0.0)
    run = CandidateRun(Candidate(source=""), Reference(source=""), "cuda", iso, VerifyOptions(memory_limit_mb=8192))
    run.outcome = CandidateOutcome()
    run._size_memory_to_payload(prepared)
    assert run.session.memory_limit_mb == PAYLOAD_BASE_MB + PAYLOAD_FACTOR * 2048
    assert "raised from 8192" in run.outcome.notes[0]
    small = CandidateRun(Candidate(source=""), Reference(source=""), "cuda", iso, VerifyOptions(memory_limit_mb=8192))
    small.outcome = CandidateOutcome()
    small._size_memory_to_payload(PreparedReference(Reference(source=""), "cuda", iso, 0, [], [], {}, None, None, 0.0))
    assert small.session.memory_limit_mb == 8192 and not small.outcome.notes


def test_report_logs_hold_what_the_candidate_printed_not_the_profilers_lines() -> None:
    import tempfile

    from verifier.sandbox.runner import LOG_TAIL_BYTES, _tail

    with tempfile.TemporaryFile() as f:
        f.write(b"x" * (3 * LOG_TAIL_BYTES) + b"\n")
        for i in range(200):
            f.write(b"USDT:2026-11-29 21:46:59 30095:30095 SyncActivityProfilerHandler.cpp:52] profiler_start\n")
            f.write(f"candidate line {i}\n".encode())
        text = _tail(f)
    assert "USDT" not in text and "candidate line 199" in text
    assert len(text) <= LOG_TAIL_BYTES


def test_speedup_uses_the_eager_baseline_timed_next_to_the_candidate() -> None:
    """Issue 12.10: the baseline re-timed after the candidate wins; the prepare-time one stays visible."""
    from verifier.engine import _timing

    candidate = {"candidate_ms": 0.5, "runs": 100, "warmup_runs": 10, "method": "events", "device_name": "H200"}
    reference = {"eager_ms": 2.0, "compiled_ms": 1.0}
    now = _timing(candidate, reference, wall_ms=0.6, eager_now_ms=1.5)
    assert now.eager_ms == 1.5 and now.eager_prepare_ms == 2.0
    assert now.speedup_eager == pytest.approx(3.0) and now.speedup_compiled == pytest.approx(2.0)
    fallback = _timing(candidate, reference, wall_ms=0.6, eager_now_ms=None)
    assert fallback.eager_ms == 2.0 and fallback.speedup_eager == pytest.approx(4.0)


def test_eager_baseline_is_not_timed_again_off_the_gpu(prepared_reference) -> None:
    from verifier.reference_run import retime_eager

    assert prepared_reference.device == "cpu"
    assert retime_eager(prepared_reference, VerifyOptions()) is None


def test_unshare_is_refused_when_run_by_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, unshare makes no user namespace: the worker would write the host's files as root."""
    from verifier.errors import SandboxUnavailableError
    from verifier.sandbox import isolation

    monkeypatch.setattr(isolation.os, "geteuid", lambda: 0)
    isolation.unshare_problem.cache_clear()
    try:
        assert isolation.unshare_problem() == isolation.UNSHARE_AS_ROOT
        with pytest.raises(SandboxUnavailableError, match="bubblewrap"):
            isolation.choose("unshare")
    finally:
        isolation.unshare_problem.cache_clear()


def test_the_lock_covers_cuda_keys_wherever_torch_can_make_a_cuda_tensor() -> None:
    from verifier.worker.compute_lock import CUDA_KEYS, LOCKED_KEYS, keys_to_lock

    assert keys_to_lock(True) == LOCKED_KEYS
    assert set(keys_to_lock(False)) == set(LOCKED_KEYS) - CUDA_KEYS and "CPU" in keys_to_lock(False)
    assert {k for k in LOCKED_KEYS if "CUDA" in k} == CUDA_KEYS and len(CUDA_KEYS) == 5
    if not torch.backends.cuda.is_built():  # the reason it may skip them: no CUDA tensor can exist here
        with pytest.raises((AssertionError, RuntimeError)):
            torch.empty(1, device="cuda")
