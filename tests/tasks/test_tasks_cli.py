"""`kiln tasks list` and `kiln tasks show` through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import tasks
from service.cli import app

runner = CliRunner()
BUILTIN_IDS = [t.id for t in tasks.all_tasks() if t.origin == "builtin"]


def test_list_table_names_every_task() -> None:
    result = runner.invoke(app, ["tasks", "list"])
    assert result.exit_code == 0, result.output
    for task_id in BUILTIN_IDS:
        assert task_id in result.stdout


def test_list_json_and_family_filter() -> None:
    result = runner.invoke(app, ["tasks", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows][: len(BUILTIN_IDS)] == BUILTIN_IDS
    conv = next(r for r in rows if r["id"] == "dwconv2d.convnext_7x7")
    assert conv["family"] == "dwconv2d" and "bfloat16" in conv["dtypes"]
    assert conv["shapes"]["small"][0] == "tiny" and "stage1" in conv["shapes"]["realistic"]

    result = runner.invoke(app, ["tasks", "list", "--json", "--family", "general"])
    assert [r["id"] for r in json.loads(result.stdout)] == [
        "general.matmul",
        "general.softmax",
        "general.layernorm",
        "general.linear_gelu",
    ]
    result = runner.invoke(app, ["tasks", "list", "--family", "nope"])
    assert result.exit_code == 2 and "unknown family" in result.stderr


def test_show_human_output() -> None:
    result = runner.invoke(app, ["tasks", "show", "dwconv2d.replknet_31x31"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "dwconv2d.replknet_31x31",
        "Shapes",
        "stage1",
        "Tolerances",
        "bfloat16",
        "Allowed aten ops beyond the verifier's allowlist: none",
        "Roofline floor",
        "floor (h100-sxm-measured)",
        "2026-11-13",
        "class Model(nn.Module)",
        "KERNEL_H = 31",
    ):
        assert text in out, text
    no_source = runner.invoke(app, ["tasks", "show", "dwconv2d.replknet_31x31", "--no-source"]).stdout
    assert "class Model" not in no_source


def test_show_json_has_roofline_per_realistic_shape_on_both_profiles() -> None:
    result = runner.invoke(app, ["tasks", "show", "general.matmul", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    task = tasks.get("general.matmul")
    assert data["id"] == "general.matmul" and data["source"] == task.source
    assert data["tolerances"]["bfloat16"] == {"atol": 0.02, "rtol": 0.02, "max_rel_l2": 0.01}
    assert data["allowed_ops"] == []
    assert set(data["roofline"]) == {"h100-sxm", "h100-sxm-measured"}
    rows = data["roofline"]["h100-sxm-measured"]
    assert [r["shape"] for r in rows] == task.shape_names("realistic")
    big = next(r for r in rows if r["shape"] == "square_8192_bf16")
    assert big["floor_ms"] == tasks.roofline(task, "square_8192_bf16", "h100-sxm-measured").floor_ms
    assert data["hardware"]["h100-sxm-measured"]["memory_bandwidth"]["provenance"] == "measured"


def test_show_on_h200_uses_its_datasheet_and_measured_profiles() -> None:
    result = runner.invoke(app, ["tasks", "show", "general.matmul", "--hardware", "h200", "--json", "--no-source"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["roofline"]) == set(data["hardware"]) == {"h200", "h200-measured"}
    task = tasks.get("general.matmul")
    big = next(r for r in data["roofline"]["h200-measured"] if r["shape"] == "square_8192_bf16")
    assert big["floor_ms"] == tasks.roofline(task, "square_8192_bf16", "h200-measured").floor_ms
    assert data["hardware"]["h200"]["memory_bandwidth"]["value"] == 4.8e12
    human = runner.invoke(app, ["tasks", "show", "general.matmul", "--hardware", "h200-measured", "--no-source"])
    assert human.exit_code == 0 and "floor (h200-measured)" in human.stdout and "h100" not in human.stdout
    bad = runner.invoke(app, ["tasks", "show", "general.matmul", "--hardware", "a100"])
    assert bad.exit_code == 2 and "unknown hardware 'a100'" in bad.stderr and "h200" in bad.stderr


def test_show_unknown_id_exits_2_with_suggestions() -> None:
    result = runner.invoke(app, ["tasks", "show", "general.softmx"])
    assert result.exit_code == 2
    assert "unknown task id 'general.softmx'" in result.stderr and "general.softmax" in result.stderr


def test_kernelbench_dir_option(tmp_path: Path) -> None:
    level = tmp_path / "level1"
    level.mkdir()
    (level / "3_Tanh.py").write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n    def forward(self, x):\n"
        "        return torch.tanh(x)\n\n\ndef get_inputs():\n    return [torch.randn(8, 8)]\n\n\n"
        "def get_init_inputs():\n    return []\n",
        encoding="utf-8",
    )
    try:
        result = runner.invoke(
            app, ["tasks", "list", "--json", "--kernelbench-dir", str(tmp_path), "--family", "kernelbench"]
        )
        assert result.exit_code == 0, result.output
        assert [r["id"] for r in json.loads(result.stdout)] == ["kb.level1.3_tanh"]
        shown = runner.invoke(app, ["tasks", "show", "kb.level1.3_tanh", "--kernelbench-dir", str(tmp_path)])
        assert shown.exit_code == 0, shown.output
        assert "no FLOP/byte model" in shown.stdout and "torch.tanh" in shown.stdout
        bad = runner.invoke(app, ["tasks", "list", "--kernelbench-dir", str(tmp_path / "missing")])
        assert bad.exit_code == 2 and "not a directory" in bad.stderr
    finally:
        for t in tasks.all_tasks():
            if t.family == "kernelbench":
                tasks.unregister(t.id)
