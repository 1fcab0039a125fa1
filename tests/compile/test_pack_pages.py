"""The pack pages: /packs lists the packs kept in compile runs' summaries, /packs/{run_id} shows one."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from kernels_store import open_store
from service.app import create_app
from service.compile.pack_build import record_pack
from tests.bench.runs import new_run

SOURCE = "import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return x * 2\n"
SOURCE += "def get_inputs():\n    return [torch.randn(8)]\ndef get_init_inputs():\n    return []\n"


def _manifest(passed: bool) -> dict:
    kernel = {
        "name": "relu_0123456789ab",
        "summary": "relu",
        "task_id": "compiled.relu_0123456789ab",
        "occurrences": 2,
        "inputs": [["input", [3, 6], "float32", ""]],
        "device": "cpu",
        "device_name": "Test CPU",
        "verified_at": "2026-12-07T15:00:00",
        "speedup_eager": None,
        "verification_id": 7,
        "report_digest": "d" * 64,
    }
    return {
        "name": "mlp<script>",
        "created_at": "2026-12-07T15:01:00+00:00",
        "model": {"sha256": "a" * 64, "shape_note": "as written"},
        "kiln": {"version": "0.1.0", "commit": "c" * 40},
        "kernels": [kernel],
        "groups": [
            {"key": "0123456789ab" + "0" * 52, "summary": "relu", "verdict": "accepted", "reason": "template ok"},
            {"key": "f" * 64, "summary": "lstm", "verdict": "no_kernel", "reason": "stays in PyTorch: no template"},
        ],
        "coverage": {
            "groups": 3,
            "verified": 2,
            "distinct": 2,
            "verified_distinct": 1,
            "flops_share": 0.5,
            "bytes_share": 0.25,
        },
        "check": {
            "passed": passed,
            "calls": [{"call": 0, "passed": passed, "detail": "max |diff| 0"}],
            "stats": {"kernel_calls": 2, "fallback_calls": 0},
        },
    }


def test_pack_pages(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'kiln.sqlite'}")
    store.put_task("compiled.relu_0123456789ab", SOURCE, family="compiled")
    run = new_run(store, ["compiled.relu_0123456789ab"], suite="compile:mlp", tier="as_written")
    other = new_run(store, ["compiled.relu_0123456789ab"], suite="kb.level1")
    record_pack(store, run.id, _manifest(passed=True))
    with TestClient(create_app(store=store, run_jobs=False)) as client:
        listing = client.get("/packs")
        assert listing.status_code == 200 and f"/packs/{run.id}" in listing.text
        assert f"/packs/{other.id}" not in listing.text
        assert "mlp&lt;script&gt;" in listing.text and "<script>" not in listing.text.split("</head>")[1]
        page = client.get(f"/packs/{run.id}")
        assert page.status_code == 200
        for text in ("/tasks/compiled.relu_0123456789ab", "passed", "no template", "not measured on a GPU", "2/3"):
            assert text in page.text, text
        assert client.get(f"/packs/{other.id}").status_code == 404
        assert client.get("/packs/nope").status_code == 404
    record_pack(store, run.id, _manifest(passed=False))
    with TestClient(create_app(store=store, run_jobs=False)) as client:
        assert "failed" in client.get(f"/packs/{run.id}").text
