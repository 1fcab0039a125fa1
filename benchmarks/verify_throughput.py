"""Verification throughput: candidates per minute and per-candidate fixed overhead, local and ray.

A trivial op (``x * 2 + 1`` on 1024 floats; ``tests/executors/trivial.py``) is prepared once, then
distinct honest candidates are verified against it: the op's own work is negligible, so the time
per candidate is the verifier's fixed overhead (sandbox processes, imports, the channel, judging).

- ``local``: ``verifier.verify`` in this process's sandbox processes, one candidate after another.
- ``ray``: a ``LoopbackCluster`` on this machine (``--nodes`` raylets on 127.0.0.1, one verifying
  worker each), the ray executor as the service uses it: one candidate at a time (latency, Ray's
  dispatch included), then ``--candidates`` at once from threads (throughput across the workers).

The first verification of each worker is reported apart (``warmup_s``): a cold process. On a CPU
every figure is a CPU figure (Triton interpreter): overhead and throughput of verification, never a
kernel speed.

    .venv/bin/python benchmarks/verify_throughput.py [--candidates 8] [--nodes 2] [--executors local,ray]
        [--out benchmarks/results/verify_throughput-cpu-DATE.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import service.executors.local_cluster  # noqa: E402, F401  (sets Ray's loopback environment before ray is imported)
from tests.executors import trivial  # noqa: E402
from tests.executors.trivial import REFERENCE  # noqa: E402

variant = trivial.variant


def _stats(seconds: list[float]) -> dict[str, Any]:
    return {
        "n": len(seconds),
        "median_s": round(statistics.median(seconds), 3),
        "mean_s": round(statistics.fmean(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
    }


def _sequential(verify_one: Any, sources: list[str]) -> tuple[list[float], list[str]]:
    times, verdicts = [], []
    for source in sources:
        started = time.monotonic()
        report = verify_one(source)
        times.append(time.monotonic() - started)
        verdicts.append(report.verdict)
    return times, verdicts


def measure_local(count: int, options: Any) -> dict[str, Any]:
    from service.executors import LocalExecutor
    from verifier import Candidate, Reference

    executor = LocalExecutor()
    started = time.monotonic()
    prepared = executor.prepare(Reference(source=REFERENCE), options)
    prepare_s = time.monotonic() - started

    def one(source: str) -> Any:
        return executor.verify(prepared, Candidate(source=source), options)

    warm, _ = _sequential(one, [variant(10_000)])
    times, verdicts = _sequential(one, [variant(k) for k in range(count)])
    per = _stats(times)
    return {
        "executor": "local",
        "prepare_s": round(prepare_s, 3),
        "warmup_s": round(warm[0], 3),
        "sequential": per,
        "verdicts": sorted(set(verdicts)),
        "per_candidate_overhead_s": per["median_s"],
        "candidates_per_minute": round(60.0 / per["mean_s"], 1),
        "workers": 1,
    }


def measure_ray(count: int, options: Any, nodes: int) -> dict[str, Any]:
    from service.executors.local_cluster import LoopbackCluster
    from service.executors.ray_executor import RESOURCE, RayExecutor
    from verifier import Candidate, Reference

    started = time.monotonic()
    cluster = LoopbackCluster([{RESOURCE: 1} for _ in range(nodes)]).start()
    cluster_s = time.monotonic() - started
    executor = RayExecutor(cluster.address)
    try:
        started = time.monotonic()
        executor.connect()
        deadline = time.monotonic() + 180
        while len([w for w in executor.workers() if w["alive"]]) < nodes and time.monotonic() < deadline:
            time.sleep(0.5)
            executor.available()
        workers = len(executor.workers())
        connect_s = time.monotonic() - started
        started = time.monotonic()
        prepared = executor.prepare(Reference(source=REFERENCE), options)
        prepare_s = time.monotonic() - started

        def one(source: str) -> Any:
            return executor.verify(prepared, Candidate(source=source), options)

        # one cold verification per worker, at once (each lands on an idle worker)
        warm: list[float] = []
        lock = threading.Lock()

        def warm_one(k: int) -> None:
            t0 = time.monotonic()
            one(variant(20_000 + k))
            with lock:
                warm.append(time.monotonic() - t0)

        threads = [threading.Thread(target=warm_one, args=(k,)) for k in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        times, verdicts = _sequential(one, [variant(k) for k in range(count)])
        per = _stats(times)

        results: list[str] = []

        def run(source: str) -> None:
            report = one(source)
            with lock:
                results.append(report.verdict)

        sources = [variant(30_000 + k) for k in range(count)]
        started = time.monotonic()
        threads = [threading.Thread(target=run, args=(s,)) for s in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parallel_s = time.monotonic() - started
        nodes_used = sorted({w["node_id"][:12] for w in executor.workers()})
    finally:
        executor.close()
        cluster.shutdown()
    return {
        "executor": "ray",
        "nodes": nodes,
        "workers": workers,
        "worker_nodes": nodes_used,
        "cluster_start_s": round(cluster_s, 3),
        "connect_s": round(connect_s, 3),
        "prepare_s": round(prepare_s, 3),
        "warmup_s": [round(w, 3) for w in sorted(warm)],
        "sequential": per,
        "per_candidate_overhead_s": per["median_s"],
        "candidates_per_minute_one_at_a_time": round(60.0 / per["mean_s"], 1),
        "parallel": {"candidates": count, "wall_s": round(parallel_s, 3)},
        "candidates_per_minute": round(60.0 * count / parallel_s, 1),
        "verdicts": sorted(set(verdicts + results)),
    }


def environment() -> dict[str, Any]:
    import torch

    from verifier.hostinfo import describe_host, triton_version

    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    try:  # the figures are of the working tree: say when the verifier there is not the commit's
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "verifier"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        dirty = ""
    try:
        import ray

        ray_version = ray.__version__
    except ImportError:
        ray_version = None
    host = describe_host("cpu")
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "verifier_uncommitted_changes": bool(dirty),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "triton": triton_version(),
        "ray": ray_version,
        "cpu": host.get("device_name"),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=8, help="distinct candidates measured per executor")
    parser.add_argument("--nodes", type=int, default=2, help="raylets of the loopback cluster (one worker each)")
    parser.add_argument("--executors", default="local,ray", help="comma-separated: local, ray")
    parser.add_argument("--device", default="cpu", choices=("cpu", "auto", "cuda"))
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--distinct-kernels",
        action="store_true",
        help="each candidate's kernel text differs (no kernel build is reused); default: only a comment differs",
    )
    args = parser.parse_args()
    global variant
    if args.distinct_kernels:
        variant = getattr(trivial, "kernel_variant", trivial.variant)
    from verifier import VerifyOptions

    options = VerifyOptions(device=args.device)
    env = environment()
    device = "cuda" if args.device == "cuda" else "cpu" if args.device == "cpu" else "auto"
    out: dict[str, Any] = {
        "benchmark": "verify_throughput",
        "op": "x * 2 + 1 on 1024 float32 (tests/executors/trivial.py), prepared reference",
        "candidates": "distinct kernels (kernel_variant)" if args.distinct_kernels else "distinct sources, one kernel",
        "device": device,
        "note": (
            "CPU figures (Triton interpreter): verification overhead and throughput, not kernel speed"
            if device == "cpu"
            else "verification overhead and throughput, not kernel speed"
        ),
        "environment": env,
        "results": [],
    }
    for name in [e.strip() for e in args.executors.split(",") if e.strip()]:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        if name == "local":
            result = measure_local(args.candidates, options)
        elif name == "ray":
            result = measure_ray(args.candidates, options, args.nodes)
        else:
            parser.error(f"unknown executor {name!r}")
        out["results"].append(result)
    out["environment"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]

    print(f"verification throughput, trivial op, prepared reference, device {device} ({out['note']})")
    print(f"{'executor':10} {'workers':>7} {'overhead s/cand':>16} {'cand/min':>9}  notes")
    for r in out["results"]:
        note = f"warm-up {r['warmup_s']} s"
        if r["executor"] == "ray":
            note += (
                f"; one at a time {r['candidates_per_minute_one_at_a_time']} cand/min; "
                f"{r['parallel']['candidates']} at once in {r['parallel']['wall_s']} s"
            )
        print(
            f"{r['executor']:10} {r['workers']:>7} {r['per_candidate_overhead_s']:>16.2f} "
            f"{r['candidates_per_minute']:>9.1f}  {note}"
        )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
