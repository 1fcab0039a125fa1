"""The executor seam without a cluster: settings, names, the local executor's placement, job summaries."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.executors import LocalExecutor, make_executor, placements_summary
from service.settings import Settings
from verifier import Report


def test_settings_and_names(monkeypatch) -> None:
    monkeypatch.setenv("KILN_EXECUTOR", "ray")
    monkeypatch.setenv("KILN_RAY_ADDRESS", "10.0.0.5:6379")
    settings = Settings.from_env()
    assert (settings.executor, settings.ray_address) == ("ray", "10.0.0.5:6379")
    monkeypatch.setenv("KILN_EXECUTOR", "dask")
    with pytest.raises(ValueError, match="KILN_EXECUTOR must be local or ray"):
        Settings.from_env()
    monkeypatch.delenv("KILN_EXECUTOR")
    assert Settings.from_env().executor == "local"
    assert isinstance(make_executor("local"), LocalExecutor)
    with pytest.raises(ValueError, match="available: local, ray"):
        make_executor("dask")
    result = CliRunner().invoke(app, ["serve", "--executor", "dask"])
    assert result.exit_code == 2 and "--executor must be local or ray" in result.output


def test_job_summary_names_each_node() -> None:
    def report(node: str | None, attempt: int, executor: str = "ray") -> Report:
        placement = {
            "executor": executor,
            "node_id": node,
            "hostname": f"host-{node}",
            "gpu": "H200",
            "attempt": attempt,
        }
        return Report(verdict="accepted", placement=placement, environment={"hardware_fingerprint": "fp"})

    summary = placements_summary([report("a", 1), report("b", 2), report("a", 1)])
    assert summary["executor"] == "ray" and summary["retried"] == 1
    assert [(n["node_id"], n["candidates"], n["gpu"]) for n in summary["nodes"]] == [("a", 2, "H200"), ("b", 1, "H200")]
    assert placements_summary([]) == {"executor": None, "nodes": [], "retried": 0}
