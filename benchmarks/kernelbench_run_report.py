"""A `kiln bench` run over a KernelBench level as a results file: the run's JSON object plus the small tier.

    .venv/bin/kiln bench --kernelbench-dir KernelBench/level1 --workers 2 --json > run.json
    .venv/bin/python benchmarks/kernelbench_run_report.py --database URL --run RUN_ID \\
        --wall-seconds S --out benchmarks/results/kernelbench_level1-template-cpu-DATE.json

Adds to the run object: date, machine, wall time, counts per verdict, and per task the small tier's
status, changed constants, estimated reference time and elements, shapes tried; and the problems that
got no valid small shape with the reason. A backward run (``kiln bench --mode backward``) says so
(``mode``), and how many problems its fast_p counts (``skipped`` ones, nothing differentiable, are not).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--wall-seconds", type=float, required=True, help="the kiln bench process's wall time")
    parser.add_argument("--note", default="", help="conditions of the measurement (load, other work)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--commit", default="", help="the commit whose code the run measured")
    args = parser.parse_args()

    import torch

    from kernels_store import open_store
    from service.bench.summary import run_json

    store = open_store(args.database)
    run = store.get_run(args.run)
    if run is None:
        raise SystemExit(f"no run {args.run}")
    rows = store.run_tasks(run.id)
    data = run_json(run, rows)
    small: dict[str, dict] = {}
    for row in rows:
        task = store.get_task(row.task_id)
        tier = (task.extra or {}).get("small_tier") if task is not None else None
        if tier:
            small[row.task_id] = {
                "status": tier["status"],
                "changed": tier["changed"],
                "reference_seconds": tier["reference_seconds"],
                "elements": tier["elements"],
                "shapes_tried": len(tier["attempts"]),
                "seconds": tier["seconds"],
                "reason": tier["reason"],
            }
    counts: dict[str, int] = {}
    for t in data["tasks"]:
        counts[t["verdict"]] = counts.get(t["verdict"], 0) + 1
    ok = [k for k, v in small.items() if v["status"] == "ok"]
    ran = [t["task_id"] for t in data["tasks"] if t["task_id"] in ok and t["verdict"] != "reference_failed"]
    report = {
        "date": dt.date.today().isoformat(),
        "machine": {
            "cpu": (run.device_name or platform.processor()),
            "cores": os.cpu_count(),
            "gpu": None if run.device != "cuda" else run.device_name,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "note": args.note,
        },
        "commit": args.commit,
        "command": f"kiln bench --kernelbench-dir <KernelBench>/KernelBench/{run.suite.rsplit('.', 1)[-1]} "
        f"--tier {run.tier} "
        + (f"--mode {data['mode']} " if data["mode"] != "forward" else "")
        + f"--proposer {run.proposer} --workers {run.options.get('workers', 2)}"
        + (f" --timeout {timeout:g}" if (timeout := float(run.options.get("timeout_s", 180.0))) != 180.0 else ""),
        "mode": data["mode"],
        "fast_p_denominator": (run.summary or {}).get("ranked"),
        "wall_seconds": round(args.wall_seconds, 1),
        "tasks": len(rows),
        "counts": counts,
        "small_shape_ok": len(ok),
        "small_shape_ok_and_reference_ran": len(ran),
        "no_small_shape": {k: v["reason"] for k, v in small.items() if v["status"] == "no_small_shape"},
        "reference_failed": {k: v["reason"] for k, v in small.items() if v["status"] == "reference_failed"},
        "shrink_seconds_total": round(sum(v["seconds"] for v in small.values()), 1),
        "reference_seconds_max": max((v["reference_seconds"] or 0.0) for k, v in small.items() if k in ok)
        if ok
        else None,
        "run": data,
        "small_tier": small,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k not in ("run", "small_tier")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
