"""benchmarks/gpu_campaign.sh: its Python needs nothing the GPU host lacks, and --dry-run works end to end,
with a sandbox and, as on the lent GPU machine (root, no bubblewrap), without one.

The GPU host has torch and triton but none of the service's dependencies. Every Python process of
the campaign runs here with a ``sitecustomize`` that refuses (and logs) imports of the service's
dependencies (fastapi, sqlalchemy, pydantic, openai, ray...), although this venv has them all; the
no-sandbox run uses an interpreter (a virtual environment made for the test) that has only the
standard library, torch, triton, numpy, pytest and their own dependencies installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_campaign.sh"
ABSENT_ON_GPU_HOST = (
    "fastapi",
    "sqlalchemy",
    "pydantic",
    "openai",
    "typer",
    "rich",
    "httpx",
    "ray",
    "alembic",
    "uvicorn",
    "starlette",
    "sse_starlette",
    "psycopg",
)
GPU_HOST_DISTRIBUTIONS = (
    *("torch", "triton", "numpy", "pytest", "pluggy", "iniconfig", "packaging", "pygments"),
    # torch's own dependencies
    *("typing_extensions", "sympy", "mpmath", "networkx", "jinja2", "markupsafe", "fsspec", "filelock", "setuptools"),
)
"""What the no-sandbox run's interpreter has installed: the standard library, torch, triton, numpy,
pytest and what they need, nothing else."""

BLOCKER = f"""
import importlib.abc, os, sys

BLOCKED = {ABSENT_ON_GPU_HOST!r}


class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            with open(os.environ["KILN_IMPORT_LOG"], "a") as log:
                log.write(name + " " + " ".join(sys.argv[:2]) + "\\n")
            raise ModuleNotFoundError(f"{{name}} is not installed on the GPU host", name=name)
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
        "chosen = c.campaign_tasks(False)\n"
        "assert chosen[:2] == ['general.matmul', 'general.softmax']\n"
        "families = {t.family for t in tasks.all_tasks() if t.origin == 'builtin'}\n"
        "assert sorted(tasks.get(t).family for t in chosen[1:]) == sorted(families)  # one per family\n"
        "assert {e.name for e in v.load_entries('cuda')} >= {'honest_dwconv', 'broken_hang', 'cheat_side_stream'}\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Path(env["KILN_IMPORT_LOG"]).read_text() == ""


def _no_sandbox_path(tmp_path: Path) -> str:
    """A PATH with every command of this one but bwrap, unshare and docker (symbolic links)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = os.path.join(directory, name)
            link = bin_dir / name
            if name in ("bwrap", "unshare", "docker") or link.exists() or not os.access(target, os.X_OK):
                continue
            link.symlink_to(target)
    return str(bin_dir)


def _minimal_python(tmp_path: Path) -> str:
    """An interpreter with only ``GPU_HOST_DISTRIBUTIONS`` installed: a virtual environment whose
    site-packages links those distributions' files from this one (the sandbox's workers, started with
    ``sys.executable``, get the same)."""
    from importlib import metadata

    venv = tmp_path / "gpu-host-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for name in GPU_HOST_DISTRIBUTIONS:
        dist = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or []}
        for top in tops - {"__pycache__", ".."}:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not top.endswith(".pth") and not (site / top).exists():
                (site / top).symlink_to(source)
    return str(python)


def _dry_run(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    out, copies = tmp_path / "campaign", tmp_path / "device-out"
    proc = subprocess.run(
        [str(SCRIPT), "--dry-run", "--quick", "--out", str(out)],
        env={**env, "OUT": str(copies)},  # the lent GPU machine's folder for files that come back
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    return proc, out, copies


def _common_checks(proc: subprocess.CompletedProcess[str], out: Path, copies: Path, env: dict[str, str]) -> dict:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    blocked = Path(env["KILN_IMPORT_LOG"]).read_text().split()
    assert not set(blocked) & set(ABSENT_ON_GPU_HOST), "the campaign imported a module the GPU host lacks"
    assert "plan (estimates from per-step costs" in proc.stderr  # the plan is printed before the parts run
    assert proc.stdout.index("== sandbox") < proc.stdout.index("== env")
    data = json.loads((out / "campaign.json").read_text())
    assert data["campaign"]["mode"].startswith("dry run") and data["campaign"]["host"]["torch"]
    assert data["campaign"]["git_commit"]
    (task,) = data["template"]["tasks"]
    assert task["verdict"] == "accepted" and task["timing"] is None  # nothing is timed on a CPU
    assert [r["verdict"] for r in data["stability"]["runs"]] == ["accepted", "accepted"]
    assert data["stability"]["spread"] is None
    md = (out / "campaign.md").read_text()
    for text in ("# Kernel Kiln GPU campaign", "dry run on the CPU", "## Plan (printed before the run)"):
        assert text in md, text
    assert "| general.softmax | done | accepted |" in md
    # copied to $OUT with the commit id in the names
    names = sorted(p.name for p in copies.iterdir())
    assert len(names) == 3 and all(n.startswith("campaign-") for n in names), names
    assert json.loads(next(copies.glob("campaign-*.json")).read_text())["summary"] == data["summary"]
    return data


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_dry_run_with_a_sandbox_writes_both_files(tmp_path: Path) -> None:
    """The whole script on the CPU (a few corpus entries, one task): 1-4 minutes on 2 busy cores."""
    env = _env(tmp_path)
    proc, out, copies = _dry_run(tmp_path, env)
    data = _common_checks(proc, out, copies, env)
    assert data["sandbox"]["mechanism"] != "none" and not data["sandbox"]["trusted_code"]
    assert {name: s["status"] for name, s in data["parts"].items()} == {
        **dict.fromkeys(("env", "template", "corpus", "stability"), "done"),
        "gpu-tests": "done",
    }
    assert data["gpu_tests"]["status"] == "skipped"  # no CUDA here
    corpus = {r["candidate"]: r for r in data["corpus"]["results"]}
    assert corpus["honest_dwconv"]["verdict"] == "accepted"
    assert corpus["cheat_cached_outputs"]["verdict"] == "rejected"
    # judged with the static screen on: the dry run was red on a fresh clone without it
    assert corpus["host_format_string_fields"]["failed_checks"] == ["static_screen"]
    assert all(r["as_expected"] for r in corpus.values())
    assert "| honest_dwconv | accepted | accepted |" in (out / "campaign.md").read_text()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_dry_run_without_a_sandbox_verifies_our_kernels_as_trusted_code(tmp_path: Path) -> None:
    """As on the lent GPU machine: no bubblewrap (nor unshare, refused to root anyway, nor docker) on
    the PATH, only the standard library, torch, triton, numpy and pytest importable. The project's own
    kernels are verified with --sandbox none --trusted-code, the results say so, and the adversarial
    corpus is skipped with that reason."""
    python = _minimal_python(tmp_path)
    for absent in ABSENT_ON_GPU_HOST:
        found = subprocess.run([python, "-c", f"import {absent}"], capture_output=True, text=True, cwd=tmp_path)
        assert found.returncode != 0, f"{absent} is importable by the minimal interpreter"
    found = subprocess.run([python, "-c", "import torch, triton, numpy, pytest"], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr[-2000:]
    env = {**_env(tmp_path), "PATH": _no_sandbox_path(tmp_path), "PYTHON": python}
    env["KILN_GPU_CARRY"] = str(tmp_path / "no-carry")  # a fresh clone: nothing prepared to carry
    proc, out, copies = _dry_run(tmp_path, env)
    data = _common_checks(proc, out, copies, env)
    assert data["sandbox"]["mechanism"] == "none" and data["sandbox"]["trusted_code"] is True
    assert "bwrap" in data["sandbox"]["problem"] and "absent" in data["sandbox"]["bwrap_from"]
    assert "part_skipped" in data["corpus"] and data["parts"]["corpus"]["status"] == "skipped"
    assert data["template"]["sandbox"] == "none"
    assert data["summary"]["line"].startswith("sandbox none (trusted code only)")
    assert "corpus skipped (no sandbox)" in data["summary"]["line"]
    md = (out / "campaign.md").read_text()
    assert "--sandbox none --trusted-code" in md and "## Adversarial corpus: skipped" in md


def _fake_bubblewrap_deb(tmp_path: Path) -> Path:
    """A Debian package holding this host's bwrap, as scripts/prepare-gpu-carry would download one."""
    package = tmp_path / "pkg"
    (package / "DEBIAN").mkdir(parents=True)
    (package / "usr" / "bin").mkdir(parents=True)
    shutil.copy2(shutil.which("bwrap") or "", package / "usr" / "bin" / "bwrap")
    (package / "DEBIAN" / "control").write_text(
        "Package: bubblewrap\nVersion: 0.0-test\nArchitecture: amd64\nMaintainer: test <t@example.org>\n"
        "Description: this host's bwrap, for the campaign's carry test\n"
    )
    debs = tmp_path / "carry" / "debs"
    debs.mkdir(parents=True)
    subprocess.run(
        ["dpkg-deb", "--build", str(package), str(debs / "bubblewrap_0.0_amd64.deb")], check=True, capture_output=True
    )
    return debs.parent


@pytest.mark.skipif(not (shutil.which("bwrap") and shutil.which("dpkg-deb")), reason="needs bwrap and dpkg-deb")
@pytest.mark.timeout(600)
def test_a_carried_bubblewrap_is_unpacked_and_used_when_none_is_installed(tmp_path: Path) -> None:
    """The lent GPU machine has no bubblewrap and no registry: the script unpacks the carried package
    (dpkg -x, into the carry folder) and the sandbox probe then finds a working bwrap sandbox."""
    from verifier.sandbox.isolation import bwrap_problem

    if bwrap_problem() is not None:
        pytest.skip(f"bwrap does not work here: {bwrap_problem()}")
    carry = _fake_bubblewrap_deb(tmp_path)
    env = {**_env(tmp_path), "PATH": _no_sandbox_path(tmp_path), "KILN_GPU_CARRY": str(carry)}
    out = tmp_path / "campaign"
    proc = subprocess.run(
        [str(SCRIPT), "--dry-run", "--sandbox-only", "--out", str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "SANDBOX=auto"
    found = json.loads((out / "parts" / "sandbox.json").read_text())
    assert found["mechanism"] == "bwrap" and found["bwrap_from"].startswith("carried")
    assert found["bwrap"] == str(carry / "root" / "usr" / "bin" / "bwrap")
