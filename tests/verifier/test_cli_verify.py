"""`kiln verify`: the contract in docs/cli.md (exit codes, --json fields, clear errors on bad input)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.verifier.corpus_files import corpus_entry
from verifier.examples import CANDIDATE, REFERENCE

CORPUS = Path(__file__).parent / "corpus"
runner = CliRunner()


def kiln(*args: str):
    return runner.invoke(app, list(args))


def test_bundled_example_is_accepted_with_json_report() -> None:
    result = kiln("verify", "--reference", str(REFERENCE), "--candidate", str(CANDIDATE), "--json", "--trials", "1")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "accepted"
    assert {"verdict", "reasons", "checks", "timing", "device"} <= set(report)
    assert report["timing"] is None  # CPU: never a speedup
    assert all({"name", "passed", "detail"} == set(c) for c in report["checks"])
    assert report["sandbox"]["mechanism"] in ("bwrap", "unshare", "none")


def test_rejection_exits_1_with_reasons(tmp_path: Path) -> None:
    cheat = tmp_path / "cheat_torch_fallback.py"
    cheat.write_text(corpus_entry("cheat_torch_fallback").source())  # its #include lines expanded
    result = kiln(
        "verify",
        "-r",
        str(CORPUS / "reference_dwconv3x3.py"),
        "-c",
        str(cheat),
        "--trials",
        "1",
    )
    assert result.exit_code == 1
    assert "REJECTED" in result.stdout and "no_fallback" in result.stdout


@pytest.mark.parametrize(
    "reference_text, message",
    [
        ("def broken(:\n", "syntax error at line 1"),
        ("import torch\nclass Model(torch.nn.Module):\n    pass\n", "defines no `get_inputs`, `get_init_inputs`"),
        (
            "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return x\n"
            "def get_init_inputs():\n    return []\ndef get_inputs():\n    raise ValueError('no data here')\n",
            "ValueError: no data here",
        ),
        (
            "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n"
            "        return torch.zeros_like(x)\n"
            "def get_init_inputs():\n    return []\ndef get_inputs():\n    return [torch.randn(8)]\n",
            "degenerate",
        ),
    ],
    ids=["syntax", "not-kernelbench", "reference-raises", "degenerate"],
)
def test_unusable_reference_exits_2(tmp_path: Path, reference_text: str, message: str) -> None:
    ref = tmp_path / "ref.py"
    ref.write_text(reference_text)
    result = kiln("verify", "-r", str(ref), "-c", str(CANDIDATE), "--trials", "1")
    assert result.exit_code == 2, result.output
    assert message in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["-r", "/nonexistent/ref.py", "-c", str(CANDIDATE)], "reference file not found"),
        (["-r", str(REFERENCE), "-c", "/nonexistent/cand.py"], "candidate file not found"),
        (["-r", str(REFERENCE), "-c", str(CANDIDATE), "--device", "tpu"], "device must be"),
        (["-r", str(REFERENCE), "-c", str(CANDIDATE), "--sandbox", "chroot"], "sandbox must be"),
        (["-r", str(REFERENCE), "-c", str(CANDIDATE), "--trials", "0"], "trials must be"),
    ],
)
def test_bad_invocation_exits_2(args: list[str], message: str) -> None:
    result = kiln("verify", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_device_cuda_without_a_gpu_is_a_clear_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    result = kiln("verify", "-r", str(REFERENCE), "-c", str(CANDIDATE), "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA GPU" in result.stderr


def test_installed_console_script_runs() -> None:
    kiln_bin = Path(sys.executable).parent / "kiln"
    if not kiln_bin.exists():
        pytest.skip("kiln console script not installed next to this interpreter")
    proc = subprocess.run([str(kiln_bin), "verify", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--reference" in proc.stdout
