"""`kiln db ...` and `kiln store ...` through the real Typer app, and once through the installed `kiln`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kernels_store import open_store
from kernels_store.migrate import head_revision
from service.cli import app
from tests.store.factories import REFERENCE, kernel, report

runner = CliRunner()


def _fill(url: str) -> None:
    store = open_store(url)
    store.put_task("t1", REFERENCE, family="ew")
    cand = store.add_candidate("t1", kernel(1), language="triton", origin="llm", origin_detail="m").candidate
    store.record_verification(cand.id, report(kernel(1), speedup=2.0))
    store.create_job(task_id="t1")
    store.close()


def test_db_upgrade_and_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    current = runner.invoke(app, ["db", "current", "--url", url, "--check"])
    assert current.exit_code == 1 and "none (empty database)" in current.stdout

    first = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert first.exit_code == 0, first.output
    assert f"upgraded {url} from an empty database to revision {head_revision()}" in first.stdout
    second = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert second.exit_code == 0 and "already at revision" in second.stdout

    current = runner.invoke(app, ["db", "current", "--url", url, "--check"])
    assert current.exit_code == 0 and "up to date" in current.stdout


@pytest.mark.postgres
def test_db_upgrade_on_postgres(create_pg_database) -> None:  # type: ignore[no-untyped-def]
    url = create_pg_database()
    result = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert "from an empty database to revision" in result.stdout
    open_store(url).close()  # now at head: opening needs no upgrade


def test_db_upgrade_reports_bad_urls() -> None:
    result = runner.invoke(app, ["db", "upgrade", "--url", "nosuchdb://x"])
    assert result.exit_code == 2 and "kiln db: error: bad database URL" in result.stderr
    result = runner.invoke(app, ["db", "upgrade", "--url", "postgresql+psycopg://nobody@127.0.0.1:1/x"])
    assert result.exit_code == 2 and "could not upgrade" in result.stderr


def test_store_export_import_stats(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'a.sqlite'}", f"sqlite:///{tmp_path / 'b.sqlite'}"
    _fill(source)
    bundle = tmp_path / "bundle.jsonl"
    exported = runner.invoke(app, ["store", "export", str(bundle), "--url", source, "--jobs"])
    assert exported.exit_code == 0, exported.output
    assert "1 tasks, 1 jobs, 1 candidates, 1 verifications" in exported.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left behind

    imported = runner.invoke(app, ["store", "import", str(bundle), "--url", target])
    assert imported.exit_code == 0, imported.output
    assert "tasks: 1 added; jobs: 1 added; candidates: 1 added; verifications: 1 added" in imported.stdout
    again = runner.invoke(app, ["store", "import", str(bundle), "--url", target])
    assert again.exit_code == 0 and "tasks: 1 present; jobs: 1 present" in again.stdout

    stats = runner.invoke(app, ["store", "stats", "--url", target, "--json"])
    counts = json.loads(stats.stdout)
    assert (counts["tasks"], counts["candidates"], counts["verifications"], counts["jobs"]) == (1, 1, 1, 1)
    assert "verifications: 1 (1 accepted)" in runner.invoke(app, ["store", "stats", "--url", target]).stdout


def test_store_import_of_a_bad_bundle_exits_2_and_changes_nothing(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'a.sqlite'}", f"sqlite:///{tmp_path / 'b.sqlite'}"
    _fill(source)
    bundle = tmp_path / "bundle.jsonl"
    runner.invoke(app, ["store", "export", str(bundle), "--url", source])
    lines = bundle.read_text().splitlines(keepends=True)
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("".join(lines[:-1]))

    result = runner.invoke(app, ["store", "import", str(truncated), "--url", target])
    assert result.exit_code == 2
    assert f"line {len(lines)}: truncated bundle" in result.stderr and "nothing was imported" in result.stderr
    assert open_store(target).stats().tasks == 0

    result = runner.invoke(app, ["store", "import", str(tmp_path / "missing.jsonl"), "--url", target])
    assert result.exit_code == 2 and "cannot read" in result.stderr


def test_kiln_db_upgrade_from_another_working_directory(tmp_path: Path) -> None:
    """The installed entry point finds the migrations wherever it runs (relative SQLite URL here)."""
    kiln = Path(sys.executable).with_name("kiln")
    command = [str(kiln)] if kiln.exists() else [sys.executable, "-c", "from service.cli import main; main()"]
    env = {k: v for k, v in os.environ.items() if k != "KILN_DATABASE_URL"}
    done = subprocess.run(
        [*command, "db", "upgrade", "--url", "sqlite:///relative.sqlite"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "upgraded" in done.stdout and (tmp_path / "relative.sqlite").is_file()
