"""``kiln tasks import`` on a directory someone else filled (issue 24): a FIFO named ``*.py`` hung the
import, a symlink to ``/dev/zero`` read until ``MemoryError``, a symlink out of the directory was served
as a task's source, and an id over 200 characters was a ``DataError`` after a partial import on
PostgreSQL. Each is now one line of the report, and the good problems are imported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kernels_store import open_store
from service.cli import app
from tasks.problem_files import MAX_PROBLEM_BYTES
from tests.store.conftest import TABLES, clock, create_pg_database, db_url, pg_session_url, sqlite_template

__all__ = ["TABLES", "clock", "create_pg_database", "db_url", "pg_session_url", "sqlite_template"]

PROBLEM = """
import torch

class Model(torch.nn.Module):
    def forward(self, x):
        return x * 2

def get_inputs():
    return [torch.randn(4)]

def get_init_inputs():
    return []
"""


def _hostile(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A level directory with one good problem and one of each hostile entry; name -> expected fragment."""
    level = tmp_path / "KernelBench" / "level1"
    level.mkdir(parents=True)
    (level / "1_Good.py").write_text(PROBLEM)
    os.mkfifo(level / "2_Fifo.py")
    (level / "3_Zero.py").symlink_to("/dev/zero")
    secret = tmp_path / "secret.py"
    secret.write_text(PROBLEM + "# a secret outside the directory\n")
    (level / "4_Outside.py").symlink_to(secret)
    (level / "5_Huge.py").write_text(PROBLEM + "#" * MAX_PROBLEM_BYTES)
    deep = level / ("d" * 120)
    deep.mkdir()
    (deep / ("p" * 120 + ".py")).write_text(PROBLEM)
    (level / "7_Inside_link.py").symlink_to(level / "1_Good.py")
    return level, {
        "2_Fifo.py": "not a regular file (a FIFO)",
        "3_Zero.py": "a link to /dev/zero, outside",
        "4_Outside.py": "outside",
        "5_Huge.py": "more than the 1048576",
        "p" * 120 + ".py": "characters (the most is 200)",
    }


@pytest.mark.timeout(120)
def test_hostile_entries_are_reported_and_the_rest_imported(tmp_path: Path, db_url: str) -> None:
    level, expected = _hostile(tmp_path)
    result = CliRunner().invoke(app, ["tasks", "import", str(level), "--database", db_url])
    assert result.exit_code == 1, result.output  # some files were not problems
    for name, fragment in expected.items():
        [line] = [line for line in result.output.splitlines() if name in line]
        assert fragment in line, line
    store = open_store(db_url)
    try:
        stored = {t.id: t.source for t in store.list_tasks()}
    finally:
        store.close()
    assert set(stored) == {"kb.level1.1_good", "kb.level1.7_inside_link"}
    assert all("secret" not in source for source in stored.values())


def test_a_device_inside_the_directory_is_not_read() -> None:
    """``/dev/zero`` within its own directory: refused on the open descriptor, before a byte is read."""
    from tasks.problem_files import UnsafeProblemFile, read_problem

    with pytest.raises(UnsafeProblemFile, match=r"not a regular file \(a character device\)"):
        read_problem(Path("/dev/zero"), Path("/dev"))
