"""A bounded load test of the service while a generation job runs: many concurrent status polls and
submissions over real HTTP, from a process other than the server's.

    python benchmarks/service_load.py [--clients 16] [--polls 25] [--submissions 16] [--json] [--out FILE]
    python benchmarks/service_load.py --url URL --job ID ...   # load a server that is already running

Without ``--url`` it starts ``kiln serve`` on a private SQLite store (one embedded worker, CPU),
submits the built-in ``dwconv2d.convnext_7x7`` task, waits until that job runs, and only then puts the
load on. Every request's status and latency is recorded; the figures (count, errors by status,
p50/p95/max latency, throughput, and whether the job still succeeded) are what was measured, nothing
is estimated. Exit 0 when no request got a 5xx or a transport error, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

TASK = "dwconv2d.convnext_7x7"
BIN = Path(sys.executable).parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _client(url: str, job_id: str, polls: int, submissions: int, samples: list[tuple[str, int, float]]) -> None:
    """One client: ``polls`` status polls of the running job, interleaved with ``submissions`` job posts."""
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        plan = ["poll"] * polls + ["submit"] * submissions
        for n, what in enumerate(plan[::2] + plan[1::2]):  # spread the submissions through the polls
            start = time.perf_counter()
            try:
                if what == "poll":
                    response = await client.get(f"/v1/jobs/{job_id}")
                else:
                    body = {"task_id": TASK, "proposer": "template", "language": "triton", "budget": 1}
                    response = await client.post("/v1/jobs", json=body)
                status = response.status_code
            except httpx.HTTPError as e:
                status = -1
                print(f"transport error on request {n} ({what}): {type(e).__name__}: {e}", file=sys.stderr)
            samples.append((what, status, time.perf_counter() - start))


async def load(url: str, job_id: str, clients: int, polls: int, submissions: int) -> dict[str, Any]:
    """Run the load and summarise it."""
    samples: list[tuple[str, int, float]] = []
    per_client = [submissions // clients + (i < submissions % clients) for i in range(clients)]
    start = time.perf_counter()
    await asyncio.gather(*(_client(url, job_id, polls, per_client[i], samples) for i in range(clients)))
    elapsed = time.perf_counter() - start
    summary: dict[str, Any] = {"clients": clients, "seconds": round(elapsed, 3), "requests": len(samples)}
    for what in ("poll", "submit"):
        rows = [s for s in samples if s[0] == what]
        if not rows:
            continue
        latencies = [s[2] * 1000 for s in rows]
        summary[what] = {
            "count": len(rows),
            "statuses": {str(k): sum(1 for s in rows if s[1] == k) for k in sorted({s[1] for s in rows})},
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "max_ms": round(max(latencies), 1),
        }
    summary["requests_per_s"] = round(len(samples) / elapsed, 1)
    summary["server_errors"] = sum(1 for s in samples if s[1] >= 500 or s[1] < 0)
    return summary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"service_load: {what} within {timeout_s:.0f} s")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (then --job is required)")
    parser.add_argument("--job", help="the id of a job to poll")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--polls", type=int, default=25, help="status polls per client")
    parser.add_argument("--submissions", type=int, default=16, help="job submissions in all")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", type=Path, help="also write the JSON figures to this file")
    args = parser.parse_args()
    if args.url and not args.job:
        parser.error("--url needs --job")

    server = None
    url, job_id = args.url, args.job
    if url is None:
        scratch = tempfile.mkdtemp(prefix="kiln-load-")
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "KILN_DATABASE_URL": f"sqlite:///{scratch}/kiln.sqlite",
            "KILN_WORKERS": "1",
            "KILN_DEVICE": "cpu",
            "KILN_MAX_ACTIVE_JOBS": str(args.submissions + 1),
        }
        serve = [str(BIN / "kiln"), "serve", "--port", str(port), "--log-level", "warning"]
        server = subprocess.Popen(serve, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        if server is not None:
            _wait(lambda: _healthy(url), 120, "the server did not become healthy")
            body = {"task_id": TASK, "proposer": "template", "language": "triton", "budget": 2}
            job_id = httpx.post(f"{url}/v1/jobs", json=body, timeout=30).json()["id"]

            def running() -> bool:
                return httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()["status"] != "queued"

            _wait(running, 120, "the job did not start")
        load_before = os.getloadavg()[0]
        summary = asyncio.run(load(url, job_id, args.clients, args.polls, args.submissions))
        summary["load_average_1m_before"] = round(load_before, 2)
        summary["job_status_after_load"] = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()["status"]
        if server is not None:

            def finished() -> str | None:
                status = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()["status"]
                return status if status in ("succeeded", "failed", "cancelled") else None

            summary["job_final_status"] = _wait(finished, 600, "the job did not finish")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    summary["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    summary["host"] = {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}
    text = json.dumps(summary, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    if args.json:
        print(text)
    else:
        for what in ("poll", "submit"):
            if what in summary:
                s = summary[what]
                print(
                    f"{what}: {s['count']} requests, statuses {s['statuses']}, "
                    f"p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, max {s['max_ms']} ms"
                )
        print(
            f"{summary['requests']} requests from {args.clients} clients in {summary['seconds']} s "
            f"({summary['requests_per_s']} req/s); server errors: {summary['server_errors']}; "
            f"job during load: {summary['job_status_after_load']}"
            + (f", finally {summary['job_final_status']}" if "job_final_status" in summary else "")
        )
    return 0 if summary["server_errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
