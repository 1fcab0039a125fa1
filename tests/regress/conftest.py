"""Fixtures for the regression tests: a store holding an honest kernel the real verifier accepted.

The store fixtures of ``tests/store`` (SQLite and PostgreSQL ``db_url``/``store``) are reused as is.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from kernels_store import open_store
from tests.store.conftest import (  # noqa: F401 - fixtures reused by name
    clock,
    create_pg_database,
    db_url,
    pg_session_url,
    sqlite_template,
    store,
)

CORPUS = Path(__file__).parents[1] / "verifier" / "corpus"
REFERENCE_SOURCE = (CORPUS / "reference_dwconv3x3.py").read_text()
KERNEL_SOURCE = (CORPUS / "honest_dwconv.py").read_text()
SMALL = {"batch_size": 1, "channels": 4, "height": 8, "width": 8}
SHAPES = [{"name": "small", "tier": "small", "params": SMALL}]
TASK_A, TASK_B = "dwconv2d.corpus_3x3", "dwconv2d.corpus_3x3_again"
FAMILY = "dwconv2d"


@pytest.fixture(scope="session")
def verified_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store with two tasks (same reference source) and the honest Triton kernel for each,
    with the verifier's real report (CPU, Triton interpreter, small shape): verified once per session."""
    from verifier import Candidate, Reference, VerifyOptions, verify

    path = tmp_path_factory.mktemp("regress-template") / "kiln.sqlite"
    template = open_store(f"sqlite:///{path}")
    reference = Reference(source=REFERENCE_SOURCE, name=TASK_A, shapes={"small": SMALL})
    report = verify(reference, Candidate(source=KERNEL_SOURCE), VerifyOptions(device="cpu", trials=1, timeout_s=120))
    assert report.accepted, report.summary()
    for task_id in (TASK_A, TASK_B):
        template.put_task(task_id, REFERENCE_SOURCE, family=FAMILY, title="3x3 depthwise conv", shapes=SHAPES)
        cand = template.add_candidate(task_id, KERNEL_SOURCE, language="triton", origin="user", origin_detail="corpus")
        # The same reference source and kernel source: this report is the verifier's verdict for both tasks.
        template.record_verification(cand.candidate.id, report)
    template.close()
    with sqlite3.connect(path) as connection:  # fold the WAL into the file before copying it
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def verified_url(verified_template: Path, tmp_path: Path) -> str:
    """A private copy of the verified store."""
    path = tmp_path / "kiln.sqlite"
    shutil.copyfile(verified_template, path)
    return f"sqlite:///{path}"
