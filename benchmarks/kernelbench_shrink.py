"""The automatic small tier over a KernelBench level: which problems get a valid small shape, and how fast.

    .venv/bin/python benchmarks/kernelbench_shrink.py KernelBench/level1 --out benchmarks/results/x.json

For every problem file: the shrinker's status (``ok`` / ``no_small_shape`` / ``reference_failed``),
the changed constants, the reference's estimated forward time and elements on the chosen shape,
how many shapes were tried and the wall time. Nothing is copied from the problem files but their
constants' names and values.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    args = parser.parse_args()

    import torch

    import tasks
    from tasks.shrink import SandboxRunner, shrink

    found, errors = tasks.scan_kernelbench_dir(args.directory)
    runner = SandboxRunner()
    started = time.monotonic()
    rows = []
    for task in found[: args.limit]:
        result = shrink(task.source, run=runner)
        row = {"task_id": task.id, "file": Path(task.origin).name, **result.to_dict()}
        row.pop("source_sha256")
        rows.append(row)
        print(
            f"{task.id:70s} {result.status:16s} {result.reference_seconds!s:>6} s "
            f"{result.elements!s:>9} el, {len(result.attempts)} tried, {result.seconds:.1f} s: {result.reason[:120]}",
            flush=True,
        )
    wall = time.monotonic() - started
    ok = [r for r in rows if r["status"] == "ok"]
    summary = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "directory": str(args.directory),
        "problems": len(rows),
        "unreadable_files": [{"file": str(p), "error": e} for p, e in errors],
        "small_shape_ok": len(ok),
        "no_small_shape": [r["task_id"] for r in rows if r["status"] == "no_small_shape"],
        "reference_failed": [r["task_id"] for r in rows if r["status"] == "reference_failed"],
        "wall_seconds": round(wall, 1),
        "sandbox_baseline_seconds": round(runner.baseline(), 3),
        "reference_seconds_max": max((r["reference_seconds"] or 0.0) for r in ok) if ok else None,
        "attempts_total": sum(len(r["attempts"]) for r in rows),
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"{len(ok)}/{len(rows)} problems have a valid small shape; {wall:.0f} s; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
