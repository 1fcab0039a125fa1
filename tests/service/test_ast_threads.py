"""``ast.parse`` from many threads at once (CPython gh-106905, present in 3.11.7): once the service is
created, parsing in request, job and verification threads never fails with
``SystemError: AST constructor recursion depth mismatch``.

The race is made near-certain: garbage collections run often, and a finalizer drops the GIL inside
them, so a thread switch lands in the middle of another thread's AST conversion.
"""

from __future__ import annotations

import ast
import gc
import sys
import threading
import time
from collections.abc import Callable

import pytest

from service import astlock
from service.api.validation import check_reference
from service.app import create_app
from service.settings import Settings

SOURCE = (
    "import torch\nimport torch.nn as nn\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
    "        return torch.relu(x)\n\ndef get_inputs():\n    return [torch.randn(64)]\n\n"
    "def get_init_inputs():\n    return []\n\n"
) + "\n".join(f"def f{i}(x):\n    return [(a, b) for a in range(x) if a % 3 for b in {{1: 2}}]" for i in range(300))
BUGGY_PYTHON = sys.version_info[:3] <= (3, 11, 7)


class _Churn:
    def __del__(self) -> None:
        time.sleep(0)  # releases the GIL from inside a garbage collection


def race(parse: Callable[[str], object], threads: int = 4, rounds: int = 3) -> list[str]:
    """Errors from ``threads`` threads parsing ``SOURCE`` ``rounds`` times each while collections churn."""
    errors: list[str] = []

    def work() -> None:
        for _ in range(rounds):
            junk = _Churn()
            junk.cycle = junk  # type: ignore[attr-defined]
            del junk
            try:
                parse(SOURCE)
            except SystemError as e:
                errors.append(str(e))
                return

    threshold = gc.get_threshold()
    gc.freeze()  # what exists now is left out of the collections: they stay cheap however big the process
    gc.set_threshold(20)
    try:
        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
    return errors


@pytest.mark.skipif(not BUGGY_PYTHON, reason="the control needs a CPython with gh-106905 (3.11.7 or older)")
def test_the_race_is_real_without_the_lock() -> None:
    """The control: CPython's own ``ast.parse``, unserialised, fails under this race."""
    found = []
    for _ in range(5):
        found += race(astlock._original_parse)
        if found:
            break
    assert any("recursion depth mismatch" in e for e in found), found


@pytest.mark.parametrize(
    "caller",
    [
        "ast.parse",  # as the verifier's static screen, reference checks, tasks and agents call it
        "service validation",
        "static screen",
    ],
)
def test_parsing_is_safe_in_threads_once_the_service_exists(tmp_path, caller: str) -> None:
    create_app(Settings(database_url=f"sqlite:///{tmp_path}/kiln.sqlite", workers=0))
    assert astlock.installed()
    if caller == "ast.parse":
        parse: Callable[[str], object] = lambda source: ast.parse(source)  # noqa: E731 (looked up at call time)
    elif caller == "service validation":
        parse = lambda source: check_reference(source, 1_000_000)  # noqa: E731
    else:
        from verifier.static_screen import screen

        parse = screen
    for _ in range(5):
        assert race(parse) == []


def test_every_kiln_command_serialises_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    monkeypatch.setattr(ast, "parse", astlock._original_parse)
    assert not astlock.installed()
    assert CliRunner().invoke(app, ["tasks", "list", "--json"]).exit_code == 0
    assert astlock.installed()
