"""`kiln compile`, `kiln pack build`, the pack applied, and `kiln regress --pack`, end to end on a small MLP
(templates generate, the verifier decides, in Triton's interpreter), plus the pieces without the verifier."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.compile.compiler import coverage, task_id_for
from service.compile.shapes import ShapeError, parse_shapes
from tests.compile.packs import MODELS, apply_in_fresh_process

runner = CliRunner()


def test_shapes_parse_as_python_literals() -> None:
    assert parse_shapes(["batch_size=2", "input_shape=(2, 3, 8, 8)"]) == {"batch_size": 2, "input_shape": (2, 3, 8, 8)}
    for bad in ("batch_size", "2=3", "n=torch.ones(2)"):
        with pytest.raises(ShapeError):
            parse_shapes([bad])


def test_task_ids_and_coverage() -> None:
    assert task_id_for("conv2d+batch_norm+relu", "ab" * 32) == "compiled.conv2d_batch_norm_relu_abababababab"
    groups = [
        {"key": "a", "verdict": "accepted", "flops": 90, "bytes": 10},
        {"key": "a", "verdict": "accepted", "flops": 90, "bytes": 10},
        {"key": "b", "verdict": "rejected", "flops": 20, "bytes": 30},
    ]
    c = coverage(groups)
    assert (c["groups"], c["distinct"], c["verified"], c["verified_distinct"]) == (3, 2, 2, 1)
    assert c["flops_share"] == 0.9 and c["bytes_share"] == 0.4


def test_a_degenerate_eager_output_is_named() -> None:
    import torch

    from service.compile.model_child import _degenerate

    assert "~zero" in _degenerate(torch.full((4,), 1e-9))
    assert "equal" in _degenerate([torch.ones(3), torch.randn(2)])
    assert _degenerate((torch.randn(5), torch.arange(3))) == ""


@pytest.mark.slow
def test_compile_pack_apply_and_regress(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'kiln.sqlite'}"
    out = tmp_path / "compiled"
    common = ["--database", database]
    result = runner.invoke(
        app,
        ["compile", str(MODELS / "mlp_relu.py"), "--tier", "as_written", "--out", str(out), "--trials", "1",
         "--budget", "1", "--device", "cpu", *common],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    compilation = json.loads((out / "compilation.json").read_text())
    assert [g["summary"] for g in compilation["groups"]] == ["linear", "relu", "linear"]
    assert [g["verdict"] for g in compilation["groups"]] == ["accepted"] * 3, compilation["groups"]
    assert all(g["task_id"].startswith("compiled.") for g in compilation["groups"])
    assert compilation["coverage"]["flops_share"] == 1.0
    assert all(g.get("speedup_eager") is None for g in compilation["groups"])  # never a CPU speedup

    # resuming a finished compilation verifies nothing again
    again = runner.invoke(app, ["compile", str(MODELS / "mlp_relu.py"), "--out", str(out), "--json", *common])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["run_id"] == compilation["run_id"]

    # the same groups compiled again elsewhere (another model sharing them): their kernels are reused
    other = runner.invoke(
        app, ["compile", str(MODELS / "mlp_relu.py"), "--tier", "as_written", "--out", str(tmp_path / "o"), *common]
    )
    assert other.exit_code == 0, other.output
    reused = json.loads((tmp_path / "o" / "compilation.json").read_text())
    assert reused["run_id"] != compilation["run_id"]
    assert all("accepted earlier" in g["reason"] for g in reused["groups"]), reused["groups"]

    pack_dir = tmp_path / "pack"
    built = runner.invoke(app, ["pack", "build", str(out), "--out", str(pack_dir), "--wheel", *common])
    assert built.exit_code == 0, built.output
    manifest = json.loads((pack_dir / "manifest.json").read_text())
    assert len(manifest["kernels"]) == 3
    entry = manifest["kernels"][0]
    for field in ("task_source_sha256", "report_digest", "hardware_fingerprint", "versions", "inputs", "device"):
        assert entry[field], field
    assert manifest["kiln"]["commit"] and manifest["check"]["passed"], manifest["check"]
    assert manifest["check"]["stats"]["kernel_calls"] == 3 * len(manifest["check"]["calls"])
    wheel = next((pack_dir / "dist").glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "kernelkiln/pack/runtime.py" in names and any(n.endswith("pack/manifest.json") for n in names)

    # in a fresh process: the patched model matches eager and the counts say the kernels ran
    applied = apply_in_fresh_process(pack_dir, "mlp_relu")
    assert applied["close"] and (applied["kernel_calls"], applied["fallback_calls"]) == (3, 0), applied

    junit = tmp_path / "regress.xml"
    regressed = runner.invoke(app, ["regress", "--pack", str(pack_dir), "--junit", str(junit), "--trials", "1"])
    assert regressed.exit_code == 0, regressed.output
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert len(cases) == 4 and cases[-1].get("name") == "end_to_end"

    # a kernel changed after packing: the regress names it
    kernel = pack_dir / entry["kernel_file"]
    kernel.write_text(kernel.read_text() + "\n# edited\n")
    broken = runner.invoke(app, ["regress", "--pack", str(pack_dir), "--json", "--trials", "1"])
    assert broken.exit_code == 1, broken.output
    outcomes = {c["name"]: c["outcome"] for c in json.loads(broken.stdout)["cases"]}
    assert outcomes[entry["name"]] == "regressed"
