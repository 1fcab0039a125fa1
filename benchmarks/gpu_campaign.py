"""The parts of the GPU campaign (``benchmarks/gpu_campaign.sh`` runs each under its own time limit).

    python benchmarks/gpu_campaign.py PART --out DIR [--dry-run] [--quick] [--deadline S]
                                           [--sandbox auto|none --trusted-code]

Parts, in the order the script runs them: ``sandbox`` (which sandbox works here, probed by preparing
a reference in it; without one the project's own kernels run with ``--sandbox none --trusted-code``),
``plan`` (the limits and the estimate, :mod:`benchmarks.campaign_plan`), ``env`` (GPU, versions,
clocks, date, commit), ``template`` (one task per family, matmul and softmax first, at the first
realistic shape: the template compiler's distinct profiles within an allowance, the best re-timed
against a fresh eager run; speedup with its interval over eager, ``torch.compile`` for two tasks,
roofline share, plausibility), ``corpus`` (the honest kernel and a few cheats on the device, timed
entries first; skipped without a sandbox), ``stability`` (one kernel verified and timed repeatedly on
one prepared reference: the spread), ``gpu-tests`` (tests/verifier/test_gpu.py through pytest, off
unless given a limit) and ``report`` (``DIR/campaign.json`` and ``DIR/campaign.md``). Each part writes
``DIR/parts/<part>.json`` as it goes and stops starting work at its ``--deadline``, so a part cut
short leaves what it had. ``--dry-run`` runs the same path on the CPU (Triton's interpreter, small
shapes, nothing timed); ``--quick`` cuts it to a few corpus entries, one task and two stability runs.

Imports only the standard library, torch, triton, the verifier, the task suite and the template
compiler's path (no service, database, LLM client, typer or rich): the GPU host has torch and triton
and nothing of the service's dependencies.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import campaign_plan as plan_  # noqa: E402
from benchmarks.campaign_report import part_report  # noqa: E402

PARTS = plan_.PARTS
STABILITY_KERNEL = "honest_dwconv"
"""The corpus's honest Triton depthwise convolution, on the corpus reference at its GPU shape."""


def _device(dry_run: bool) -> str:
    return "cpu" if dry_run else "cuda"


def _process_timeout(device: str) -> float:
    """Wall-clock limit per sandbox process: a GPU run is fast; the CPU interpreter on a busy 2-core
    machine is not, and a dry run checks the path, not the speed."""
    return 90.0 if device == "cuda" else 240.0


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Sandbox:
    """How the parts run their verifications: ``auto`` (a sandbox works here) or ``none`` with
    ``trusted_code`` (the project's own kernels only)."""

    mechanism: str
    trusted_code: bool

    def options(self) -> dict[str, Any]:
        return {"sandbox": self.mechanism, "trusted_code": self.trusted_code}

    def argv(self) -> list[str]:
        return [f"--sandbox={self.mechanism}"] + (["--trusted-code"] if self.trusted_code else [])


# ---- sandbox -----------------------------------------------------------------------------------

PROBE_REFERENCE = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x):
        return x * 2.0 + 1.0


def get_inputs():
    return [torch.randn(4096)]


def get_init_inputs():
    return []
"""


def part_sandbox(out: Path, dry_run: bool, how: str) -> None:
    """Which sandbox works here: a reference prepared in it on the campaign's device (the whole worker
    path: namespaces, binds, the GPU's device files); prints ``SANDBOX=auto`` or ``SANDBOX=none``."""
    from verifier import Reference, VerifyOptions, prepare
    from verifier.sandbox.isolation import choose

    device = _device(dry_run)
    started = time.monotonic()
    info: dict[str, Any] = {"bwrap": shutil.which("bwrap"), "bwrap_from": how, "euid": os.geteuid()}
    try:
        isolation = choose("auto", cuda=device == "cuda")
        options = VerifyOptions(device=device, measure=False, trials=1, calls_per_trial=1, timeout_s=120)
        prepare(Reference(source=PROBE_REFERENCE, name="sandbox probe"), options)
        info.update(mechanism=isolation.mechanism, isolation=isolation.describe(), trusted_code=False, problem=None)
    except Exception as e:  # SandboxUnavailableError, or a sandbox that starts but cannot run the worker
        info.update(
            mechanism="none",
            trusted_code=True,
            problem=f"{type(e).__name__}: {e}"[:1500],
            consequence="no sandbox here: the project's own kernels are verified with --sandbox none "
            "--trusted-code; the adversarial corpus (untrusted code by design) is skipped",
        )
    info["seconds"] = round(time.monotonic() - started, 1)
    _write(out / "parts" / "sandbox.json", info)
    print(
        f"sandbox: {info['mechanism']}" + (f" ({info['problem'][:300]})" if info.get("problem") else ""),
        file=sys.stderr,
    )
    print("SANDBOX=" + ("none" if info["trusted_code"] else "auto"))


# ---- plan --------------------------------------------------------------------------------------


def part_plan(out: Path, dry_run: bool, quick: bool, sandbox: Sandbox, limits: dict[str, float]) -> None:
    """Print the plan (stderr) and each part's limit as ``part=seconds`` lines (stdout, for the script)."""
    sandboxed = not sandbox.trusted_code
    if dry_run:
        parts = plan_.plan(sandboxed, quick, {**plan_.DRY_LIMITS, **limits})
        text = "dry run on the CPU: the same parts under wider limits; no 8-minute budget applies\n" + plan_.render(
            parts, budget_s=sum(p.limit_s for p in parts) + 60
        )
    else:
        parts = plan_.plan(sandboxed, quick, limits)
        text = plan_.render(parts)
    _write(
        out / "parts" / "plan.json",
        {
            "text": text,
            "estimate_s": plan_.total_estimate(parts),
            "limit_s": plan_.total_limit(parts),
            "budget_s": None if dry_run else plan_.GPU_BUDGET_S,
            "costs": plan_.GPU_COSTS,
            "parts": [
                {"name": p.name, "limit_s": p.limit_s, "estimate_s": p.estimate_s, "expected": p.expected_items()}
                for p in parts
            ],
        },
    )
    print(text, file=sys.stderr)
    for p in parts:
        print(f"{p.name}={p.limit_s:.0f}")


# ---- env ---------------------------------------------------------------------------------------


def _command_line(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def commit_id() -> str | None:
    """The checkout's commit (git), else the one ``scripts/prepare-gpu-carry`` wrote beside the carry
    (the copy on the GPU machine may have no .git)."""
    found = _command_line(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    if found:
        dirty = _command_line(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
        return found + (" with local changes" if dirty else "")
    try:
        return (ROOT / ".gpu-carry" / "COMMIT").read_text().strip() + " (from .gpu-carry/COMMIT)"
    except OSError:
        return None


def part_env(out: Path, dry_run: bool) -> None:
    import torch

    from verifier import precision
    from verifier.hostinfo import describe_host

    device = _device(dry_run)
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible to torch: run with --dry-run on a CPU-only host")
    nvcc = _command_line(["nvcc", "--version"])
    info: dict[str, Any] = {
        "date": _now(),
        "mode": "dry run on the CPU, no timings" if dry_run else "GPU run",
        "device": device,
        "host": describe_host(device),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "nvidia_smi": _command_line(
            [
                "nvidia-smi",
                "--query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw",
                "--format=csv,noheader",
            ]
        ),
        "nvcc": next((line for line in (nvcc or "").splitlines() if "release" in line), None),
        "git_commit": commit_id(),
        "pytest": _module_version("pytest"),
        "fp32_precision_baseline": {k: ("tf32" if v else "ieee") for k, v in precision.BASELINE.items()},
    }
    _write(out / "parts" / "env.json", info)
    print(f"{info['host'].get('device_name')}: torch {info['host'].get('torch')}, triton {info['host'].get('triton')}")


def _module_version(name: str) -> str | None:
    if importlib.util.find_spec(name) is None:
        return None
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "installed"


# ---- gpu-tests ---------------------------------------------------------------------------------

GPU_TESTS = "tests/verifier/test_gpu.py"


def part_gpu_tests(out: Path, deadline_s: float) -> None:
    path = out / "parts" / "gpu-tests.json"
    if importlib.util.find_spec("pytest") is None:
        _write(path, {"status": "skipped", "note": "pytest is not installed on this host: GPU tests not run"})
        print("pytest not installed: GPU tests skipped")
        return
    junit = out / "parts" / "gpu-tests.xml"
    # Only the tests' own needs: no third-party plugin of this host's pytest is loaded.
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", GPU_TESTS, f"--junitxml={junit}"]
    _write(path, {"status": "running", "command": " ".join(argv[1:])})
    try:
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=deadline_s)
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-4000:]
    except subprocess.TimeoutExpired as e:
        rc, tail = None, f"pytest did not finish within {deadline_s:.0f} s\n" + str(e.stdout or "")[-3000:]
    tests = _junit_cases(junit)
    status = "passed" if rc == 0 else ("timed out" if rc is None else "failed")
    if rc == 0 and tests and all(t["outcome"] == "skipped" for t in tests):
        status = "skipped"
    _write(path, {"status": status, "exit_code": rc, "command": " ".join(argv[1:]), "tests": tests, "log_tail": tail})
    print(f"GPU tests: {status} ({len(tests)} tests)")


def _junit_cases(path: Path) -> list[dict[str, str]]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    cases = []
    for case in root.iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[kind]
                message = (found.get("message") or found.text or "")[:400]
                break
        cases.append({"name": case.get("name", ""), "outcome": outcome, "message": message})
    return cases


# ---- corpus ------------------------------------------------------------------------------------


def part_corpus(out: Path, dry_run: bool, quick: bool, deadline_s: float, sandbox: Sandbox) -> None:
    from benchmarks import verifier_corpus

    path = out / "parts" / "corpus.json"
    if sandbox.trusted_code:
        _write(path, {"part_skipped": "no sandbox on this host: the adversarial corpus is untrusted code by design"})
        print("corpus: skipped (no sandbox here)")
        return
    device = _device(dry_run)
    names = list(plan_.QUICK_CORPUS if quick else plan_.CORPUS)
    if device != "cuda":
        names = [n for n in names if n != "cheat_side_stream"]  # a GPU-only entry
    ok = verifier_corpus.run(
        device,
        path,
        only=names,
        timeout_s=_process_timeout(device),
        hang_timeout_s=15.0,
        jobs=1 if dry_run else plan_.CORPUS_JOBS,
        deadline_s=deadline_s,
        **sandbox.options(),
    )
    print(f"corpus: {'all run as expected' if ok else 'NOT all as expected'}")


# ---- template ----------------------------------------------------------------------------------


def campaign_tasks(quick: bool) -> list[str]:
    """The template part's tasks in order: matmul and softmax, then one task per other family."""
    return list(plan_.QUICK_TASKS if quick else plan_.TEMPLATE_TASKS)


def part_template(out: Path, dry_run: bool, quick: bool, deadline_s: float, sandbox: Sandbox) -> None:
    device = _device(dry_run)
    start = time.monotonic()
    task_ids = campaign_tasks(quick)
    # No further profile of a task is started after `allowance` s (its first, best-suited one always
    # runs); the child is killed at `hard` s.
    allowance, hard = (20.0, 150.0) if device == "cuda" else (60.0, 240.0)
    path = out / "parts" / "template.json"
    rows: list[dict[str, Any]] = []
    payload = {
        "device": device,
        "shapes": "first realistic shape (GPU) / first small shape (CPU)",
        "selection": "fastest accepted of the distinct GPU profiles verified within the allowance; "
        "when several were timed, the winner timed once more against a fresh eager run (that figure)",
        "compile_baseline": sorted(plan_.COMPILE_BASELINE),
        "allowance_s": allowance,
        "hard_limit_s": hard,
        "sandbox": sandbox.mechanism,
        "tasks": rows,
    }
    for task_id in task_ids:
        left = deadline_s - (time.monotonic() - start)
        if left < 20:
            rows.append({"task_id": task_id, "status": "not run", "note": "the part's deadline was reached"})
            _write(path, payload)
            continue
        task_json = out / "parts" / "template" / f"{task_id}.json"
        argv = [
            sys.executable,
            str(ROOT / "benchmarks" / "template_kernels.py"),
            f"--device={device}",
            f"--task={task_id}",
            "--shapes=first",
            "--budget=4",
            f"--max-seconds={min(allowance, left / 2):.0f}",
            "--trials=1",
            "--calls=2",
            f"--timeout={min(hard, left) - 5:.0f}",
            f"--json={task_json}",
            "--recheck",
            *sandbox.argv(),
            *([] if task_id in plan_.COMPILE_BASELINE else ["--no-compare-compile"]),
        ]
        t0 = time.monotonic()
        print(f"template: {task_id} ...", flush=True)
        try:
            proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=min(hard, left))
            status, tail = ("done" if proc.returncode in (0, 1) else "error"), proc.stderr[-1500:]
        except subprocess.TimeoutExpired:
            status, tail = "timed out", f"killed at {min(hard, left):.0f} s"
        found = _read(task_json) or {}
        row = (found.get("tasks") or [{}])[0] if isinstance(found, dict) else {}
        row = {"task_id": task_id, **row, "status": status, "wall_s": round(time.monotonic() - t0, 1)}
        if status != "done" or not row.get("verdict"):
            row["log_tail"] = tail
        rows.append(row)
        _write(path, payload)
        print(f"    {status}: {row.get('verdict') or 'no kernel'}", flush=True)


# ---- stability ---------------------------------------------------------------------------------


def part_stability(out: Path, dry_run: bool, quick: bool, deadline_s: float, sandbox: Sandbox) -> None:
    from benchmarks import verifier_corpus
    from verifier import Candidate, Reference, VerifyOptions, prepare, verify
    from verifier.speedup import rounds_spread

    device = _device(dry_run)
    started = time.monotonic()
    repeats = 2 if quick else plan_.STABILITY_RUNS
    options = VerifyOptions(
        device=device,
        static_screen=False,
        timeout_s=_process_timeout(device),
        compare_compile=False,
        **sandbox.options(),
    )
    shapes = verifier_corpus.GPU_SHAPE if device == "cuda" else {}
    prepared = prepare(Reference.from_file(verifier_corpus.REFERENCE_FILE, shapes=shapes), options)
    entry = next(e for e in verifier_corpus.load_entries(device) if e.name == STABILITY_KERNEL)
    runs: list[dict[str, Any]] = []
    payload: dict[str, Any] = {
        "kernel": f"{STABILITY_KERNEL} (tests/verifier/corpus) on the corpus reference, "
        f"shapes {shapes or 'as written'}, one prepared reference",
        "reference_timing": {k: v for k, v in (prepared.timing or {}).items() if k != "times_ms"} or None,
        "runs": runs,
        "spread": None,
        "speedup_rounds": None,
    }
    _write(out / "parts" / "stability.json", payload)
    last = 0.0
    for i in range(repeats):
        if time.monotonic() - started + last > deadline_s:
            payload["stopped"] = f"run {i + 1} not started: it would end after the part's deadline ({deadline_s:.0f} s)"
            break
        t0 = time.monotonic()
        report = verify(prepared, Candidate(source=entry.source, name=entry.name), options)
        last = time.monotonic() - t0
        t = report.timing
        runs.append(
            {
                "run": i + 1,
                "verdict": report.verdict,
                "candidate_ms": t.candidate_ms if t else None,
                "eager_ms": t.eager_ms if t else None,
                "speedup_eager": t.speedup_eager if t else None,
                "speedup_low": t.speedup_low if t else None,
                "speedup_high": t.speedup_high if t else None,
                "sm_clock_mhz": t.sm_clock_mhz if t else None,
                "seconds": round(last, 1),
                "first_reason": (report.reasons or [""])[0][:300],
            }
        )
        payload["spread"] = spread([r["candidate_ms"] for r in runs])
        payload["speedup_rounds"] = rounds_spread([r["speedup_eager"] for r in runs if r["speedup_eager"]])
        _write(out / "parts" / "stability.json", payload)
        print(f"stability run {i + 1}: {report.verdict} {t.candidate_ms if t else '(not timed)'}", flush=True)


def spread(times: list[float | None]) -> dict[str, float] | None:
    """min, median, max and (max - min) / median of the timed runs; None without two timings."""
    from verifier.speedup import rounds_spread

    found = rounds_spread([x for x in times if x is not None])
    if found is None:
        return None
    return {
        "n": found["rounds"],
        "min_ms": found["min"],
        "median_ms": found["median"],
        "max_ms": found["max"],
        "spread": found["spread"],
    }


# ---- main --------------------------------------------------------------------------------------


def _limits(pairs: list[str]) -> dict[str, float]:
    found = {}
    for pair in pairs:
        name, _, seconds = pair.partition("=")
        if name not in PARTS:
            raise SystemExit(f"unknown part {name!r} in --limit (parts: {', '.join(PARTS)})")
        found[name] = float(seconds)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["sandbox", "plan", *PARTS, "report"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dry-run", action="store_true", help="CPU, small shapes, no timings")
    parser.add_argument("--quick", action="store_true", help="a few corpus entries, one task, two stability runs")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds after which this part starts nothing")
    parser.add_argument("--sandbox", default="auto", choices=["auto", "none"])
    parser.add_argument("--trusted-code", action="store_true", help="with --sandbox none: the project's own kernels")
    parser.add_argument("--bwrap-from", default="system", help="sandbox: where bwrap came from (system, carried)")
    parser.add_argument("--limit", action="append", default=[], help="plan: PART=SECONDS (repeatable)")
    args = parser.parse_args()
    out = args.out.resolve()
    sandbox = Sandbox(args.sandbox, args.trusted_code)
    if args.part == "sandbox":
        part_sandbox(out, args.dry_run, args.bwrap_from)
    elif args.part == "plan":
        part_plan(out, args.dry_run, args.quick, sandbox, _limits(args.limit))
    elif args.part == "env":
        part_env(out, args.dry_run)
    elif args.part == "gpu-tests":
        part_gpu_tests(out, args.deadline)
    elif args.part == "corpus":
        part_corpus(out, args.dry_run, args.quick, args.deadline, sandbox)
    elif args.part == "template":
        part_template(out, args.dry_run, args.quick, args.deadline, sandbox)
    elif args.part == "stability":
        part_stability(out, args.dry_run, args.quick, args.deadline, sandbox)
    else:
        return part_report(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
