"""`kiln generate` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.agents.test_template_tasks import NOT_A_TEMPLATE

runner = CliRunner()


def test_generate_template_for_a_task(tmp_path: Path) -> None:
    out = tmp_path / "kernel.py"
    args = ["generate", "--task", "conv1d.long_causal", "--proposer", "template", "--device", "cpu"]
    result = runner.invoke(app, [*args, "--trials", "1", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["stopped_because"] == "exhausted"
    assert data["best"]["verdict"] == "accepted" and data["best"]["origin"] == "template"
    assert out.read_text(encoding="utf-8") == data["best"]["source"]
    assert "class ModelNew" in out.read_text(encoding="utf-8")


def test_no_template_exits_1(tmp_path: Path) -> None:
    ref = tmp_path / "fmod.py"
    ref.write_text(NOT_A_TEMPLATE, encoding="utf-8")
    result = runner.invoke(app, ["generate", "--reference", str(ref), "--device", "cpu", "--trials", "1"])
    assert result.exit_code == 1, result.output
    assert "no template" in result.output and "aten.fmod" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "no.such_task"], "no.such_task"),
        (["--reference", "/nonexistent/ref.py"], "not found"),
        ([], "exactly one of"),
        (["--task", "conv1d.long_causal", "--proposer", "magic"], "--proposer"),
        (["--task", "conv1d.long_causal", "--proposer", "llm"], "KILN_LLM_MODEL"),
    ],
)
def test_bad_invocations_exit_2(monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    monkeypatch.delenv("KILN_LLM_MODEL", raising=False)
    result = runner.invoke(app, ["generate", "--device", "cpu", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
