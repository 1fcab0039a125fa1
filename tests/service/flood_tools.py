"""Processes for the flood tests, so that the server, the flood and the measured reads each have an interpreter
(and a GIL) of their own, as they would in use.

``python -m tests.service.flood_tools serve --url DB --port P [--slow S --log FILE] [--tokens a,b] [--concurrency N
--queue N --per-owner N]`` runs ``kiln serve``'s app; with ``--slow`` every verification is a stand-in that sleeps
``S`` seconds, logs its start and end to ``FILE`` (JSON lines) and then refuses the reference (422).

``python -m tests.service.flood_tools flood --server URL --count N [--tokens a,b] [--sleepy S]`` sends N
``POST /v1/verify`` at once and prints one JSON line per response: status, seconds, Retry-After, detail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from typing import Any

REFERENCE = (
    "import torch\nimport torch.nn as nn\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
    "        return torch.relu(x)\n\ndef get_inputs():\n    return [torch.randn(64)]\n\n"
    "def get_init_inputs():\n    return []\n"
)
SLEEPY = (
    "import time\nimport torch\n\nclass ModelNew(torch.nn.Module):\n    def __init__(self):\n"
    "        super().__init__()\n        time.sleep({s})\n    def forward(self, x):\n        return x + {n}\n"
)


def candidate(n: int, sleepy_s: float | None) -> str:
    if sleepy_s is not None:
        return SLEEPY.format(s=sleepy_s, n=n)
    return (
        f"import torch\n\nclass ModelNew(torch.nn.Module):\n    '''flood {n}'''\n"
        "    def forward(self, x):\n        return x\n"
    )


def install_stand_in(seconds: float, log_path: str) -> None:
    """``verifier.verify`` becomes: sleep, log start and end, refuse the reference."""
    import verifier
    from verifier.errors import VerifierInputError

    lock = threading.Lock()

    def stand_in(reference: Any, cand: Any, options: Any) -> Any:
        started = time.time()
        time.sleep(seconds)
        with lock, open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"start": started, "end": time.time()}) + "\n")
        raise VerifierInputError("stand-in verifier: the reference is refused after a while")

    verifier.verify = stand_in


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from service.app import create_app
    from service.settings import Settings

    if args.slow is not None:
        install_stand_in(args.slow, args.log)
    settings = Settings(
        database_url=args.url,
        workers=0,
        api_tokens=frozenset(t for t in (args.tokens or "").split(",") if t),
        verify_concurrency=args.concurrency,
        verify_queue=args.queue,
        verify_per_owner=args.per_owner,
        auto_migrate=True,
    )
    app = create_app(settings)
    state = app.state.kiln
    assert state.device and state.environment  # imports and host lookups before the first request
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


async def flood(args: argparse.Namespace) -> None:
    import httpx

    tokens = [t for t in (args.tokens or "").split(",") if t]
    limits = httpx.Limits(max_connections=args.count + 10)
    async with httpx.AsyncClient(base_url=args.server, timeout=600, limits=limits) as client:

        async def one(n: int) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"} if tokens else {}
            body = {"reference_source": REFERENCE, "candidate_source": candidate(n, args.sleepy)}
            started = time.perf_counter()
            r = await client.post("/v1/verify", json=body, headers=headers)
            detail = r.json().get("detail") if r.status_code != 200 else r.json()["verdict"]
            return {
                "status": r.status_code,
                "seconds": time.perf_counter() - started,
                "retry_after": r.headers.get("retry-after"),
                "detail": str(detail)[:300],
            }

        for result in await asyncio.gather(*(one(n) for n in range(args.count))):
            print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--url", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--slow", type=float)
    s.add_argument("--log")
    s.add_argument("--tokens")
    s.add_argument("--concurrency", type=int, default=2)
    s.add_argument("--queue", type=int, default=8)
    s.add_argument("--per-owner", type=int, default=2)
    f = sub.add_parser("flood")
    f.add_argument("--server", required=True)
    f.add_argument("--count", type=int, required=True)
    f.add_argument("--tokens")
    f.add_argument("--sleepy", type=float)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args)
    else:
        asyncio.run(flood(args))


if __name__ == "__main__":
    main()
