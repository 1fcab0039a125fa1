"""Run the verifier's adversarial corpus (and the GPU-only side-stream cheat) on this host's device
and write the measured report under benchmarks/results/.

    python benchmarks/verifier_corpus.py [--device cuda] [--out benchmarks/results]

Each entry's verdict, failing checks, first reason and (for accepted kernels on a GPU) timings are
recorded with the device name and versions. Nothing here is estimated: what is written was measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.verifier.conftest import CORPUS_ENTRIES, REFERENCE_FILE  # noqa: E402
from verifier import Candidate, Reference, VerifyOptions, prepare, verify  # noqa: E402

GPU_SHAPE = {"gpu": {"batch_size": 8, "channels": 64, "height": 128, "width": 128}}
SKIP = {"escape_file", "escape_socket"}  # need a host-side secret file / listening server (see tests)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    options = VerifyOptions(device=args.device, static_screen=False, timeout_s=300)
    shapes = GPU_SHAPE if args.device == "cuda" else {}
    prepared = prepare(Reference.from_file(REFERENCE_FILE, shapes=shapes), options)
    entries = [(e.name, e.expect, e.source()) for e in CORPUS_ENTRIES if e.name not in SKIP]
    if args.device == "cuda":
        side = ROOT / "tests" / "verifier" / "gpu" / "cheat_side_stream.py"
        entries.append(("cheat_side_stream", "stream", side.read_text()))
    rows = []
    for name, expect, source in entries:
        report = verify(prepared, Candidate(source=source, name=name), options)
        failed = [c.name for c in report.checks if not c.passed]
        ok = report.verdict == "accepted" if expect == "accepted" else expect in failed
        rows.append(
            {
                "candidate": name,
                "expected": expect,
                "verdict": report.verdict,
                "failed_checks": failed,
                "as_expected": ok,
                "first_reason": (report.reasons or [""])[0][:300],
                "timing": report.timing.__dict__ if report.timing else None,
            }
        )
        print(f"{'ok ' if ok else 'BAD'} {name:32s} {report.verdict:9s} {','.join(failed)}", flush=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%MZ")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"verifier_corpus_{args.device}_{stamp}.json"
    path.write_text(
        json.dumps(
            {
                "environment": prepared.environment,
                "sandbox": prepared.isolation.describe(),
                "reference_timing": prepared.timing,
                "results": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {path}")
    return 0 if all(r["as_expected"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
