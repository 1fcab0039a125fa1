"""Run the verifier's adversarial corpus (and the GPU-only cheats) on this host's device and write the
measured report.

    python benchmarks/verifier_corpus.py [--device cuda] [--out DIR | --json FILE] [--only NAME ...]
                                         [--timeout S] [--hang-timeout S] [--jobs N]

Each entry's verdict, failing checks, first reason and (for accepted kernels on a GPU) timings are
recorded with the device name and versions. Nothing here is estimated: what is written was measured.
The results file is rewritten after every entry, so a run stopped early leaves what it had.
Exit 0 when every entry was judged as expected, 1 otherwise.

Imports only the standard library and the verifier (no pytest): it runs on a GPU host with nothing
but torch and triton installed (``benchmarks/gpu_campaign.sh``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.verifier.corpus_files import CORPUS, load_corpus  # noqa: E402
from verifier import Candidate, PreparedReference, Reference, VerifyOptions, prepare, verify  # noqa: E402

GPU_ONLY = ROOT / "tests" / "verifier" / "gpu"
REFERENCE_FILE = CORPUS / "reference_dwconv3x3.py"
GPU_SHAPE = {"gpu": {"batch_size": 8, "channels": 64, "height": 128, "width": 128}}
SKIP = {"escape_file", "escape_socket"}  # need a host-side secret file / listening server (see tests)
HANG = "broken_hang"
ALSO_ACCEPTED = {
    # The GPU path watches the resident set and kills the process; the CPU path's address-space
    # limit makes the allocation fail inside forward.
    "broken_memory_bomb": {"process"},
    # The side-stream cheat is caught by the stream check, or by the values when its clone runs first.
    "cheat_side_stream": {"values"},
}
ON_GPU = {
    # A CPU-only limit: the interpreter (NumPy) and the compiled kernel (PTX) disagree on an
    # out-of-range float-to-int cast; compiled on a GPU, the kernel's zeros fail the values check.
    "limit_interpreter_cast_divergence": "values",
}
"""Entries whose expected outcome on a GPU differs from the ``expect:`` header (written for a CPU)."""
TIMED = {"accepted", "stream"}
"""Entries whose outcome depends on the timed phase: run one at a time, never next to another."""
SCREENED = "static_screen"
"""Entries refused by the static screen alone: judged with the screen on (every other entry with it
off, so each runtime layer is shown to stand on its own)."""


@dataclass(frozen=True)
class Entry:
    name: str
    expect: str
    """``accepted`` or the check that must fail at run time."""
    source: str
    gpu_only: bool = False

    def expected(self) -> set[str]:
        return {self.expect} | ALSO_ACCEPTED.get(self.name, set())


def load_entries(device: str) -> list[Entry]:
    """The corpus (its ``expect:`` headers, each source as the verifier receives it), plus the GPU-only
    cheats on ``cuda``."""
    dirs = [(CORPUS, False)] + ([(GPU_ONLY, True)] if device == "cuda" else [])
    return [
        Entry(e.name, ON_GPU.get(e.name, e.expect) if device == "cuda" else e.expect, e.source(), gpu_only)
        for directory, gpu_only in dirs
        for e in load_corpus(directory)
    ]


def judge(entry: Entry, options: VerifyOptions, prepared: PreparedReference) -> dict[str, Any]:
    start = time.monotonic()
    if entry.expect == SCREENED:
        options = replace(options, static_screen=True)
    report = verify(prepared, Candidate(source=entry.source, name=entry.name), options)
    failed = [c.name for c in report.checks if not c.passed]
    if entry.expect == "accepted":
        ok = report.verdict == "accepted"
    else:
        ok = report.verdict != "accepted" and bool(entry.expected() & set(failed))
    return {
        "candidate": entry.name,
        "expected": sorted(entry.expected()),
        "verdict": report.verdict,
        "failed_checks": failed,
        "as_expected": ok,
        "first_reason": (report.reasons or [""])[0][:300],
        "timing": report.timing.__dict__ if report.timing else None,
        "seconds": round(time.monotonic() - start, 1),
    }


def run(
    device: str,
    out_json: Path,
    *,
    only: list[str] | None = None,
    timeout_s: float = 90.0,
    hang_timeout_s: float = 20.0,
    jobs: int = 1,
    quiet: bool = False,
    deadline_s: float | None = None,
    sandbox: str = "auto",
    trusted_code: bool = False,
) -> bool:
    """Judge the selected entries (timed ones first, one at a time), rewriting ``out_json`` after each;
    no entry is started ``deadline_s`` seconds after the call (those are recorded as not run). True
    when every entry run was as expected."""
    started = time.monotonic()
    common = {"device": device, "static_screen": False, "sandbox": sandbox, "trusted_code": trusted_code}
    options = VerifyOptions(**common, timeout_s=timeout_s)
    hang_options = VerifyOptions(**common, timeout_s=hang_timeout_s)
    entries = [e for e in load_entries(device) if e.name not in SKIP and (not only or e.name in only)]
    if only and (missing := sorted(set(only) - {e.name for e in entries})):
        raise SystemExit(f"unknown or skipped corpus entries: {', '.join(missing)}")
    shapes = GPU_SHAPE if device == "cuda" else {}
    prepared = prepare(Reference.from_file(REFERENCE_FILE, shapes=shapes), options)
    payload: dict[str, Any] = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": device,
        "environment": prepared.environment,
        "sandbox": prepared.isolation.describe(),
        "reference_timing": prepared.timing,
        "entries_selected": len(entries),
        "skipped": sorted(SKIP),
        "results": [],
    }

    def record(row: dict[str, Any]) -> None:
        payload["results"].append(row)
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        if not quiet:
            mark = "ok " if row["as_expected"] else "BAD"
            print(f"{mark} {row['candidate']:32s} {row['verdict']:9s} {','.join(row['failed_checks'])}", flush=True)

    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    # Timed entries run alone, first (their figures matter most when time is short); entries that
    # never reach the timed phase may then run side by side.
    untimed = [e for e in entries if e.expect not in TIMED]
    timed = [e for e in entries if e.expect in TIMED]

    def judge_one(e: Entry) -> dict[str, Any]:
        if deadline_s is not None and time.monotonic() - started > deadline_s:
            return not_run(e, f"not started: the part's deadline ({deadline_s:.0f} s) had passed")
        return judge(e, hang_options if e.name == HANG else options, prepared)

    for e in timed:
        record(judge_one(e))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for row in pool.map(judge_one, untimed):
            record(row)
    return all(r["as_expected"] for r in payload["results"] if r["verdict"] != NOT_RUN)


NOT_RUN = "not run"


def not_run(entry: Entry, why: str) -> dict[str, Any]:
    """The row of an entry that was not judged (``as_expected`` is None: neither yes nor no)."""
    return {
        "candidate": entry.name,
        "expected": sorted(entry.expected()),
        "verdict": NOT_RUN,
        "failed_checks": [],
        "as_expected": None,
        "first_reason": why,
        "timing": None,
        "seconds": 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="directory for a dated file")
    parser.add_argument("--json", type=Path, help="write exactly this file instead")
    parser.add_argument("--only", action="append", default=[], help="only this entry (repeatable)")
    parser.add_argument("--timeout", type=float, default=90.0, help="wall-clock limit per sandbox process (s)")
    parser.add_argument("--hang-timeout", type=float, default=20.0, help="the same for the hang entry (s)")
    parser.add_argument("--jobs", type=int, default=1, help="entries judged side by side (untimed entries only)")
    args = parser.parse_args()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%MZ")
    path = args.json or args.out / f"verifier_corpus_{args.device}_{stamp}.json"
    ok = run(
        args.device,
        path,
        only=args.only,
        timeout_s=args.timeout,
        hang_timeout_s=args.hang_timeout,
        jobs=args.jobs,
    )
    print(f"wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
