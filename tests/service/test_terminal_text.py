"""Other people's strings on a terminal (issue 24): task ids and model names with escape sequences were
printed raw by ``kiln regress`` and ``kiln submit --wait``; every such string is now escaped."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from service.regress.render import render_table
from service.regress.results import KernelResult, Recorded, RegressRun
from service.text import markup_safe, printable

HOSTILE = "ew.\x1b]0;pwned\x07\x1b[2J[bold]x\u202e"


def test_printable_escapes_control_and_format_characters() -> None:
    assert printable("plain text, é, 日本") == "plain text, é, 日本"
    assert printable(HOSTILE) == "ew.\\x1b]0;pwned\\x07\\x1b[2J[bold]x\\u202e"
    assert printable("a\nb\tc", keep="\n") == "a\nb\\tc"
    assert markup_safe("[bold]x\x1b") == "\\[bold]x\\x1b"


def test_kiln_regress_table_prints_no_escape_sequence() -> None:
    recorded = Recorded(1, "accepted", None, None, "0" * 64, HOSTILE, [], {})
    result = KernelResult(
        task_id=HOSTILE,
        hardware_fingerprint="fp",
        device_name=HOSTILE,
        candidate_id=1,
        candidate_sha256="a" * 64,
        language="triton",
        origin="llm",
        origin_detail=HOSTILE,
        outcome="regressed",
        reason="no longer accepted: " + HOSTILE,
        recorded=recorded,
        notes=(HOSTILE,),
    )
    out = io.StringIO()
    render_table(RegressRun([result], "cpu", "sqlite://", "all", False), Console(file=out, width=400))
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b]0;pwned" in text


def test_kiln_submit_wait_prints_no_escape_sequence(capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli.submit_cmd import _follow, _print_result

    events = [
        SimpleNamespace(type="status", data={"status": "running", "waiting": HOSTILE}),
        SimpleNamespace(type="verified", data={"verdict": "rejected", "origin": HOSTILE, "reasons": [HOSTILE]}),
        SimpleNamespace(type="best", data={"origin": "llm", "name": HOSTILE}),
        SimpleNamespace(type="error", data={"message": HOSTILE}),
        SimpleNamespace(type="finished", data={}),
    ]
    _follow(SimpleNamespace(events=lambda job_id: iter(events)), "j1")
    _print_result({"id": HOSTILE, "status": "failed", "error": HOSTILE, "best": None}, None, False)
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b]" not in stream and "\x07" not in stream and "\u202e" not in stream
    assert "\\x1b]0;pwned" in captured.err and "\\x1b]0;pwned" in captured.out


def test_kiln_bench_run_table_prints_no_escape_sequence(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from kernels_store import open_store
    from service.cli.bench_cmd import _report
    from tests.bench.runs import new_run

    store = open_store(f"sqlite:///{tmp_path / 'kiln.sqlite'}")
    store.put_task(HOSTILE, "import torch\n")
    run = new_run(store, [HOSTILE], device_name=HOSTILE)
    store.update_run_task(run.id, HOSTILE, status="done", verdict="rejected", reason=HOSTILE)
    _report(store, store.get_run(run.id), False, None)
    store.close()
    out = capsys.readouterr().out
    assert "\x1b]" not in out and "\x07" not in out and "\u202e" not in out and "\\x1b]0;pwned" in out
