"""On a host with no usable sandbox (no bubblewrap, no unshare), the commands that verify refuse once,
up front, with exit 2 and the fix, before any work: no bench run stored, no job served."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kernels_store import open_store

ROOT = Path(__file__).resolve().parents[2]
FIX = "install bubblewrap"


def _kiln_without_sandbox(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kiln ARGS`` with a PATH that holds neither ``bwrap`` nor ``unshare`` (and no docker image named)."""
    env = {
        "HOME": str(tmp_path),
        "PATH": str(tmp_path / "no-tools"),
        "PYTHONPATH": str(ROOT),
        "KILN_DATABASE_URL": f"sqlite:///{tmp_path / 'kiln.sqlite'}",
    }
    code = "from service.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )


def test_the_host_has_a_sandbox_otherwise() -> None:
    """The control: here a sandbox is found with the normal PATH, so the refusals below come from its removal."""
    from service.cli.common import failer, require_sandbox
    from verifier.sandbox.isolation import bwrap_problem, unshare_problem

    if bwrap_problem() is not None and unshare_problem() is not None:
        pytest.skip("no sandbox on this host at all")
    assert require_sandbox(failer("test", 2)) in ("bwrap", "unshare")


@pytest.mark.parametrize(
    "args",
    [
        ("bench", "--task", "general.softmax"),
        ("generate", "--task", "general.softmax"),
        ("serve", "--port", "1"),
    ],
    ids=["bench", "generate", "serve"],
)
def test_a_command_that_verifies_refuses_up_front_without_a_sandbox(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = _kiln_without_sandbox(tmp_path, *args)
    assert done.returncode == 2, done
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr  # said once
    assert lines[0].startswith(f"kiln {args[0]}: error: cannot verify on this host: no sandbox"), lines[0]
    assert FIX in lines[0] and "bwrap is not installed" in lines[0]
    assert "--trusted-code" not in lines[0]  # only kiln verify has --sandbox none
    assert "no_kernel" not in done.stdout + done.stderr
    database = tmp_path / "kiln.sqlite"
    if database.exists():
        store = open_store(f"sqlite:///{database}")
        try:
            assert store.list_runs().total == 0
        finally:
            store.close()


def test_kiln_verify_still_names_its_own_way_out(tmp_path: Path) -> None:
    """``kiln verify`` (which has ``--sandbox none --trusted-code``) keeps the hint the others leave out."""
    example = ROOT / "verifier" / "examples"
    done = _kiln_without_sandbox(
        tmp_path,
        "verify",
        "--reference",
        str(example / "dwconv7x7_reference.py"),
        "--candidate",
        str(example / "dwconv7x7_triton.py"),
    )
    assert done.returncode == 2, done
    assert FIX in done.stderr and "--sandbox none --trusted-code" in done.stderr, done.stderr
