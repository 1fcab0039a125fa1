"""The parts of the GPU campaign (``benchmarks/gpu_campaign.sh`` runs each under its own time limit).

    python benchmarks/gpu_campaign.py PART --out DIR [--dry-run] [--quick] [--deadline S]

Parts: ``env`` (GPU, versions, date), ``gpu-tests`` (tests/verifier/test_gpu.py through pytest when
pytest is installed), ``corpus`` (the adversarial corpus on the device), ``template`` (the template
compiler's best profile within a time allowance on every built-in task, first realistic shape:
speedup over eager and ``torch.compile``, roofline share), ``stability`` (one kernel verified and timed
5 times: the spread), and ``report`` (``DIR/campaign.json`` and ``DIR/campaign.md`` from what the parts
wrote). Each part writes ``DIR/parts/<part>.json`` as it goes, so a part stopped at its limit leaves
what it had. ``--dry-run`` runs the same path on the CPU (Triton's interpreter, small shapes, nothing
timed); ``--quick`` cuts it to a few corpus entries, one task and two stability runs (the test of
the script).

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
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PARTS = ("env", "gpu-tests", "corpus", "template", "stability")
QUICK_CORPUS = ["honest_dwconv", "cheat_cached_outputs", "broken_memory_bomb"]
QUICK_TASKS = ["general.softmax"]
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


# ---- env ---------------------------------------------------------------------------------------


def _command_line(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def part_env(out: Path, dry_run: bool) -> None:
    import torch

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
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm", "--format=csv,noheader"]
        ),
        "nvcc": next((line for line in (nvcc or "").splitlines() if "release" in line), None),
        "git_commit": _command_line(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"]),
        "pytest": _module_version("pytest"),
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


def part_corpus(out: Path, dry_run: bool, quick: bool) -> None:
    from benchmarks import verifier_corpus

    device = _device(dry_run)
    ok = verifier_corpus.run(
        device,
        out / "parts" / "corpus.json",
        only=QUICK_CORPUS if quick else None,
        timeout_s=_process_timeout(device),
        hang_timeout_s=15.0,
        jobs=1 if dry_run else 4,
    )
    print(f"corpus: {'all as expected' if ok else 'NOT all as expected'}")


# ---- template ----------------------------------------------------------------------------------


def campaign_tasks(quick: bool) -> list[str]:
    """Every built-in task, families interleaved (so a part cut short still covers every family)."""
    import tasks

    if quick:
        return list(QUICK_TASKS)
    by_family: dict[str, list[str]] = {}
    for task in tasks.all_tasks():
        if task.origin == "builtin":
            by_family.setdefault(task.family, []).append(task.id)
    order = []
    for row in zip_longest(*by_family.values()):
        order += [t for t in row if t is not None]
    return order


def part_template(out: Path, dry_run: bool, quick: bool, deadline_s: float) -> None:
    device = _device(dry_run)
    start = time.monotonic()
    task_ids = campaign_tasks(quick)
    # A task's profiles stop being started after `allowance` s; the child is killed at `hard` s.
    allowance, hard = (30.0, 90.0) if device == "cuda" else (60.0, 240.0)
    path = out / "parts" / "template.json"
    rows: list[dict[str, Any]] = []
    payload = {
        "device": device,
        "shapes": "first realistic shape (GPU) / first small shape (CPU)",
        "selection": "best of the GPU tuning profiles verified within the allowance (ranking: fastest accepted)",
        "allowance_s": allowance,
        "hard_limit_s": hard,
        "tasks": rows,
    }
    for task_id in task_ids:
        left = deadline_s - (time.monotonic() - start)
        if left < 20:
            rows.append({"task_id": task_id, "status": "not run", "note": "the part's time limit was reached"})
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


def part_stability(out: Path, dry_run: bool, quick: bool) -> None:
    from benchmarks import verifier_corpus
    from verifier import Candidate, Reference, VerifyOptions, prepare, verify

    device = _device(dry_run)
    repeats = 2 if quick else 5
    options = VerifyOptions(device=device, static_screen=False, timeout_s=_process_timeout(device))
    shapes = verifier_corpus.GPU_SHAPE if device == "cuda" else {}
    prepared = prepare(Reference.from_file(verifier_corpus.REFERENCE_FILE, shapes=shapes), options)
    entry = next(e for e in verifier_corpus.load_entries(device) if e.name == STABILITY_KERNEL)
    runs: list[dict[str, Any]] = []
    payload: dict[str, Any] = {
        "kernel": f"{STABILITY_KERNEL} (tests/verifier/corpus) on the corpus reference, "
        f"shapes {shapes or 'as written'}",
        "reference_timing": prepared.timing,
        "runs": runs,
        "spread": None,
    }
    for i in range(repeats):
        report = verify(prepared, Candidate(source=entry.source, name=entry.name), options)
        t = report.timing
        runs.append(
            {
                "run": i + 1,
                "verdict": report.verdict,
                "candidate_ms": t.candidate_ms if t else None,
                "eager_ms": t.eager_ms if t else None,
                "speedup_eager": t.speedup_eager if t else None,
                "first_reason": (report.reasons or [""])[0][:300],
            }
        )
        payload["spread"] = spread([r["candidate_ms"] for r in runs])
        _write(out / "parts" / "stability.json", payload)
        print(f"stability run {i + 1}: {report.verdict} {t.candidate_ms if t else '(not timed)'}", flush=True)


def spread(times: list[float | None]) -> dict[str, float] | None:
    """min, median, max and (max - min) / median of the timed runs; None without two timings."""
    xs = [x for x in times if x is not None]
    if len(xs) < 2:
        return None
    med = statistics.median(xs)
    return {"n": len(xs), "min_ms": min(xs), "median_ms": med, "max_ms": max(xs), "spread": (max(xs) - min(xs)) / med}


# ---- report ------------------------------------------------------------------------------------


def part_report(out: Path) -> int:
    parts = out / "parts"
    env = _read(parts / "env.json") or {}
    status = {name: _read(parts / f"{name}.status.json") or {"status": "not run"} for name in PARTS}
    campaign = {
        "campaign": env,
        "parts": status,
        "gpu_tests": _read(parts / "gpu-tests.json"),
        "corpus": _read(parts / "corpus.json"),
        "template": _read(parts / "template.json"),
        "stability": _read(parts / "stability.json"),
    }
    campaign["summary"] = summarise(campaign)
    _write(out / "campaign.json", campaign)
    (out / "campaign.md").write_text(markdown(campaign))
    print(f"wrote {out / 'campaign.json'} and {out / 'campaign.md'}")
    print(campaign["summary"]["line"])
    return 0 if campaign["summary"]["good"] else 1


def summarise(c: dict[str, Any]) -> dict[str, Any]:
    corpus = (c.get("corpus") or {}).get("results") or []
    template = (c.get("template") or {}).get("tasks") or []
    gpu = c.get("gpu_tests") or {}
    parts_ok = all(s.get("status") == "done" for s in c["parts"].values())
    corpus_ok = bool(corpus) and all(r.get("as_expected") for r in corpus)
    accepted = sum(r.get("verdict") == "accepted" for r in template)
    template_ok = bool(template) and accepted == len(template)
    gpu_ok = gpu.get("status") in ("passed", "skipped")
    stability = (c.get("stability") or {}).get("runs") or []
    stable_ok = bool(stability) and all(r.get("verdict") == "accepted" for r in stability)
    good = parts_ok and corpus_ok and template_ok and gpu_ok and stable_ok
    line = (
        f"parts {'all done' if parts_ok else 'NOT all done'}; GPU tests {gpu.get('status', 'not run')}; "
        f"corpus {sum(bool(r.get('as_expected')) for r in corpus)}/{len(corpus)} as expected; "
        f"template {accepted}/{len(template)} tasks accepted; "
        f"stability {sum(r.get('verdict') == 'accepted' for r in stability)}/{len(stability)} runs accepted"
    )
    return {"good": good, "line": line}


def _f(x: Any, fmt: str = "{:.4g}") -> str:
    return "—" if x is None else fmt.format(x)


def _cell(text: Any) -> str:
    return str(text if text not in (None, "") else "—").replace("|", "\\|").replace("\n", " ")


def markdown(c: dict[str, Any]) -> str:
    env = c.get("campaign") or {}
    host = env.get("host") or {}
    lines = [
        "# Kernel Kiln GPU campaign",
        "",
        f"- date: {env.get('date', '—')} ({env.get('mode', '—')})",
        f"- device: {host.get('device_name', '—')}"
        + (f" (compute capability {host['compute_capability']})" if host.get("compute_capability") else ""),
        f"- nvidia-smi: {env.get('nvidia_smi') or '—'}",
        f"- python {host.get('python', '—')}, torch {host.get('torch', '—')}, triton {host.get('triton', '—')}, "
        f"CUDA {host.get('cuda') or '—'}, nvcc: {env.get('nvcc') or '—'}",
        f"- commit: {env.get('git_commit') or '—'}",
        f"- summary: {c['summary']['line']}",
        "",
        "## Parts",
        "",
        "| part | status | seconds | limit (s) |",
        "|---|---|---:|---:|",
    ]
    for name, s in c["parts"].items():
        seconds = _f(s.get("seconds"), "{:.0f}")
        lines.append(f"| {name} | {_cell(s.get('status'))} | {seconds} | {_cell(s.get('limit_s'))} |")

    gpu = c.get("gpu_tests") or {}
    lines += ["", f"## GPU tests ({GPU_TESTS}): {gpu.get('status', 'not run')}", ""]
    if gpu.get("note"):
        lines.append(gpu["note"])
    if gpu.get("tests"):
        lines += ["| test | outcome | message |", "|---|---|---|"]
        lines += [f"| {_cell(t['name'])} | {t['outcome']} | {_cell(t['message'][:200])} |" for t in gpu["tests"]]

    corpus = c.get("corpus") or {}
    rows = corpus.get("results") or []
    good = sum(bool(r.get("as_expected")) for r in rows)
    lines += [
        "",
        f"## Adversarial corpus on {corpus.get('device', '—')}: {good}/{len(rows)} as expected",
        "",
        f"Sandbox: {(corpus.get('sandbox') or {}).get('mechanism', '—')}. "
        f"Not run here: {', '.join(corpus.get('skipped') or []) or 'none'}"
        " (they need a host-side secret file or listening server; tests/verifier/test_corpus.py runs them).",
        "",
        "| entry | expected | verdict | failed checks | as expected | kernel ms | seconds |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for r in rows:
        timing = r.get("timing") or {}
        lines.append(
            f"| {r['candidate']} | {'/'.join(r['expected'])} | {r['verdict']} | {_cell(', '.join(r['failed_checks']))} "
            f"| {'yes' if r['as_expected'] else '**NO**'} | {_f(timing.get('candidate_ms'))} | {_f(r.get('seconds'))} |"
        )

    template = c.get("template") or {}
    trows = template.get("tasks") or []
    accepted = sum(r.get("verdict") == "accepted" for r in trows)
    lines += [
        "",
        f"## Template compiler on {template.get('device', '—')}: {accepted}/{len(trows)} tasks accepted",
        "",
        f"Shapes: {template.get('shapes', '—')}. Kernel: {template.get('selection', '—')}. Times are the "
        "verifier's (median of its timed runs, ms); roofline share = floor / kernel time on the device's "
        "datasheet profile and on its measured one (no share on a GPU without a profile).",
        "",
        "| task | status | verdict | profile (tried) | shape | kernel ms | eager ms | compile ms | x eager "
        "| x compile | roofline | roofline (measured) | s |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in trows:
        t = r.get("timing") or {}
        roof, roof_m = r.get("roofline") or {}, r.get("roofline_measured") or {}
        tried = len(r.get("profiles_tried") or [])
        profile = (r.get("params") or {}).get("profile")
        lines.append(
            f"| {r['task_id']} | {_cell(r.get('status'))} | {_cell(r.get('verdict'))} "
            f"| {_cell(profile)} ({tried}) | {_cell(t.get('shape') or ', '.join(r.get('shapes') or []))} "
            f"| {_f(t.get('candidate_ms'))} | {_f(t.get('eager_ms'))} | {_f(t.get('compiled_ms'))} "
            f"| {_f(t.get('speedup_eager'), '{:.2f}')} | {_f(t.get('speedup_compiled'), '{:.2f}')} "
            f"| {_f(roof.get('share'), '{:.1%}')} | {_f(roof_m.get('share'), '{:.1%}')} "
            f"| {_f(r.get('wall_s'), '{:.0f}')} |"
        )
    problems = [r for r in trows if r.get("verdict") != "accepted"]
    for r in problems:
        why = r.get("first_rejection") or r.get("note") or (r.get("errors") or [""])[0] or r.get("log_tail") or ""
        lines.append(f"- {r['task_id']}: {_cell(str(why)[-300:])}")

    stab = c.get("stability") or {}
    sp = stab.get("spread")
    lines += ["", "## Stability: one kernel verified and timed repeatedly", "", f"Kernel: {stab.get('kernel', '—')}."]
    if sp:
        lines.append(
            f"Kernel time over {sp['n']} runs: min {sp['min_ms']:.4g} ms, median {sp['median_ms']:.4g} ms, "
            f"max {sp['max_ms']:.4g} ms; spread (max - min) / median = {sp['spread']:.1%}."
        )
    else:
        lines.append("No spread: fewer than two timed runs (a CPU dry run times nothing).")
    lines += ["", "| run | verdict | kernel ms | eager ms | x eager |", "|---:|---|---:|---:|---:|"]
    for r in stab.get("runs") or []:
        lines.append(
            f"| {r['run']} | {r['verdict']} | {_f(r['candidate_ms'])} | {_f(r['eager_ms'])} "
            f"| {_f(r['speedup_eager'], '{:.2f}')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=[*PARTS, "report"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dry-run", action="store_true", help="CPU, small shapes, no timings")
    parser.add_argument("--quick", action="store_true", help="a few corpus entries, one task, two stability runs")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds this part may take")
    args = parser.parse_args()
    out = args.out.resolve()
    if args.part == "env":
        part_env(out, args.dry_run)
    elif args.part == "gpu-tests":
        part_gpu_tests(out, args.deadline)
    elif args.part == "corpus":
        part_corpus(out, args.dry_run, args.quick)
    elif args.part == "template":
        part_template(out, args.dry_run, args.quick, args.deadline)
    elif args.part == "stability":
        part_stability(out, args.dry_run, args.quick)
    else:
        return part_report(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
