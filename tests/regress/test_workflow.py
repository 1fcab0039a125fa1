"""The example CI workflow: a GPU job on the live store and a CPU job on an imported bundle."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).parents[2] / ".github" / "workflows" / "kernel-regress.yml"


def test_the_workflow_runs_regress_on_a_gpu_and_a_cpu_runner() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert jobs["gpu"]["runs-on"] == ["self-hosted", "gpu"] and jobs["cpu"]["runs-on"] == "ubuntu-latest"
    for name, device, junit in (("gpu", "cuda", "regress-gpu.xml"), ("cpu", "cpu", "regress-cpu.xml")):
        commands = "\n".join(step.get("run", "") for step in jobs[name]["steps"])
        assert "make setup" in commands
        assert f".venv/bin/kiln regress --device {device}" in commands and f"--junit {junit}" in commands
        published = [s for s in jobs[name]["steps"] if "junit-report" in s.get("uses", "")]
        assert published and published[0]["with"]["report_paths"] == junit
    cpu_commands = "\n".join(step.get("run", "") for step in jobs["cpu"]["steps"])
    assert ".venv/bin/kiln store import kernel-store.jsonl" in cpu_commands
