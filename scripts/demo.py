"""The main job on embedded defaults: start the service, submit a built-in large-kernel convolution
task, follow it, print the verified kernel and its report, stop the service.

    .venv/bin/python scripts/demo.py [--task dwconv2d.convnext_7x7] [--port 8765] [--database URL] [--budget 4]

Used by `make demo`. The service keeps its default SQLite store (see README), so the kernel is also
on the leaderboard at http://127.0.0.1:PORT/ while a server runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"demo: the server exited with code {server.returncode} before becoming healthy")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"demo: the server at {url} did not become healthy within {timeout_s:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="dwconv2d.convnext_7x7")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database", default=None, help="store URL (default: the service's SQLite default)")
    parser.add_argument("--budget", type=int, default=4)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    serve = [str(BIN / "kiln"), "serve", "--port", str(args.port), "--log-level", "warning"]
    if args.database:
        serve += ["--database", args.database]
    print(f"demo: starting the service: {' '.join(serve)}", flush=True)
    server = subprocess.Popen(serve, start_new_session=True)
    try:
        wait_healthy(url, server)
        submit = [
            str(BIN / "kiln"),
            "submit",
            "--task",
            args.task,
            "--server",
            url,
            "--wait",
            "--budget",
            str(args.budget),
        ]
        print(f"demo: {' '.join(submit)}", flush=True)
        code = subprocess.call(submit, env={**os.environ, "KILN_SERVER_URL": url})
        print(f"demo: kiln submit exited with {code}; leaderboard was at {url}/ (server now stopping)", flush=True)
        return code
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    raise SystemExit(main())
