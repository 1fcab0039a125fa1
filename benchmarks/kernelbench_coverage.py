"""Coverage by op category of a ``kiln bench`` run over a KernelBench level (the run's JSON object).

    python benchmarks/kernelbench_coverage.py RUN.json [--before OLD_RUN.json] [--out RESULT.json]

Prints, per category, the accepted count of the run (and of an earlier run with ``--before``) and
writes both with the date and machine to ``--out``. Categories come from the problem's file name
(level 1: the op; level 2: the anchor op its name starts with). ``RUN.json`` is ``kiln bench --out``'s
file or ``kernelbench_run_report.py``'s (the run object under ``run``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
from pathlib import Path
from typing import Any

CATEGORIES: list[tuple[str, str]] = [
    ("transposed convolution", r"conv_transposed"),
    ("depthwise / pointwise convolution", r"conv_(depthwise|pointwise)"),
    ("standard convolution", r"conv_standard"),
    ("pooling", r"pooling"),
    ("matmul", r"matmul|matrix_multiplication|matrix_vector|matrix_scalar"),
    ("norm", r"norm_?$|norm\b|batchnorm|instancenorm|groupnorm|layernorm|rmsnorm"),
    ("loss", r"loss"),
    ("scan (cumsum / cumprod)", r"cum"),
    ("reduction", r"reduction|argmax|argmin"),
    ("softmax / log-softmax", r"softmax"),
    ("attention", r"attention"),
    ("activation / pointwise", r"relu|sigmoid|tanh|swish|gelu|selu|softplus|softsign|elu|hardtanh"),
]


LEVEL2_CATEGORIES: list[tuple[str, str]] = [
    ("transposed convolution + ops", r"convtranspose"),
    ("3D convolution + ops", r"conv3d"),
    ("2D convolution + ops", r"conv2d"),
    ("GEMM / matmul + ops", r"gemm|matmul|bmm"),
]
"""Level 2 problems are named by their ops in order; the first (the anchor) is the category."""


def category(task_id: str) -> str:
    name = task_id.rsplit(".", 1)[-1].lower()
    for label, pattern in LEVEL2_CATEGORIES if ".level2." in task_id else CATEGORIES:
        if re.search(pattern, name):
            return label
    return "other"


def _run(path: str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    return data.get("run", data)


def table(run: dict[str, Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for task in run["tasks"]:
        row = out.setdefault(category(task["task_id"]), {"problems": 0, "accepted": 0})
        row["problems"] += 1
        row["accepted"] += task.get("verdict") == "accepted"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--before")
    parser.add_argument("--out")
    args = parser.parse_args()
    after = table(_run(args.run))
    before = table(_run(args.before)) if args.before else {}
    print(f"{'category':36} {'problems':>8} {'before':>7} {'after':>6}")
    for label in sorted(after, key=lambda k: -after[k]["problems"]):
        row = after[label]
        old = before.get(label, {}).get("accepted", "")
        print(f"{label:36} {row['problems']:>8} {old!s:>7} {row['accepted']:>6}")
    total = sum(r["accepted"] for r in after.values())
    total_before = sum(r["accepted"] for r in before.values()) if before else ""
    print(f"{'total':36} {sum(r['problems'] for r in after.values()):>8} {total_before!s:>7} {total:>6}")
    if args.out:
        result = {
            "date": datetime.date.today().isoformat(),
            "machine": f"{platform.processor() or platform.machine()}, {platform.system()}",
            "run": args.run,
            "before": args.before,
            "by_category_after": after,
            "by_category_before": before,
            "accepted_after": total,
            "accepted_before": total_before,
        }
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
