"""`kiln regress` end to end on CPU: real re-verifications of an honest kernel the verifier accepted.

Each verification runs the real verifier (sandbox, Triton interpreter, small shape, one trial) and
takes a few seconds; the failure cases that must not run anything are checked without verifying.
"""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from kernels_store import make_engine, open_store
from kernels_store.catalog import sha256_text
from service.cli import app
from tests.regress.conftest import FAMILY, KERNEL_SOURCE, REFERENCE_SOURCE, TASK_A, TASK_B
from tests.store.conftest import TABLES

runner = CliRunner()
CPU_NOTE = "speed not checked: CPU run"


def regress(*args: str) -> Result:
    return runner.invoke(app, ["regress", "--trials", "1", "--timeout", "120", *args])


def reason_column(table: str) -> str:
    """The table's last column, its wrapped lines joined (rich wraps cells to the console width)."""
    cells = [line.split("│")[-2].strip() for line in table.splitlines() if line.count("│") >= 3]
    return " ".join(" ".join(cells).split())


def as_json(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout)


def by_task(result: Result) -> dict[str, dict[str, Any]]:
    return {r["task_id"]: r for r in as_json(result)["results"]}


def junit_cases(path: Path) -> dict[str, dict[str, str | None]]:
    """classname -> {outcome, message} from a JUnit file."""
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    cases = {}
    for case in suite.iter("testcase"):
        outcome, message = "holds", None
        for tag, name in (("failure", "regressed"), ("error", "could_not_run"), ("skipped", "skipped")):
            found = case.find(tag)
            if found is not None:
                outcome, message = name, found.get("message")
        cases[case.get("classname", "")] = {"outcome": outcome, "message": message}
    return cases


def change_reference(url: str, task_id: str, source: str) -> str:
    store = open_store(url)
    try:
        put = store.put_task(task_id, source)
        assert put.source_changed
        return put.previous_sha256 or ""
    finally:
        store.close()


# -- the kernels hold ----------------------------------------------------------------------------


def test_an_honest_kernel_holds_and_json_matches_junit(verified_url: str, tmp_path: Path) -> None:
    junit = tmp_path / "regress.xml"
    result = regress("--database", verified_url, "--task", TASK_A, "--json", "--junit", str(junit))
    assert result.exit_code == 0, result.output

    summary = as_json(result)["summary"]
    assert (summary["kernels"], summary["holds"], summary["regressed"], summary["exit_code"]) == (1, 1, 0, 0)
    assert summary["device"] == "cpu" and summary["speed_checked"] is False
    assert any(CPU_NOTE in note for note in summary["notes"])
    [kernel] = as_json(result)["results"]
    assert kernel["outcome"] == "holds" and kernel["reason"] == "still accepted by the verifier"
    assert kernel["rerun"]["verdict"] == "accepted" and kernel["rerun"]["shapes"] == ["small"]
    assert kernel["rerun"]["speedup_eager"] is None and kernel["speed"] is None
    assert any(CPU_NOTE in note for note in kernel["notes"])
    assert kernel["stored_as"] == "kept"  # same environment, same verdict: the recorded result stays
    assert "[1/1] dwconv2d.corpus_3x3" in result.stderr  # progress on the terminal

    cases = junit_cases(junit)
    assert cases == {f"kiln.regress.{TASK_A}": {"outcome": "holds", "message": None}}


# -- regressions ---------------------------------------------------------------------------------


def test_a_tampered_kernel_source_is_a_regression_without_running_it(verified_url: str, tmp_path: Path) -> None:
    engine = make_engine(verified_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE candidates SET source = :src WHERE task_id = :task"),
            {"src": KERNEL_SOURCE.replace("acc += tl.load(b_ptr + c)", "acc += 0.0"), "task": TASK_A},
        )
    engine.dispose()

    junit = tmp_path / "regress.xml"
    result = regress("--database", verified_url, "--task", TASK_A, "--junit", str(junit))
    assert result.exit_code == 1, result.output
    table = result.stdout
    assert "REGRESSED" in table and "no longer matches its recorded sha256" in reason_column(table)
    assert "reference:" not in result.stderr  # nothing ran: the verifier's progress never started
    [case] = junit_cases(junit).values()
    assert case["outcome"] == "regressed"
    assert (case["message"] or "").startswith(
        f"the kernel's source in the store no longer matches its recorded sha256 ({sha256_text(KERNEL_SOURCE)[:12]}"
    )
    assert (case["message"] or "").endswith("it was modified after it was verified; not run")


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (  # a consistent edit of the source and its hash: the recorded report still names the original
            "UPDATE candidates SET source = :src, source_sha256 = :sha WHERE task_id = :task",
            "the recorded verification is of another source",
        ),
        (  # the task's reference edited in place, without put_task
            "UPDATE tasks SET source = :src WHERE id = :task",
            f"task {TASK_A}'s reference source in the store no longer matches its recorded sha256",
        ),
    ],
)
def test_other_edits_of_the_database_are_regressions(verified_url: str, statement: str, message: str) -> None:
    edited = KERNEL_SOURCE + "\n# edited\n"
    engine = make_engine(verified_url)
    with engine.begin() as connection:
        connection.execute(text(statement), {"src": edited, "sha": sha256_text(edited), "task": TASK_A})
    engine.dispose()
    result = regress("--database", verified_url, "--task", TASK_A, "--json")
    assert result.exit_code == 1, result.output
    [kernel] = as_json(result)["results"]
    assert kernel["outcome"] == "regressed" and kernel["reason"].startswith(message)
    assert kernel["reason"].endswith("; not run") and kernel["rerun"] is None


def test_changed_references_are_rechecked_against_the_new_source(verified_url: str, tmp_path: Path) -> None:
    # TASK_A now computes relu(conv(x)): the kernel (plain conv) no longer computes it.
    # TASK_B only gained a comment: the kernel still computes it.
    relu_source = REFERENCE_SOURCE.replace("return self.conv(x)", "return torch.relu(self.conv(x))")
    old_a = change_reference(verified_url, TASK_A, relu_source)
    change_reference(verified_url, TASK_B, REFERENCE_SOURCE + "\n# reviewed\n")

    junit = tmp_path / "regress.xml"
    result = regress("--database", verified_url, "--family", FAMILY, "--json", "--junit", str(junit))
    assert result.exit_code == 1, result.output
    results = by_task(result)

    a = results[TASK_A]
    assert a["outcome"] == "regressed" and a["stale_reference"] is True
    expected = (
        f"task {TASK_A}'s reference changed since this kernel was verified "
        f"(sha {old_a[:10]}… → {sha256_text(relu_source)[:10]}…): the kernel no longer passes: values:"
    )
    assert a["reason"].startswith(expected), a["reason"]
    assert a["rerun"]["verdict"] == "rejected" and a["stored_as"] == "added"

    b = results[TASK_B]
    assert b["outcome"] == "holds" and b["stale_reference"] is True
    assert b["reason"].endswith("): the kernel holds against the new reference")
    assert b["stored_as"] == "added"

    # JSON and JUnit say the same thing.
    cases = junit_cases(junit)
    for task_id, r in results.items():
        case = cases[f"kiln.regress.{task_id}"]
        assert case["outcome"] == r["outcome"]
        assert case["message"] == (r["reason"] if r["outcome"] != "holds" else None)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")

    # Recorded: TASK_B's kernel is now current against the new source; TASK_A's stays selected and red.
    store = open_store(verified_url)
    try:
        assert [b.task_id for b in store.best_kernels()] == [TASK_B]
        [stale] = store.latest_best_kernels(task_ids=[TASK_A])
        assert stale.verification.reference_sha256 == old_a
    finally:
        store.close()


def test_a_reference_that_no_longer_runs_could_not_run(verified_url: str) -> None:
    broken = REFERENCE_SOURCE.replace("def get_inputs():\n", "def get_inputs():\n    raise RuntimeError('oops')\n")
    change_reference(verified_url, TASK_A, broken)
    result = regress("--database", verified_url, "--task", TASK_A, "--json", "--no-record")
    assert result.exit_code == 2, result.output
    [kernel] = as_json(result)["results"]
    assert kernel["outcome"] == "could_not_run" and kernel["stored_as"] == "not recorded"
    assert "reference changed since this kernel was verified" in kernel["reason"]
    assert "): could not verify: the reference failed to run on trial 1" in kernel["reason"]
    assert kernel["reason"].endswith("RuntimeError: oops") and "Traceback" in kernel["detail"]


# -- where the store comes from ------------------------------------------------------------------


def test_a_bundle_is_checked_in_a_temporary_store(verified_url: str, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.jsonl"
    exported = runner.invoke(app, ["store", "export", str(bundle), "--url", verified_url])
    assert exported.exit_code == 0, exported.output
    before = Path(verified_url.removeprefix("sqlite:///")).read_bytes()

    result = regress("--bundle", str(bundle), "--json")
    assert result.exit_code == 0, result.output
    summary = as_json(result)["summary"]
    assert (summary["kernels"], summary["holds"]) == (2, 2)
    assert "kiln-regress-" in summary["database"] and summary["database"] != verified_url
    assert "into a temporary store" in result.stderr
    assert Path(verified_url.removeprefix("sqlite:///")).read_bytes() == before


@pytest.mark.postgres
def test_an_imported_bundle_on_postgres(verified_url: str, pg_session_url: str, tmp_path: Path) -> None:
    engine = make_engine(pg_session_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    engine.dispose()
    bundle = tmp_path / "bundle.jsonl"
    assert runner.invoke(app, ["store", "export", str(bundle), "--url", verified_url]).exit_code == 0
    imported = runner.invoke(app, ["store", "import", str(bundle), "--url", pg_session_url])
    assert imported.exit_code == 0, imported.output

    result = regress("--database", pg_session_url, "--task", TASK_A, "--json")
    assert result.exit_code == 0, result.output
    [kernel] = as_json(result)["results"]
    assert kernel["outcome"] == "holds" and kernel["rerun"]["verdict"] == "accepted"
    assert as_json(result)["summary"]["database"].startswith("postgresql+psycopg://")


# -- could not run (exit 2), nothing verified ------------------------------------------------------


def test_an_unreachable_store_writes_an_errored_junit(tmp_path: Path) -> None:
    junit = tmp_path / "regress.xml"
    result = regress("--database", "postgresql+psycopg://nobody@127.0.0.1:1/x", "--json", "--junit", str(junit))
    assert result.exit_code == 2
    assert "cannot open the store" in result.stderr
    assert as_json(result)["summary"]["exit_code"] == 2 and as_json(result)["results"] == []
    [case] = junit_cases(junit).values()
    assert case["outcome"] == "could_not_run" and "cannot open the store" in (case["message"] or "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--database", "sqlite:///{tmp}/missing.sqlite"], "the SQLite file does not exist"),
        (["--database", "nosuchdb://x"], "cannot open the store"),
        (["--bundle", "{tmp}/missing.jsonl"], "cannot read the bundle"),
        (["--bundle", "{tmp}/bad.jsonl"], "bad bundle"),
        (["--database", "{url}", "--bundle", "{tmp}/bad.jsonl"], "not both"),
        (["--database", "{url}", "--task", "no.such_task"], "matches the selection (task no.such_task)"),
        (["--database", "{url}", "--hardware", "0000000000000000"], "matches the selection (hardware"),
        (["--database", "{url}", "--repeats", "0"], "repeats must be >= 1"),
        (["--database", "{url}", "--device", "tpu"], "device must be auto, cpu or cuda"),
    ],
)
def test_could_not_run(args: list[str], message: str, verified_url: str, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"format": "something else"}\n')
    filled = [a.format(tmp=tmp_path, url=verified_url) for a in args]
    result = regress(*filled)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a host without a GPU")
def test_device_cuda_without_a_gpu_could_not_run(verified_url: str) -> None:
    result = regress("--database", verified_url, "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA GPU is available" in result.stderr


def test_an_empty_store_has_nothing_to_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    open_store(url).close()
    result = regress("--database", url, "--json")
    assert result.exit_code == 0 and as_json(result)["summary"]["kernels"] == 0
    assert "nothing to check" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a host without a GPU")
def test_cuda_kernels_are_skipped_on_a_cpu_host_and_skipping_everything_is_exit_2(verified_url: str) -> None:
    # Mark the stored kernel as CUDA (language only; its source and hashes are untouched).
    path = verified_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE candidates SET language = 'cuda' WHERE task_id = ?", (TASK_A,))
    result = regress("--database", verified_url, "--task", TASK_A, "--json")
    assert result.exit_code == 2, result.output
    [kernel] = as_json(result)["results"]
    assert kernel["outcome"] == "skipped" and "runs only on a GPU runner" in kernel["reason"]
