"""Imported kernels (issue 24): they count for nothing until this deployment verifies them, which
``kiln regress`` and ``kiln store import --verify`` do; an imported timing is never a speed baseline."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from kernels_store import open_store
from service.cli import app
from tests.regress.conftest import TASK_A, TASK_B

runner = CliRunner()


def _export(url: str, tmp_path: Path) -> Path:
    bundle = tmp_path / "shipped.jsonl"
    assert runner.invoke(app, ["store", "export", str(bundle), "--url", url]).exit_code == 0
    return bundle


def _counted(url: str) -> list[tuple[str, str]]:
    store = open_store(url)
    try:
        return [(b.task_id, b.verification.provenance) for b in store.best_kernels()]
    finally:
        store.close()


def test_imported_kernels_count_once_kiln_regress_verified_them(verified_url: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"
    imported = runner.invoke(app, ["store", "import", str(_export(verified_url, tmp_path)), "--url", target])
    assert imported.exit_code == 0, imported.output
    assert _counted(target) == []  # imported: not on the leaderboard

    result = runner.invoke(app, ["regress", "--database", target, "--trials", "1", "--timeout", "120", "--json"])
    assert result.exit_code == 0, result.output
    assert '"outcome": "holds"' in result.stdout and "imported kernel accepted" in result.stdout
    assert _counted(target) == [(TASK_A, "verified"), (TASK_B, "verified")]


def test_store_import_verify_re_verifies_what_it_imported(verified_url: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'target.sqlite'}"
    bundle = _export(verified_url, tmp_path)
    result = runner.invoke(app, ["store", "import", str(bundle), "--url", target, "--verify", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "re-verifying 2 imported kernel(s)" in result.output and result.output.count(": holds:") == 2
    assert _counted(target) == [(TASK_A, "verified"), (TASK_B, "verified")]
    store = open_store(target)
    try:
        rows = store.list_verifications(limit=10).items
    finally:
        store.close()
    # verified in the environment the bundle claimed (this same host): the claims were replaced
    assert len(rows) == 2 and all(v.provenance == "verified" and v.verified_host and not v.imported_from for v in rows)
