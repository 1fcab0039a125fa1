"""Run ``service.compile.model_child`` in a child process: the user's model never runs in ``kiln`` itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class ChildError(RuntimeError):
    """The child failed: the model did not load, export or run (the message says which)."""


def run_child(request: dict[str, Any], timeout_s: float = 600.0, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Send ``request`` to a fresh ``model_child`` and return its answer (``ChildError`` on failure)."""
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), child_env.get("PYTHONPATH", "")) if p)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "service.compile.model_child"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=child_env,
            cwd=str(ROOT),
        )
    except subprocess.TimeoutExpired:
        raise ChildError(f"{request.get('action')} took more than {timeout_s:.0f} s") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise ChildError(f"{request.get('action')} failed (exit {done.returncode}): {' | '.join(tail)[:800]}")
    answer = json.loads(lines[-1])
    if "error" in answer:
        raise ChildError(str(answer["error"]))
    return answer
