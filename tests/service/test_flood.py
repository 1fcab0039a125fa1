"""A flood of POST /v1/verify never holds the threads that serve everything else: health and read endpoints
answer within 100 ms (p95) while verifications run and queue, the queue is bounded (503 at once, with
Retry-After), and one token cannot take every slot (429).

The server, the flood and the measured reads run in three processes (``tests/service/flood_tools.py``), as
they would in use. In the first two tests every verification is a stand-in that sleeps and then refuses the
reference: what is measured is the service's queueing, not the sandbox.
``test_real_sandbox_verifications_do_not_starve_reads`` runs the real verifier on candidates that sleep in
``__init__``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.persistence import user_task_id
from tests.service.conftest import free_port
from tests.service.flood_tools import REFERENCE

pytestmark = pytest.mark.serial  # wall-clock bounds: runs alone (Makefile)

SLOW_S = 2.0
TOKENS = [f"flood-token-{n}" for n in range(12)]
READS = ["/healthz", "/v1/tasks/general.softmax", "/v1/leaderboard", "/v1/tasks"]
P95_BUDGET_S = 0.100
REAL_P95_BUDGET_S = 1.0
"""With real verifications the sandbox processes (2 cores here) and the verifier's own parent-side work in the
server process (same interpreter lock) compete with the reads: measured p95 20-280 ms on a shared 2-core
machine. Starvation showed as 7.3 s per read before; this bound catches that, not CPU contention."""
READ_EVERY_S = 0.04
REPO = Path(__file__).resolve().parents[2]


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


class Server:
    def __init__(self, tmp: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "verifications.jsonl"
        command = [sys.executable, "-m", "tests.service.flood_tools", "serve", "--port", str(self.port)]
        command += ["--url", f"sqlite:///{tmp / 'kiln.sqlite'}", "--log", str(self.log), *extra]
        self.process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the flood test's server did not start")
            time.sleep(0.2)
        with httpx.Client(base_url=self.url) as c:  # warm up every read path
            for path in READS:
                assert c.get(path).status_code == 200

    def verifications(self) -> list[dict[str, float]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    started: list[Server] = []

    def start(*extra: str) -> Server:
        server = Server(tmp_path, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def most_at_once(spans: list[dict[str, float]]) -> int:
    events = sorted([(s["start"], 1) for s in spans] + [(s["end"], -1) for s in spans])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def measure_reads(url: str, stop: threading.Event, out: dict[str, list[float]]) -> None:
    """Until ``stop``: a read every ``READ_EVERY_S``, whether or not earlier ones were answered (a stalled
    server shows as many slow samples, not as one), each one's latency recorded per path."""

    async def timed(c: httpx.AsyncClient, path: str) -> None:
        started = time.perf_counter()
        r = await c.get(path)
        out.setdefault(path, []).append(time.perf_counter() - started)
        assert r.status_code == 200, (path, r.status_code)

    async def sample() -> None:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
            pending = []
            n = 0
            while not stop.is_set():
                pending.append(asyncio.create_task(timed(c, READS[n % len(READS)])))
                n += 1
                await asyncio.sleep(READ_EVERY_S)
            await asyncio.gather(*pending)

    asyncio.run(sample())


def flood_while_reading(server: Server, *args: str) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """Run a flood process against ``server`` while this process measures reads; its results and the reads."""
    latencies: dict[str, list[float]] = {}
    stop = threading.Event()
    reader = threading.Thread(target=measure_reads, args=(server.url, stop, latencies))
    reader.start()
    try:
        time.sleep(0.5)  # reads before the flood too
        command = [sys.executable, "-m", "tests.service.flood_tools", "flood", "--server", server.url, *args]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=True)
        time.sleep(0.5)
    finally:
        stop.set()
        reader.join()
    return [json.loads(line) for line in done.stdout.splitlines()], latencies


def assert_reads_stay_fast(latencies: dict[str, list[float]], budget_s: float = P95_BUDGET_S) -> None:
    for path, samples in latencies.items():
        print(f"\n{path}: p95 {p95(samples) * 1000:.0f} ms over {len(samples)} reads during the flood", end="")
        assert len(samples) >= 10, (path, len(samples))
        assert p95(samples) < budget_s, (path, f"p95 {p95(samples) * 1000:.0f} ms", len(samples))


def test_a_verify_flood_leaves_reads_fast_and_is_refused_at_once_beyond_the_queue(start_server) -> None:
    server = start_server(
        "--slow", str(SLOW_S), "--tokens", ",".join(TOKENS), "--concurrency", "2", "--queue", "4", "--per-owner", "1"
    )
    results, latencies = flood_while_reading(server, "--count", "48", "--tokens", ",".join(TOKENS))
    codes = [r["status"] for r in results]
    # 2 run and 4 wait (then the stand-in refuses the reference: 422); the rest are refused at once
    assert codes.count(422) == 6, codes
    assert set(codes) <= {422, 429, 503}, codes  # 429: a token that already had one waiting or running
    busy = [r for r in results if r["status"] == 503]
    assert busy and all(r["retry_after"] and "KILN_VERIFY_QUEUE" in r["detail"] for r in busy)
    refused = [r["seconds"] for r in results if r["status"] in (429, 503)]
    assert max(refused) < SLOW_S, refused  # at once, not after waiting for a slot
    spans = server.verifications()
    assert len(spans) == 6 and most_at_once(spans) == 2
    assert_reads_stay_fast(latencies)
    with httpx.Client(base_url=server.url) as c:  # nothing was stored for the refused reference
        assert user_task_id(REFERENCE) not in {t["id"] for t in c.get("/v1/tasks").json()}


def test_one_token_cannot_take_every_slot(start_server) -> None:
    server = start_server(
        "--slow", str(SLOW_S), "--tokens", TOKENS[0], "--concurrency", "2", "--queue", "4", "--per-owner", "2"
    )
    command = [sys.executable, "-m", "tests.service.flood_tools", "flood", "--server", server.url]
    done = subprocess.run(
        [*command, "--count", "6", "--tokens", TOKENS[0]], cwd=REPO, capture_output=True, text=True, check=True
    )
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["status"] for r in results) == [422, 422, 429, 429, 429, 429], results
    limited = next(r for r in results if r["status"] == 429)
    assert limited["retry_after"] and "KILN_VERIFY_PER_TOKEN" in limited["detail"]


@pytest.mark.slow
def test_real_sandbox_verifications_do_not_starve_reads(start_server) -> None:
    """The real verifier: two candidates that sleep 1 s in ``__init__`` (in every trial) run while 40 more
    requests are refused, and reads stay fast (``REAL_P95_BUDGET_S``: they share the CPU with the sandbox)."""
    server = start_server("--concurrency", "2", "--queue", "0", "--per-owner", "2")
    results, latencies = flood_while_reading(server, "--count", "42", "--sleepy", "1")
    codes = [r["status"] for r in results]
    assert codes.count(200) == 2 and codes.count(429) + codes.count(503) == 40, results
    assert all(r["detail"] in ("accepted", "rejected") for r in results if r["status"] == 200)
    assert_reads_stay_fast(latencies, REAL_P95_BUDGET_S)
