"""benchmarks/gpu_campaign.sh: its Python needs nothing the GPU host lacks, and --dry-run works end to end.

The GPU host has torch and triton but none of the service's dependencies. Every Python process of
the campaign runs here with a ``sitecustomize`` that refuses (and logs) imports of fastapi,
sqlalchemy, pydantic, openai, typer, rich and httpx, although this venv has them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_campaign.sh"
ABSENT_ON_GPU_HOST = ("fastapi", "sqlalchemy", "pydantic", "openai", "typer", "rich", "httpx")

BLOCKER = f"""
import importlib.abc, os, sys

BLOCKED = {ABSENT_ON_GPU_HOST!r}


class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            with open(os.environ["KILN_IMPORT_LOG"], "a") as log:
                log.write(name + " " + " ".join(sys.argv[:2]) + "\\n")
            raise ImportError(f"{{name}} is not installed on the GPU host")
        return None


sys.meta_path.insert(0, _Absent())
"""


def _env(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    log = tmp_path / "blocked-imports.log"
    log.touch()
    return {
        **os.environ,
        "PYTHONPATH": f"{site}:{ROOT}",
        "KILN_IMPORT_LOG": str(log),
        "PYTHON": sys.executable,
    }


def test_the_blocker_blocks(tmp_path: Path) -> None:
    env = _env(tmp_path)
    proc = subprocess.run([sys.executable, "-c", "import rich"], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "not installed on the GPU host" in proc.stderr
    assert Path(env["KILN_IMPORT_LOG"]).read_text().startswith("rich")


def test_campaign_modules_import_without_the_service_dependencies(tmp_path: Path) -> None:
    env = _env(tmp_path)
    code = (
        "import benchmarks.gpu_campaign as c, benchmarks.template_kernels, benchmarks.verifier_corpus as v\n"
        "import agents.generate, agents.template.propose, verifier.hostinfo, tasks\n"
        "assert len(c.campaign_tasks(False)) == len([t for t in tasks.all_tasks() if t.origin == 'builtin'])\n"
        "assert {e.name for e in v.load_entries('cuda')} >= {'honest_dwconv', 'broken_hang', 'cheat_side_stream'}\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Path(env["KILN_IMPORT_LOG"]).read_text() == ""


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_dry_run_writes_both_files(tmp_path: Path) -> None:
    """The whole script on the CPU (a few corpus entries, one task): 1-4 minutes on 2 busy cores."""
    env = _env(tmp_path)
    out = tmp_path / "campaign"
    proc = subprocess.run(
        [str(SCRIPT), "--dry-run", "--quick", "--out", str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert Path(env["KILN_IMPORT_LOG"]).read_text() == "", "the campaign imported a module the GPU host lacks"
    data = json.loads((out / "campaign.json").read_text())
    assert data["campaign"]["mode"].startswith("dry run") and data["campaign"]["host"]["torch"]
    assert {name: s["status"] for name, s in data["parts"].items()} == dict.fromkeys(
        ("env", "gpu-tests", "corpus", "template", "stability"), "done"
    )
    assert data["gpu_tests"]["status"] == "skipped"  # no CUDA here
    corpus = {r["candidate"]: r for r in data["corpus"]["results"]}
    assert corpus["honest_dwconv"]["verdict"] == "accepted"
    assert corpus["cheat_cached_outputs"]["verdict"] == "rejected"
    assert all(r["as_expected"] for r in corpus.values())
    (task,) = data["template"]["tasks"]
    assert task["verdict"] == "accepted" and task["timing"] is None  # nothing is timed on a CPU
    assert [r["verdict"] for r in data["stability"]["runs"]] == ["accepted", "accepted"]
    assert data["stability"]["spread"] is None
    md = (out / "campaign.md").read_text()
    for text in ("# Kernel Kiln GPU campaign", "dry run on the CPU", "| honest_dwconv | accepted | accepted |"):
        assert text in md, text
    assert "| general.softmax | done | accepted |" in md
