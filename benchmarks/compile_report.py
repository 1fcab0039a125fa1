"""The table of a `kiln compile` sweep: per model its groups, verified groups, FLOPs and bytes covered,
and the pack's end-to-end check, from the compilations and packs on disk (nothing is re-run).

    python benchmarks/compile_report.py --compiled DIR --packs DIR --models NAME... --out FILE.json [--md FILE.md]
                                        [--database URL]

``--models`` lists every model attempted, in order: one without a ``compilation.json`` is reported with
the last line of its compile log (``DIR/<name>.err``) as why (not attempted, timed out, failed to export).
A compile whose log ends with the sweep's ``timed out`` line (its wall limit) is ``timed out (partial)``,
never a result. ``--previous FILE.json`` keeps an earlier report's rows for the models this sweep did not
run (neither a compilation nor a log here), each marked with the commit it was measured at. ``--title``
names the sweep in the markdown's heading (default: KernelBench level 3, small tier); ``--note`` adds a
sentence after its first line (the shape, the torch and torchvision versions of a side venv).
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _why_missing(compiled: Path, name: str) -> str:
    log = compiled / f"{name}.err"
    if not log.exists():
        return "not attempted"
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[:300]


def _timed_out(compiled: Path, name: str) -> bool:
    log = compiled / f"{name}.err"
    return log.exists() and "timed out" in (log.read_text(errors="replace").strip().splitlines() or [""])[-1]


def model_row(compiled: Path, packs: Path, name: str, store: Any = None) -> dict[str, Any]:
    """One model's row (``status``: compiled, running, interrupted, timed out or failed). With ``store`` a
    compile still running (or stopped) is read as its run stands now."""
    data = _read(compiled / name / "compilation.json")
    if data is None:
        why = _why_missing(compiled, name)
        status = "timed out" if _timed_out(compiled, name) else "not attempted" if why == "not attempted" else "failed"
        return {"model": name, "status": status, "why": why}
    if store is not None and data.get("run_id"):
        from service.compile.compiler import finish

        finish(store, data)
    coverage = data.get("coverage") or {}
    pack = _read(packs / name / "manifest.json")
    check = _read(packs / name / "check.json") or (pack or {}).get("check")  # the latest: kiln pack check rewrites it
    left = sorted({f"{g['summary']} ({g.get('verdict')})" for g in data["groups"] if g.get("verdict") != "accepted"})
    # ops that are no group at all (an RNN op has no single tensor output): outside every share, so named
    outside = [(node, why) for node, why in data.get("in_pytorch", []) if "a view, no kernel" not in why]
    left += sorted({f"{why} (no group)" for _, why in outside})
    return {
        "model": name,
        "status": "compiled"
        if data.get("status") == "completed"
        else ("timed out (partial)" if _timed_out(compiled, name) else f"{data.get('status')} (partial)"),
        "shape": data.get("shape_note", ""),
        "groups": coverage.get("groups"),
        "distinct": coverage.get("distinct"),
        "verified": coverage.get("verified"),
        "group_share": coverage.get("group_share"),
        "flops_share": coverage.get("flops_share"),
        "bytes_share": coverage.get("bytes_share"),
        "end_to_end": None if check is None else bool(check.get("passed")),
        "not_verified": left,
        # computing ops outside every group (a metadata assertion computes nothing): such a model's
        # group share says nothing about its compute, so it never counts as covered
        "ungrouped": sorted({node for node, _ in outside if not node.startswith("_assert")}),
    }


DEFAULT_TITLE = "KernelBench level 3, small tier"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    head = [
        f"# `kiln compile` on {meta.get('title') or DEFAULT_TITLE} ({meta['date']}, {meta['machine']})",
        "",
        f"commit `{meta['commit']}`; template proposer; CPU (Triton interpreter): correctness only, no speedups. "
        + (f"{meta['note']} " if meta.get("note") else "")
        + f"{meta['attempted']} model(s) attempted of {meta['level_size']}; "
        f"{meta['at_least_80']} with at least 80% of their groups in verified kernels "
        "(a model with a computing op outside every group, an RNN op, never counts).",
        "",
        "| model | status | groups | distinct | verified | share | FLOPs | bytes | end-to-end | not verified / why |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines = []
    for r in rows:
        if "why" in r:
            lines.append(f"| {r['model']} | {r['status']} | | | | | | | | {r['why']} |")
            continue
        e2e = {None: "not run", True: "match", False: "MISMATCH"}[r["end_to_end"]]
        status = r["status"] + (f" (commit {r['measured_at']})" if r.get("measured_at") else "")
        lines.append(
            f"| {r['model']} | {status} | {r['groups']} | {r['distinct']} | {r['verified']} | "
            f"{_pct(r['group_share'])} | {_pct(r['flops_share'])} | {_pct(r['bytes_share'])} | {e2e} | "
            f"{', '.join(r['not_verified'])[:200]} |"
        )
    return "\n".join(head + lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compiled", type=Path, required=True)
    parser.add_argument("--packs", type=Path, required=True)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--level-size", type=int, default=50)
    parser.add_argument("--commit", default="unknown")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--md", type=Path)
    parser.add_argument("--database", help="The compiles' store: read unfinished runs as they stand")
    parser.add_argument("--previous", type=Path, help="An earlier report: its rows for models not run here")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="The sweep, in the markdown's heading")
    parser.add_argument("--note", default="", help="A sentence after the markdown's first line")
    args = parser.parse_args()
    store = None
    if args.database:
        from kernels_store import open_store

        store = open_store(args.database)
    earlier: dict[str, dict[str, Any]] = {}
    if args.previous is not None:
        report = json.loads(args.previous.read_text())
        commit = report["meta"].get("commit")
        earlier = {r["model"]: {**r, "measured_at": r.get("measured_at") or commit} for r in report["models"]}
    rows = []
    for name in args.models:
        ran_here = (args.compiled / name).exists() or (args.compiled / f"{name}.err").exists()
        keep = name in earlier and not ran_here
        rows.append(earlier[name] if keep else model_row(args.compiled, args.packs, name, store))
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()} CPU, {platform.python_version()}",
        "commit": args.commit,
        "attempted": sum(1 for r in rows if r.get("why") != "not attempted"),
        "level_size": args.level_size,
        "title": args.title,
        "note": args.note,
        "at_least_80": sum(
            1
            for r in rows
            if r["status"] == "compiled" and (r.get("group_share") or 0) >= 0.8 and not r.get("ungrouped")
        ),
    }
    args.out.write_text(json.dumps({"meta": meta, "models": rows}, indent=1) + "\n")
    if args.md is not None:
        args.md.write_text(markdown(rows, meta))


if __name__ == "__main__":
    main()
