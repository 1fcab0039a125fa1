"""The template compiler's kernels profiled without a GPU: the verifier's ``static_profile`` per task.

    python benchmarks/static_profile.py [--task ID ...] [--family F ...] [--profile small_tiles]
        [--kernelbench DIR --kernelbench-run RUN.json [--every K] [--kernelbench-task ID ...]]
        [--shape NAME ...] [--set GROUP.KEY=N ...] [--seed S ...] [--label before] [--json FILE]
    python benchmarks/static_profile.py --compare BEFORE.json AFTER.json

For each built-in task (and, with ``--kernelbench``, every K-th KernelBench problem of the level at
its small shape from a ``kiln bench`` run's ``changed_constants``), the template compiler plans the
op on the first small shape (or on each shape ``--shape`` names; a task without it is skipped), the
GPU tuning profile named by ``--profile`` is emitted (the kernels a GPU would run first) and verified
on the CPU (Triton interpreter, one trial, one call). The row is the report's ``static_profile``
summary: spills, registers, occupancy, tensor-core instructions (sm_90 builds), requested bytes
against the compulsory ones, sector efficiency, bytes per output element (the JSON also has each
kernel's load and store bytes and sectors), and for built-in tasks an estimated time on the
roofline's GPU profile (``max(compute floor, requested bytes / bandwidth)``) against the floor (the
compulsory bytes). Every figure is an estimate from the build and the interpreter's counts: none is
a timing.

Imports only the verifier, the task suite and the template compiler (no service or database).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tasks  # noqa: E402
from agents.template import NoTemplate, plan_template  # noqa: E402
from agents.template.emit import emit_candidate  # noqa: E402
from agents.template.tuning import GPU_PROFILES  # noqa: E402
from verifier import Reference, VerifyOptions, verify  # noqa: E402

_KERNEL_KEYS = ("kernel", "programs", "load_bytes", "load_sectors", "store_bytes", "store_sectors", "atomic_bytes")
"""What a row keeps of each kernel's counts (``per_kernel``): where the requested bytes go."""


def _options(timeout: float, seed: int | None = None) -> VerifyOptions:
    return VerifyOptions(device="cpu", timeout_s=timeout, trials=1, calls_per_trial=1, seed=seed)


def profile_reference(
    reference: Reference,
    shape: str | None,
    profile: str,
    timeout: float,
    seed: int | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Plan, emit the GPU profile ``profile`` (its settings updated by ``overrides``, ``{group: {key:
    value}}``) and verify it on the CPU (inputs drawn from ``seed``, a fresh random one when None): the
    row's profile fields."""
    start = time.monotonic()
    options = _options(timeout, seed)
    try:
        plan = plan_template(reference, options, shape)
    except NoTemplate as e:
        return {"verdict": "no_template", "reason": str(e)[:300], "seconds": round(time.monotonic() - start, 1)}
    if overrides:
        settings = {g: {**v, **overrides.get(g, {})} for g, v in GPU_PROFILES[profile].items()}
        source = emit_candidate(plan.program, plan.model, settings, plan.title, profile)
    else:
        source = {params["profile"]: source for source, params in plan.variants("cuda")}[profile]
    report = verify(reference, source, options)
    static = report.static_profile
    row: dict[str, Any] = {
        "verdict": report.verdict,
        "reason": "; ".join(report.reasons)[:300],
        "kernels": plan.describe()[:200],
        "seconds": round(time.monotonic() - start, 1),
        "summary": static.get("summary", {}),
        "builds": [
            {k: b.get(k) for k in ("kernel", "registers", "spill_store_bytes", "shared_bytes", "tensor_core_ops")}
            | {"occupancy": (b.get("occupancy") or {}).get("occupancy")}
            for b in static.get("builds", [])
        ],
        "call": {k: v for k, v in (static.get("calls") or [{}])[0].items() if k != "kernels"},
        "per_kernel": [
            {k: kernel.get(k) for k in _KERNEL_KEYS} for kernel in (static.get("calls") or [{}])[0].get("kernels", [])
        ],
    }
    return row


def _estimate(task_id: str, shape: str, call: dict[str, Any]) -> dict[str, Any] | None:
    """Estimated time on the roofline's default GPU profile against its floor (both in ms)."""
    try:
        figures = tasks.roofline(tasks.get(task_id), shape)
    except Exception:  # no cost model for this task or shape
        return None
    requested = call.get("requested_bytes")
    if not requested or not figures.min_bytes:
        return None
    memory_ms = figures.memory_ms * requested / figures.min_bytes
    estimate = max(figures.compute_ms, memory_ms)
    return {
        "hardware": figures.hardware,
        "floor_ms": round(figures.floor_ms, 6),
        "estimate_ms": round(estimate, 6),
        "estimate_over_floor": round(estimate / figures.floor_ms, 3) if figures.floor_ms else None,
    }


def builtin_rows(
    ids: list[str],
    profile: str,
    timeout: float,
    seeds: list[int | None] | None = None,
    shapes: list[str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Each task's first small shape (or each of ``shapes`` it has), once per seed of ``seeds`` (the
    inputs: a graph task's random graph)."""
    rows = []
    for task_id in ids:
        task = tasks.get(task_id)
        names = [s for s in shapes if s in task.shape_names()] if shapes else task.shape_names("small")[:1]
        for shape, seed in ((shape, seed) for shape in names for seed in seeds or [None]):
            row = {
                "task_id": task_id,
                "shape": shape,
                **({"seed": seed} if seed is not None else {}),
                **({"overrides": overrides} if overrides else {}),
                **profile_reference(task.reference(shapes=[shape]), shape, profile, timeout, seed, overrides),
            }
            if row.get("call"):
                row["roofline"] = _estimate(task_id, shape, row["call"])
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def kernelbench_rows(
    directory: Path, run: Path, every: int, profile: str, timeout: float, only: set[str] | None = None
) -> list[dict[str, Any]]:
    """Every ``every``-th problem of ``directory`` (of those in ``only``, when given) at the small shape the
    bench run ``run`` used."""
    data = json.loads(run.read_text())
    recorded = {t["task_id"]: t for t in data.get("run", data)["tasks"]}
    rows = []
    for task in tasks.load_kernelbench_dir(directory, skip_invalid=True)[::every]:
        if only is not None and task.id not in only:
            continue
        small = {k: v[1] for k, v in (recorded.get(task.id, {}).get("changed_constants") or {}).items()}
        reference = Reference(source=task.source, name=task.id, shapes={"small": small})
        row = {"task_id": task.id, "shape": "small", **profile_reference(reference, "small", profile, timeout)}
        rows.append(row)
        print(_line(row), flush=True)
    return rows


def _fmt(value: Any, pattern: str = "{}") -> str:
    return "-" if value is None else pattern.format(value)


def _line(row: dict[str, Any]) -> str:
    s = row.get("summary", {})
    seed = f" seed {row['seed']}" if row.get("seed") is not None else ""
    return (
        f"{row['task_id'] + ' ' + row['shape'] + seed:<55} {row['verdict']:<9} spills {_fmt(s.get('spill_bytes'))} "
        f"regs {_fmt(s.get('max_registers'))} tc {_fmt(s.get('tensor_cores'))} "
        f"ratio {_fmt(s.get('traffic_ratio'), '{:.2f}')} sectors {_fmt(s.get('sector_efficiency'), '{:.0%}')} "
        f"B/out {_fmt(s.get('bytes_per_output'), '{:.1f}')} ({row.get('seconds')} s)"
    )


def markdown(rows: list[dict[str, Any]]) -> str:
    """The README's table: one line a task."""
    lines = [
        "| task | verdict | spill B | max regs | min occupancy | tensor cores | requested / compulsory | "
        "sector efficiency | bytes / output | est. time / floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s = row.get("summary", {})
        roof = row.get("roofline") or {}
        est = f"{roof['estimate_over_floor']:.2f}x" if roof.get("estimate_over_floor") else "-"
        lines.append(
            f"| {row['task_id']} | {row['verdict']} | {_fmt(s.get('spill_bytes'))} | {_fmt(s.get('max_registers'))} | "
            f"{_fmt(s.get('min_occupancy'), '{:.0%}')} | {_fmt(s.get('tensor_cores'))} | "
            f"{_fmt(s.get('traffic_ratio'), '{:.2f}')} | {_fmt(s.get('sector_efficiency'), '{:.0%}')} | "
            f"{_fmt(s.get('bytes_per_output'), '{:.1f}')} | {est} |"
        )
    return "\n".join(lines)


def compare(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """Before -> after, one line a task (shape and seed) both runs have: spills, tensor cores, traffic ratio,
    sector efficiency, bytes per output."""
    earlier = {(row["task_id"], row.get("shape"), row.get("seed")): row.get("summary", {}) for row in before}
    lines = [
        "| task | spill B | tensor cores | requested / compulsory | sector efficiency | bytes / output |",
        "|---|---|---|---|---|---|",
    ]
    for row in after:
        key = (row["task_id"], row.get("shape"), row.get("seed"))
        if key not in earlier:
            continue
        b, a = earlier[key], row.get("summary", {})
        seed = f" ({key[1]}{f', seed {key[2]}' if key[2] is not None else ''})"

        def pair(key: str, pattern: str = "{}", b: dict = b, a: dict = a) -> str:
            return f"{_fmt(b.get(key), pattern)} → {_fmt(a.get(key), pattern)}"

        lines.append(
            f"| {row['task_id']}{seed} | {pair('spill_bytes')} | {pair('tensor_cores')} | "
            f"{pair('traffic_ratio', '{:.2f}')} | {pair('sector_efficiency', '{:.0%}')} | "
            f"{pair('bytes_per_output', '{:.1f}')} |"
        )
    return "\n".join(lines)


def _overrides(settings: list[str]) -> dict[str, dict[str, Any]]:
    """``["spmm.block_m=64"]`` -> ``{"spmm": {"block_m": 64}}`` (integer values)."""
    out: dict[str, dict[str, Any]] = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        group, _, key = name.partition(".")
        out.setdefault(group, {})[key] = int(value)
    return out


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", action="append", default=[], help="A built-in task (repeatable).")
    parser.add_argument("--kernelbench-task", action="append", default=[], help="Only these KernelBench ids.")
    parser.add_argument("--family", action="append", default=[])
    parser.add_argument("--no-builtin", action="store_true", help="Only the KernelBench sample.")
    parser.add_argument("--profile", default="small_tiles", help="The GPU tuning profile emitted.")
    parser.add_argument("--kernelbench", type=Path, help="A KernelBench level directory (read only).")
    parser.add_argument("--kernelbench-run", type=Path, help="A kiln bench run JSON with the small shapes.")
    parser.add_argument("--every", type=int, default=5, help="Every K-th KernelBench problem.")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--seed",
        type=int,
        action="append",
        default=[],
        help="The verifier's seed (the inputs: a graph task's graph); repeatable: each built-in task once a seed.",
    )
    parser.add_argument(
        "--shape",
        action="append",
        default=[],
        help="A built-in task's shape by name (repeatable; default: its first small).",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="GROUP.KEY=N",
        help="Override one setting of the profile (spmm.block_m=64; repeatable): built-in tasks only.",
    )
    parser.add_argument("--label", default="", help="before / after: written into the JSON.")
    parser.add_argument("--json", type=Path, help="Where the results go.")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="Only compare two runs.")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text())["rows"] for p in args.compare)
        print(compare(before, after))
        return
    ids = args.task or [t.id for t in tasks.all_tasks() if not args.family or t.family in args.family]
    started, commit = time.monotonic(), _commit()  # the code measured: the commit checked out at the start
    overrides = _overrides(args.set)
    rows = (
        []
        if args.no_builtin
        else builtin_rows(ids, args.profile, args.timeout, args.seed or None, args.shape or None, overrides)
    )
    if args.kernelbench is not None:
        if args.kernelbench_run is None:
            parser.error("--kernelbench needs --kernelbench-run (the small shapes)")
        only = set(args.kernelbench_task) or None
        rows += kernelbench_rows(args.kernelbench, args.kernelbench_run, args.every, args.profile, args.timeout, only)
    result = {
        "what": "static profile (sm_90 builds, interpreter access counts): estimates, never timings",
        "label": args.label,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
        "tuning_profile": args.profile,
        "wall_seconds": round(time.monotonic() - started, 1),
        "rows": rows,
    }
    print(markdown(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
