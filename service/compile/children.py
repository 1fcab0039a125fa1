"""Run ``service.compile.model_child`` in a child process: the user's model never runs in ``kiln`` itself.

``kiln compile`` runs the user's own model in a plain child process. The service
(``POST /v1/compilations``) runs a submitted model sandboxed (``sandbox=``): under bwrap or unshare
(``verifier.sandbox.isolation``: no network, a scrubbed environment, resource limits; under bwrap a
read-only view of the system and Python and nothing of the project but a copy of the child and of
``kernelkiln``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class ChildError(RuntimeError):
    """The child failed: the model did not load, export or run (the message says which)."""


SANDBOX_MEMORY_MB = 8192
"""Memory (address space) a sandboxed child may use."""


def run_child(
    request: dict[str, Any],
    timeout_s: float = 600.0,
    env: dict[str, str] | None = None,
    *,
    sandbox: str | None = None,
) -> dict[str, Any]:
    """Send ``request`` to a fresh ``model_child`` and return its answer (``ChildError`` on failure).

    ``sandbox`` (``auto``, ``bwrap``, ``unshare``; ``docker`` means the strongest namespace mechanism
    here): run it isolated, for a model this host did not write (``ChildError`` when no sandbox works)."""
    if sandbox is not None:
        return _run_sandboxed(request, timeout_s, sandbox)
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), child_env.get("PYTHONPATH", "")) if p)
    argv = [sys.executable, "-m", "service.compile.model_child"]
    return _answer(request, _run(request, argv, timeout_s, env=child_env, cwd=str(ROOT)))


def _run(request: dict[str, Any], argv: list[str], timeout_s: float, **popen: Any) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            argv, input=json.dumps(request), capture_output=True, text=True, timeout=timeout_s, **popen
        )
    except subprocess.TimeoutExpired:
        raise ChildError(f"{request.get('action')} took more than {timeout_s:.0f} s") from None


def _run_sandboxed(request: dict[str, Any], timeout_s: float, sandbox: str) -> dict[str, Any]:
    from verifier.errors import SandboxUnavailableError
    from verifier.sandbox import isolation as iso
    from verifier.sandbox.environment import prepare_scratch, worker_environment

    try:  # the child is no sandbox worker (no docker image runs it): the namespace mechanisms only
        isolation = iso.choose(sandbox if sandbox in ("bwrap", "unshare") else "auto")
        if isolation.mechanism == "docker":
            isolation = iso.choose("bwrap" if iso.bwrap_problem() is None else "unshare")
    except SandboxUnavailableError as e:
        raise ChildError(f"no sandbox to run the model in: {e}") from None
    with tempfile.TemporaryDirectory(prefix="kiln-model-") as top:
        code, scratch = Path(top) / "code", Path(top) / "scratch"
        scratch.mkdir()
        prepare_scratch(scratch)
        shutil.copytree(ROOT / "kernelkiln", code / "kernelkiln", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(Path(__file__).with_name("model_child.py"), code / "kiln_model_child.py")
        argv = [sys.executable, "-m", "kiln_model_child"]
        if isolation.mechanism == "bwrap":
            argv = iso.bwrap_argv(argv, scratch, code, cuda=False)
        elif isolation.mechanism == "unshare":
            argv = iso.unshare_argv(argv)
        done = _run(
            request,
            argv,
            timeout_s,
            env=worker_environment(scratch, str(code), interpret_triton=True),
            cwd=str(scratch),
            start_new_session=True,
            preexec_fn=iso.resource_limiter(SANDBOX_MEMORY_MB, int(timeout_s) + 30, limit_address_space=True),
        )
    return _answer(request, done)


def _answer(request: dict[str, Any], done: subprocess.CompletedProcess) -> dict[str, Any]:
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise ChildError(f"{request.get('action')} failed (exit {done.returncode}): {' | '.join(tail)[:800]}")
    answer = json.loads(lines[-1])
    if "error" in answer:
        raise ChildError(str(answer["error"]))
    return answer
