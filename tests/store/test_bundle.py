"""Store bundles: export/import round trip, idempotence, and bad input that changes nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kernels_store import BundleError, Store, open_store
from kernels_store.bundle import export_bundle, import_bundle
from tests.store.factories import CPU, H100, REFERENCE, kernel, report


def _fill(store: Store) -> None:
    store.put_task("ew.double", REFERENCE, family="ew", shapes=[{"name": "small", "params": {"N": 4}}])
    store.put_task("ew.other", REFERENCE + "# other\n", family="ew")
    job = store.create_job(task_id="ew.double", budget=4, owner_token="tok")
    root = store.add_candidate("ew.double", kernel(1), language="triton", origin="template", origin_detail="tpl")
    child = store.add_candidate(
        "ew.double",
        kernel(2),
        language="cuda",
        origin="llm",
        origin_detail="m",
        parent_id=root.candidate.id,
        job_id=job.id,
        extra={"tokens": 123},
    )
    store.record_verification(root.candidate.id, report(kernel(1), speedup=1.5))
    store.record_verification(root.candidate.id, report(kernel(1), environment=CPU))
    store.record_verification(child.candidate.id, report(kernel(2), verdict="rejected"))


def _export(store: Store, **kwargs: object) -> str:
    out = io.StringIO()
    export_bundle(store, out, **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


def _snapshot(store: Store) -> dict[str, object]:
    """Everything a bundle carries, keyed by natural keys (database ids differ between stores)."""
    tasks = {t.id: (t.source_sha256, t.family, t.shapes) for t in store.list_tasks()}
    candidates, verifications = {}, {}
    for task_id in tasks:
        for c in store.list_candidates(task_id, limit=1000).items:
            parent = store.get_candidate(c.parent_id).source_sha256 if c.parent_id else None
            candidates[(task_id, c.source_sha256)] = (c.language, c.origin, c.origin_detail, parent, c.extra)
            for v in store.list_verifications(candidate_id=c.id, limit=1000).items:
                verifications[(c.source_sha256, v.environment_key)] = (v.report, v.created_at)
    return {"tasks": tasks, "candidates": candidates, "verifications": verifications}


@pytest.fixture
def other_store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'other.sqlite'}")


def test_export_import_round_trip_and_idempotence(store: Store, other_store: Store) -> None:
    _fill(store)
    bundle = _export(store)
    lines = bundle.splitlines()
    header, end = json.loads(lines[0]), json.loads(lines[-1])
    assert (header["format"], header["schema_version"]) == ("kernelkiln-store-bundle", 1)
    assert end == {"type": "end", "records": 7}
    assert [json.loads(line)["type"] for line in lines[1:-1]] == ["task"] * 2 + ["candidate"] * 2 + ["verification"] * 3

    first = import_bundle(other_store, io.StringIO(bundle))
    assert dict(first.added) == {"task": 2, "candidate": 2, "verification": 3} and not first.present
    assert _snapshot(other_store) == _snapshot(store)
    # imported verdicts are kept, but count for nothing until verified here
    assert other_store.best_kernel("ew.double", H100["hardware_fingerprint"]) is None
    imported = other_store.best_kernels(task_id="ew.double", imported=True)
    assert [b.speedup_eager for b in imported if b.hardware_fingerprint == H100["hardware_fingerprint"]] == [1.5]
    stored = other_store.list_verifications(limit=10).items
    assert {(v.provenance, v.imported_from) for v in stored} == {("imported", "bundle")}
    assert all(v.imported_at is not None and not v.verified_host for v in stored)

    again = import_bundle(other_store, io.StringIO(bundle))
    assert not again.added and dict(again.present) == {"task": 2, "candidate": 2, "verification": 3}
    counts = [(s.tasks, s.candidates, s.verifications) for s in (store.stats(), other_store.stats())]
    assert counts == [(2, 2, 3), (2, 2, 3)]
    # the same bundle again, header aside and with the verdicts' provenance now "imported"
    assert _export(other_store).splitlines()[1:] == [
        line.replace('"provenance":"verified"', '"provenance":"imported"') for line in lines[1:]
    ]


def test_jobs_travel_only_when_asked_and_without_owner_tokens(store: Store, other_store: Store) -> None:
    _fill(store)
    without = _export(store)
    assert '"type":"job"' not in without
    assert all(json.loads(line).get("job_id") is None for line in without.splitlines()[1:-1])

    with_jobs = _export(store, include_jobs=True)
    job_lines = [json.loads(line) for line in with_jobs.splitlines() if '"type":"job"' in line]
    assert len(job_lines) == 1 and "owner_token_hash" not in job_lines[0]
    import_bundle(other_store, io.StringIO(with_jobs))
    job = other_store.get_job(job_lines[0]["id"])
    assert job is not None and job.budget == 4 and job.owner_token_hash is None
    assert job.status == "cancelled" and "not run here" in (job.error or "")  # queued there: never runnable here
    child = other_store.find_candidate("ew.double", report(kernel(2))["candidate_sha256"])
    assert child.job_id == job.id


def test_a_compile_job_stays_out_of_a_bundle_that_imports_whole(store: Store, other_store: Store) -> None:
    _fill(store)
    store.create_job(kind="compile", params={"model_source": "class Model: ...", "tier": "small"}, budget=4)
    bundle = _export(store, include_jobs=True)
    kinds = [json.loads(line).get("kind") for line in bundle.splitlines() if '"type":"job"' in line]
    assert kinds == ["generate"]
    summary = import_bundle(other_store, io.StringIO(bundle))  # before: "unknown job kind 'compile'", nothing imported
    assert summary.added["job"] == 1 and _snapshot(other_store) == _snapshot(store)


def test_export_of_selected_tasks(store: Store, other_store: Store) -> None:
    _fill(store)
    import_bundle(other_store, io.StringIO(_export(store, task_ids=["ew.other"], include_jobs=True)))
    assert [t.id for t in other_store.list_tasks()] == ["ew.other"]
    assert other_store.stats().candidates == 0


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A valid bundle's lines: header, 2 tasks, 2 candidates (parent, child), 3 verifications, end."""
    source = open_store(f"sqlite:///{tmp_path_factory.mktemp('bundle') / 'source.sqlite'}")
    _fill(source)
    lines = _export(source).splitlines(keepends=True)
    source.close()
    return lines


def _replace(lines: list[str], index: int, **changes: object) -> list[str]:
    record = json.loads(lines[index])
    record.update(changes)
    return [*lines[:index], json.dumps(record) + "\n", *lines[index + 1 :]]


BAD_BUNDLES = {
    # name: (how to break the good bundle's lines, expected line, expected message fragment)
    "empty file": (lambda lines: [], 0, "empty file"),
    "not a bundle": (lambda lines: ['{"hello": 1}\n', *lines[1:]], 1, "not a store bundle"),
    "unknown schema version": (lambda lines: _replace(lines, 0, schema_version=99), 1, "schema version 99"),
    "truncated: no end record": (lambda lines: lines[:-1], 9, "truncated bundle"),
    "truncated mid-line": (lambda lines: [*lines[:4], lines[4][:40]], 5, "malformed JSON"),
    "malformed line": (lambda lines: [*lines[:3], "{not json\n", *lines[3:]], 4, "malformed JSON"),
    "not an object": (lambda lines: [*lines[:3], "[1, 2]\n", *lines[3:]], 4, "expected a JSON object"),
    "unknown record type": (lambda lines: _replace(lines, 2, type="gizmo"), 3, "unknown record type 'gizmo'"),
    "missing field": (lambda lines: _replace(lines, 3, language=None), 4, "missing field 'language'"),
    "wrong type": (lambda lines: _replace(lines, 3, extra=[1]), 4, "field 'extra' must be dict"),
    "source hash mismatch": (lambda lines: _replace(lines, 3, source="tampered"), 4, "source_sha256 does not match"),
    "missing parent task": (lambda lines: [lines[0], *lines[3:]], 2, "task 'ew.double', which is neither"),
    "missing parent candidate": (lambda lines: [*lines[:3], *lines[4:]], 4, "parent candidate"),
    "missing candidate": (lambda lines: [*lines[:4], *lines[5:]], 7, "candidate"),
    "bad report": (lambda lines: _replace(lines, 6, report={"verdict": "great"}), 7, "verdict"),
    "end count mismatch": (lambda lines: _replace(lines, 8, records=3), 9, "end record says 3 records"),
    "data after end": (lambda lines: [*lines, lines[1]], 10, "data after the end record"),
}


@pytest.mark.parametrize("case", list(BAD_BUNDLES))
def test_bad_bundles_name_the_line_and_change_nothing(case: str, good_bundle: list[str], other_store: Store) -> None:
    breaker, line, fragment = BAD_BUNDLES[case]
    target = other_store
    target.put_task("pre.existing", REFERENCE)
    before = _snapshot(target)
    bad = breaker(good_bundle)
    with pytest.raises(BundleError) as raised:
        import_bundle(target, bad)
    assert raised.value.line == line, str(raised.value)
    assert fragment in str(raised.value)
    assert _snapshot(target) == before


def test_bad_bundle_rolls_back_on_each_database(store: Store, good_bundle: list[str]) -> None:
    """The half-imported records before the bad line are rolled back (SQLite and PostgreSQL)."""
    lines = good_bundle
    store.put_task("pre.existing", REFERENCE)
    before = _snapshot(store)
    with pytest.raises(BundleError, match="line 7"):
        import_bundle(store, _replace(lines, 6, report={"verdict": "great"}))
    assert _snapshot(store) == before
    assert store.stats().candidates == 0


def test_a_task_stored_with_another_source_is_a_conflict(store: Store, other_store: Store) -> None:
    _fill(store)
    other_store.put_task("ew.double", "different reference")
    with pytest.raises(BundleError) as raised:
        import_bundle(other_store, io.StringIO(_export(store)))
    assert "line 2: task record: task 'ew.double' is in the store with a different" in str(raised.value)
    assert other_store.stats().tasks == 1
