"""The template compiler's kernels, task by task: generated, verified and (on a GPU) timed against eager
PyTorch and ``torch.compile`` of the reference, with the roofline share as the leaderboard computes it.

    python benchmarks/template_kernels.py [--device cuda] [--task ID ...] [--family F ...] [--out DIR]

On a GPU each task is verified on its realistic shapes first (the first one is timed) and then its
small ones (``agents.reference_for_task``); on a CPU on its small shapes, correctness only: the JSON
then says ``"timing": null`` and no speedup is written. Results go to
``DIR/template_kernels-<device>-<date>.json`` with the device name and the torch/triton/CUDA versions
the verifier recorded. Nothing here is estimated: every figure was measured by the verifier.
Exit 0 when every selected task got an accepted kernel, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import agents  # noqa: E402
import tasks  # noqa: E402
from service.web.roofline_share import roofline_share  # noqa: E402
from verifier import VerifyOptions  # noqa: E402


def run_task(task_id: str, device: str, budget: int, timeout_s: float) -> dict[str, Any]:
    """Generate and verify the template kernel(s) of one task; the row recorded for it."""
    request = agents.GenerationRequest(
        reference=agents.reference_for_task(task_id, device),
        task_id=task_id,
        proposer="template",
        budget=agents.Budget(max_candidates=budget),
        verify_options=VerifyOptions(device=device, timeout_s=timeout_s),
    )
    start = time.monotonic()
    result = agents.generate(request)
    row: dict[str, Any] = {
        "task_id": task_id,
        "stopped_because": result.stopped_because,
        "candidates": len(result.candidates),
        "accepted": sum(c.report.verdict == "accepted" for c in result.candidates),
        "seconds": round(time.monotonic() - start, 1),
        "errors": list(result.errors)[:3],
        "verdict": None,
        "timing": None,
    }
    rejected = [c for c in result.candidates if c.report.verdict != "accepted"]
    if rejected:
        row["first_rejection"] = (rejected[0].report.reasons or ["(no reason)"])[0][:300]
    if result.best is None:
        return row
    report = result.best.report
    row.update(
        verdict=report.verdict,
        params=result.best.params,
        shapes=report.shapes,
        environment=report.environment,
    )
    if report.timing is not None:
        timing = report.timing
        row["timing"] = {
            "shape": timing.shape,
            "candidate_ms": timing.candidate_ms,
            "eager_ms": timing.eager_ms,
            "compiled_ms": timing.compiled_ms,
            "speedup_eager": timing.speedup_eager,
            "speedup_compiled": timing.speedup_compiled,
            "compile_error": timing.compile_error,
            "runs": timing.runs,
            "method": timing.method,
        }
        # the leaderboard's rule: only a realistic shape on a GPU with a roofline profile gets a share
        share = roofline_share(tasks.get(task_id), report.to_dict(), timing.candidate_ms, timing.device_name)
        row["roofline"] = {
            "share": share.share,
            "profile": share.hardware,
            "shape": share.shape,
            "why_not": share.why_not,
        }
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--task", action="append", default=[], help="a task id (repeatable; default: all)")
    parser.add_argument("--family", action="append", default=[], help="only this family (repeatable)")
    parser.add_argument("--budget", type=int, default=8, help="candidates (tuning profiles) per task")
    parser.add_argument("--timeout", type=float, default=600.0, help="wall-clock limit per sandbox process (s)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    selected = args.task or [t for t in tasks.ids() if not args.family or tasks.get(t).family in args.family]
    if not selected:
        parser.error("no task selected")
    rows = []
    for n, task_id in enumerate(selected, 1):
        print(f"[{n}/{len(selected)}] {task_id} on {args.device} ...", file=sys.stderr, flush=True)
        row = run_task(task_id, args.device, args.budget, args.timeout)
        rows.append(row)
        timing = row["timing"]
        said = (
            f"{timing['speedup_eager']:.2f}x eager, "
            + (f"{timing['speedup_compiled']:.2f}x torch.compile" if timing["speedup_compiled"] else "compile n/a")
            if timing
            else "not measured on a GPU"
        )
        print(f"    {row['verdict'] or 'no kernel'} ({row['stopped_because']}); {said}", file=sys.stderr, flush=True)

    stamp = datetime.now(UTC)
    out = args.out / f"template_kernels-{args.device}-{stamp:%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"measured_at": stamp.isoformat(timespec="seconds"), "device": args.device, "tasks": rows}
    out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0 if all(r["verdict"] == "accepted" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
