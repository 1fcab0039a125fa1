"""A flood of POST /v1/verify never holds the threads that serve everything else: health and read endpoints
answer within 100 ms (p95) while verifications run and queue, the queue is bounded (503 at once, with
Retry-After), and one token cannot take every slot (429).

The verifications here are stand-ins that sleep (``verifier.verify`` replaced): what is measured is the
service's queueing, not the sandbox. ``test_real_sandbox_verifications_do_not_starve_reads`` runs the real
verifier on candidates that sleep in ``__init__``.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import httpx
import pytest

from service.persistence import user_task_id
from tests.service.conftest import LiveServer

REFERENCE = (
    "import torch\nimport torch.nn as nn\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
    "        return torch.relu(x)\n\ndef get_inputs():\n    return [torch.randn(64)]\n\n"
    "def get_init_inputs():\n    return []\n"
)
SLOW_S = 2.0
TOKENS = [f"flood-token-{n}" for n in range(12)]
READS = ["/healthz", "/v1/tasks/general.softmax", "/v1/leaderboard", "/v1/tasks"]
P95_BUDGET_S = 0.100


def candidate(n: int) -> str:
    return (
        f"import torch\n\nclass ModelNew(torch.nn.Module):\n    '''flood {n}'''\n"
        "    def forward(self, x):\n        return x\n"
    )


class SlowVerifier:
    """Stands in for ``verifier.verify``: sleeps, counts how many run at once, then refuses the reference."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls = 0

    def __call__(self, reference, cand, options):
        from verifier.errors import VerifierInputError

        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(SLOW_S)
        finally:
            with self.lock:
                self.running -= 1
        raise VerifierInputError("stand-in verifier: the reference is refused after a while")


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def warm_up(server: LiveServer) -> None:
    """Imports and host lookups done before anything is measured (the first verification does them)."""
    state = server.app.state.kiln
    assert state.device and state.environment
    with server.client() as c:
        for path in READS:
            assert c.get(path).status_code == 200


def measure_reads(url: str, stop: threading.Event, out: dict[str, list[float]]) -> None:
    with httpx.Client(base_url=url, timeout=30) as c:
        while not stop.is_set():
            for path in READS:
                started = time.perf_counter()
                r = c.get(path)
                out.setdefault(path, []).append(time.perf_counter() - started)
                assert r.status_code == 200, (path, r.status_code)
            time.sleep(0.02)


async def flood(url: str, requests: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        calls = [
            c.post(
                "/v1/verify",
                json={"reference_source": REFERENCE, "candidate_source": candidate(n)},
                headers={"Authorization": f"Bearer {TOKENS[n % len(TOKENS)]}"},
            )
            for n in range(requests)
        ]
        return await asyncio.gather(*calls)


def test_a_verify_flood_leaves_reads_fast_and_is_refused_at_once_beyond_the_queue(
    make_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import verifier

    slow = SlowVerifier()
    monkeypatch.setattr(verifier, "verify", slow)
    server: LiveServer = make_server(
        api_tokens=frozenset(TOKENS), verify_concurrency=2, verify_queue=4, verify_per_owner=1
    )
    warm_up(server)
    latencies: dict[str, list[float]] = {}
    stop = threading.Event()
    reader = threading.Thread(target=measure_reads, args=(server.url, stop, latencies))
    reader.start()
    try:
        started = time.perf_counter()
        responses = asyncio.run(flood(server.url, 48))  # more than the request thread pool's 40 threads
        flood_s = time.perf_counter() - started
    finally:
        stop.set()
        reader.join()
    codes = [r.status_code for r in responses]
    # 2 run and 4 wait (then the stand-in refuses the reference: 422); the rest are refused at once
    assert codes.count(422) == 6, codes
    busy = [r for r in responses if r.status_code == 503]
    assert busy and all(r.headers["retry-after"] and "KILN_VERIFY_QUEUE" in r.text for r in busy)
    assert set(codes) <= {422, 429, 503}, codes  # 429: a token that already had one waiting
    assert slow.most == 2 and slow.calls == 6
    assert flood_s < 3 * SLOW_S + 3, flood_s  # three waves of two, not 48 requests' worth of waiting
    for path, samples in latencies.items():
        assert len(samples) >= 10, (path, len(samples))
        assert p95(samples) < P95_BUDGET_S, (path, f"p95 {p95(samples) * 1000:.0f} ms", len(samples))
    with server.client() as c:  # nothing was stored for the refused reference
        assert user_task_id(REFERENCE) not in {t["id"] for t in c.get("/v1/tasks").json()}


def test_one_token_cannot_take_every_slot(make_server, monkeypatch: pytest.MonkeyPatch) -> None:
    import verifier

    slow = SlowVerifier()
    monkeypatch.setattr(verifier, "verify", slow)
    server: LiveServer = make_server(
        api_tokens=frozenset(TOKENS), verify_concurrency=2, verify_queue=4, verify_per_owner=2
    )

    async def one_token() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
            calls = [
                c.post(
                    "/v1/verify",
                    json={"reference_source": REFERENCE, "candidate_source": candidate(n)},
                    headers={"Authorization": f"Bearer {TOKENS[0]}"},
                )
                for n in range(6)
            ]
            return await asyncio.gather(*calls)

    responses = asyncio.run(one_token())
    codes = sorted(r.status_code for r in responses)
    assert codes == [422, 422, 429, 429, 429, 429], codes
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.headers["retry-after"] and "KILN_VERIFY_PER_TOKEN" in limited.json()["detail"]


SLEEPY = (
    "import time\nimport torch\n\nclass ModelNew(torch.nn.Module):\n    def __init__(self):\n"
    "        super().__init__()\n        time.sleep({s})\n    def forward(self, x):\n        return x + {n}\n"
)


@pytest.mark.slow
def test_real_sandbox_verifications_do_not_starve_reads(make_server) -> None:
    """The real verifier: two candidates that sleep in ``__init__`` run while 40 more requests are refused,
    and reads stay fast."""
    server: LiveServer = make_server(verify_concurrency=2, verify_queue=0, verify_per_owner=2)
    warm_up(server)
    latencies: dict[str, list[float]] = {}
    stop = threading.Event()
    reader = threading.Thread(target=measure_reads, args=(server.url, stop, latencies))
    reader.start()

    async def submit() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=300) as c:
            calls = [
                c.post(
                    "/v1/verify",
                    json={"reference_source": REFERENCE, "candidate_source": SLEEPY.format(s=1, n=n)},
                )
                for n in range(42)
            ]
            return await asyncio.gather(*calls)

    try:
        responses = asyncio.run(submit())
    finally:
        stop.set()
        reader.join()
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 2 and codes.count(429) + codes.count(503) == 40, codes
    assert all(r.json()["verdict"] in ("accepted", "rejected") for r in responses if r.status_code == 200)
    for path, samples in latencies.items():
        assert p95(samples) < P95_BUDGET_S, (path, f"p95 {p95(samples) * 1000:.0f} ms", len(samples))
