"""The static GPU profile: traffic counted in the interpreter, occupancy from a build, the report's dict."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.plan.occupancy import occupancy
from verifier.plan.profile import assemble, call_entry, describe

ROOT = Path(__file__).resolve().parents[2]

KERNELS = """
import triton
import triton.language as tl


@triton.jit
def copy_kernel(x_ptr, y_ptr, n, STRIDE: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(y_ptr + offs, tl.load(x_ptr + offs * STRIDE, mask=mask), mask=mask)


@triton.jit
def dot_kernel(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    rm = tl.arange(0, M)
    rn = tl.arange(0, N)
    rk = tl.arange(0, K)
    a = tl.load(a_ptr + rm[:, None] * K + rk[None, :])
    b = tl.load(b_ptr + rk[:, None] * N + rn[None, :])
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], tl.dot(a, b))
"""

COUNT = """
import json, torch
from verifier.plan.kernel_source import extract
from verifier.plan.execute import PlanExecutor
from verifier.plan import traffic
ex = PlanExecutor(extract(open({kernels!r}).read()), "cpu")
x = torch.arange(1024.0)
ex.set(0, x)
ex.set(1, torch.zeros(128))
ex.set(2, torch.ones(16, 16))
ex.set(3, torch.ones(16, 32))
ex.set(4, torch.zeros(16, 32))
def plan(name, args, grid):
    launch = {{"launch": name, "line": 0, "variants": [{{"args": args, "grid": grid, "options": {{}}}}]}}
    return {{"inputs": {{"l": []}}, "steps": [launch], "returns": {{"v": 1}}}}
out = {{}}
for stride in (1, 8):
    args = {{"x_ptr": {{"v": 0}}, "y_ptr": {{"v": 1}}, "n": 100, "STRIDE": stride, "BLOCK": 32}}
    with traffic.counting() as counted:
        ex.run(plan("copy_kernel", args, [4]), [], 0)
    out[stride] = counted.to_dict()
with traffic.counting() as counted:
    ex.run(plan("dot_kernel", {{"a_ptr": {{"v": 2}}, "b_ptr": {{"v": 3}}, "c_ptr": {{"v": 4}},
                               "M": 16, "N": 32, "K": 16}}, [1]), [], 0)
out["dot"] = counted.to_dict()
ex.run(plan("copy_kernel", args, [4]), [], 0)  # not counting: nothing recorded, nothing fails
print("JSON" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    kernels = tmp_path_factory.mktemp("traffic") / "kernels.py"
    kernels.write_text(KERNELS)
    env = {"TRITON_INTERPRET": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    code = COUNT.format(kernels=str(kernels))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")), None)
    assert line is not None, proc.stdout + proc.stderr[-3000:]
    return json.loads(line[4:])


def test_contiguous_accesses_are_counted_once_and_fully_coalesced(counted: dict[str, dict]) -> None:
    copy = counted["1"]["kernels"][0]
    assert copy["kernel"] == "copy_kernel" and copy["launches"] == 1 and copy["programs"] == 4
    # 100 active lanes of 4 bytes read and written; the last program's 28 masked lanes count nothing
    assert copy["load_bytes"] == copy["store_bytes"] == 400
    assert copy["load_accesses"] == copy["store_accesses"] == 4
    assert copy["load_sectors"] == copy["store_sectors"] == 13  # 12.5 sectors of data -> 13
    assert counted["1"]["sector_efficiency"] == pytest.approx(800 / (26 * 32), abs=1e-4)


def test_strided_loads_waste_their_sectors(counted: dict[str, dict]) -> None:
    copy = counted["8"]["kernels"][0]
    assert copy["load_bytes"] == 400
    assert copy["load_sectors"] == 100  # every lane 32 bytes from the next: one sector each
    assert copy["sector_efficiency"] < counted["1"]["kernels"][0]["sector_efficiency"]


def test_dot_flops_are_counted_from_the_operands(counted: dict[str, dict]) -> None:
    dot = counted["dot"]
    assert dot["dot_flops"] == 2 * 16 * 32 * 16
    assert dot["kernels"][0]["load_bytes"] == (16 * 16 + 16 * 32) * 4


def test_occupancy_follows_the_limiting_resource() -> None:
    light = occupancy(32, 0, 4, 90)
    assert light == {"blocks_per_sm": 16, "warps_per_sm": 64, "occupancy": 1.0, "limited_by": "warps"}
    heavy = occupancy(255, 0, 4, 90)  # 8192 registers a warp: 8 warps fit in 65536
    assert heavy is not None and heavy["warps_per_sm"] == 8 and heavy["limited_by"] == "registers"
    shared = occupancy(32, 100_000, 4, 90)  # two blocks of ~99 KB (plus 1 KiB reserved each) in 228 KiB
    assert shared is not None and shared["blocks_per_sm"] == 2 and shared["limited_by"] == "shared memory"
    assert occupancy(32, 0, 4, 75) is None and occupancy(None, 0, 4, 90) is None


def test_the_profile_dict_says_it_is_an_estimate_and_sums_its_parts() -> None:
    build = {
        "ok": True,
        "kernel": "k",
        "constexprs": {"BLOCK": 64},
        "options": {"num_warps": 8, "num_stages": 2},
        "registers": 40,
        "spill_store_bytes": 8,
        "spill_load_bytes": 8,
        "stack_bytes": 8,
        "shared_bytes": 0,
        "tensor_core_ops": {"HGMMA": 4},
    }
    traffic = {
        "kernels": [
            {
                "kernel": "k",
                "launches": 2,
                "load_bytes": 640,
                "load_sectors": 40,
                "store_bytes": 320,
                "store_sectors": 10,
                "bytes": 960,
                "dot_flops": 100,
            }
        ]
    }
    call = call_entry("tiny", traffic, 480)
    assert call["traffic_ratio"] == 2.0 and call["sector_efficiency"] == pytest.approx(960 / (50 * 32))
    profile = assemble([build, {"ok": False, "kernel": "broken"}], [call], 90)
    assert profile["estimate"] is True and "never a timing" in profile["what"] and profile["cannot_see"]
    assert [b["kernel"] for b in profile["builds"]] == ["k"]
    summary = profile["summary"]
    assert summary["spills"] is True and summary["spill_bytes"] == 16 and summary["tensor_cores"] is True
    assert summary["traffic_ratio"] == 2.0 and summary["shape"] == "tiny" and summary["dot_flops"] == 100
    text = "\n".join(describe(profile))
    assert "never a timing" in text and "2.00x the compulsory" in text and "HGMMAx4" in text


def test_a_verified_triton_candidate_carries_its_static_profile(prepared_reference) -> None:
    from tests.verifier.conftest import corpus_entry
    from verifier import Report, VerifyOptions, verify
    from verifier.reference_run import flat_tensors

    report = verify(prepared_reference, corpus_entry("honest_dwconv").candidate(), VerifyOptions(device="cpu"))
    assert report.verdict == "accepted", report.reasons
    profile = Report.from_dict(json.loads(json.dumps(report.to_dict()))).static_profile
    assert profile["target"] == "sm_90" and profile["builds"]
    assert all(b["registers"] and b["occupancy"] for b in profile["builds"])
    trial = prepared_reference.trials[0]
    first = trial.calls[0]
    tensors = flat_tensors(first.inputs) + list(trial.state.values()) + flat_tensors(first.outputs)
    call = profile["calls"][0]
    assert call["compulsory_bytes"] == sum(t.numel() * t.element_size() for t in tensors)
    assert call["requested_bytes"] > 0 and call["launches"] >= 1
    assert 0 < call["sector_efficiency"] <= 1 and call["traffic_ratio"] >= 1
    assert len(profile["calls"]) == len({t.shape for t in prepared_reference.trials})


def test_kiln_profile_prints_the_estimate_and_refuses_a_missing_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app
    from verifier.examples import CANDIDATE, REFERENCE

    runner = CliRunner()
    result = runner.invoke(app, ["profile", "-r", str(REFERENCE), "-c", str(CANDIDATE), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["verdict"] == "accepted" and body["static_profile"]["estimate"] is True
    assert body["static_profile"]["calls"][0]["requested_bytes"] > 0
    text = runner.invoke(app, ["profile", "-r", str(REFERENCE), "-c", str(CANDIDATE), "--gpu-arch", "80"])
    assert text.exit_code == 0 and "static profile for sm_80" in text.output and "cannot see" in text.output
    missing = runner.invoke(app, ["profile", "-r", str(REFERENCE), "-c", str(tmp_path / "none.py")])
    assert missing.exit_code == 2


def test_compile_only_builds_and_runs_nothing(prepared_reference) -> None:
    from tests.verifier.conftest import corpus_entry
    from verifier import VerifyOptions, verify

    options = VerifyOptions(device="cpu", compile_only=True)
    report = verify(prepared_reference, corpus_entry("honest_dwconv").candidate(), options)
    assert report.verdict == "not_run" and "compile only" in report.reasons[0], report.reasons
    assert {c.name for c in report.checks} >= {"plan", "gpu_compile"}
    assert report.static_profile["builds"] and report.static_profile["calls"] == []
    assert report.timing is None


def test_record_access_counts_distinct_bytes_and_straddled_sectors() -> None:
    import numpy as np

    from verifier.plan import traffic

    with traffic.counting() as counted, traffic.launch("k", (2, 3)):
        traffic.record_access("load", np.array([0, 0, 4, 32, 8], dtype=np.uint64), 4)  # a repeat counts once
        traffic.record_access("store", np.array([30, 34], dtype=np.uint64), 4)  # bytes 30-33 straddle 2 sectors
    traffic.record_access("load", np.array([0], dtype=np.uint64), 4)  # outside counting: ignored
    k = counted.to_dict()["kernels"][0]
    assert (k["programs"], k["load_bytes"], k["load_sectors"], k["load_accesses"]) == (6, 16, 2, 1)
    assert (k["store_bytes"], k["store_sectors"]) == (8, 2)
