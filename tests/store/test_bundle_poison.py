"""Poison bundles (issue 24): what another store claims is kept apart, and what no API would accept is refused.

Each case was a finding against the store before provenance: an imported verdict ranked on the
leaderboard, an imported job ran with a budget of 10^9, a deeply nested line ended in a traceback.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kernels_store import BundleError, Store, open_store
from kernels_store.bundle import export_bundle, import_bundle
from kernels_store.bundle_checks import ImportPolicy
from kernels_store.catalog import sha256_text
from tests.store.factories import H100, REFERENCE, report

FAKE = "class ModelNew:\n    pass\n"


def _lines(*records: dict[str, Any]) -> list[str]:
    header = {"format": "kernelkiln-store-bundle", "schema_version": 1}
    body = [json.dumps(r) + "\n" for r in records]
    return [json.dumps(header) + "\n", *body, json.dumps({"type": "end", "records": len(records)}) + "\n"]


def _task(task_id: str = "ew.poison", source: str = REFERENCE, **more: Any) -> dict[str, Any]:
    return {"type": "task", "id": task_id, "source": source, "source_sha256": sha256_text(source), **more}


def _candidate(task_id: str = "ew.poison", source: str = FAKE) -> dict[str, Any]:
    return {
        "type": "candidate",
        "task_id": task_id,
        "source": source,
        "source_sha256": sha256_text(source),
        "language": "triton",
        "origin": "llm",
        "origin_detail": "poison",
    }


def _claim(task_id: str = "ew.poison", source: str = FAKE, speedup: float = 999.0) -> dict[str, Any]:
    claimed = report(source, speedup=speedup)
    return {"type": "verification", "task_id": task_id, "candidate_sha256": sha256_text(source), "report": claimed}


def _job(**fields: Any) -> dict[str, Any]:
    return {"type": "job", "id": "j1", "task_id": "ew.poison", "status": "succeeded", "budget": 4, **fields}


@pytest.fixture
def target(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'target.sqlite'}")


def test_an_imported_999x_claim_counts_for_nothing(store: Store) -> None:
    """The finding: a ``class ModelNew: pass`` claimed accepted at 999x on an H100 topped the leaderboard."""
    summary = import_bundle(store, _lines(_task(), _candidate(), _claim()), ImportPolicy(bundle="poison.jsonl"))
    assert summary.added["verification"] == 1
    assert store.best_kernels() == []
    assert store.generator_results() == [] and store.hardware_seen() == []
    assert [o.accepted for o in store.origin_counts()] == [0]
    candidate = store.find_candidate("ew.poison", sha256_text(FAKE))
    assert store.find_verification(candidate.id, H100) is None  # the verify cache sees nothing
    assert not store.is_verified(candidate.id, H100)
    claim = store.find_verification(candidate.id, H100, provenance=None)
    assert claim is not None and claim.provenance == "imported" and claim.imported_from == "poison.jsonl"
    listed = store.ranked_verifications("ew.poison", "imported").items
    assert [item.verification.speedup_eager for item in listed] == [999.0]
    assert store.ranked_verifications("ew.poison", "accepted").total == 0


def test_a_verdict_verified_here_replaces_the_imported_claim_and_is_never_replaced_by_one(store: Store) -> None:
    import_bundle(store, _lines(_task(), _candidate(), _claim()))
    candidate = store.find_candidate("ew.poison", sha256_text(FAKE))
    mine = store.record_verification(candidate.id, report(FAKE, verdict="rejected"))
    assert mine.replaced and mine.verification.provenance == "verified" and mine.verification.verified_host
    assert mine.verification.verifier_version
    again = import_bundle(store, _lines(_task(), _candidate(), _claim()))
    assert again.present["verification"] == 1
    kept = store.find_verification(candidate.id, H100)
    assert kept is not None and kept.verdict == "rejected" and kept.provenance == "verified"


def test_a_builtin_task_id_with_another_reference_is_refused(store: Store) -> None:
    policy = ImportPolicy(builtin_source=lambda task_id: REFERENCE if task_id == "dwconv2d.convnext_7x7" else None)
    poisoned = _task("dwconv2d.convnext_7x7", source=REFERENCE + "# another reference\n")
    with pytest.raises(BundleError, match=r"line 2: .*built-in task: a bundle cannot change its reference"):
        import_bundle(store, _lines(poisoned), policy)
    assert store.stats().tasks == 0
    # the same source is fine, and the bundle's metadata is not taken for a built-in task
    same = _task("dwconv2d.convnext_7x7", extra={"tolerances": {"float32": {"atol": 1e9}}})
    import_bundle(store, _lines(same), policy)
    assert store.get_task("dwconv2d.convnext_7x7").extra == {}


def _refuse_loose(extra: Any) -> None:
    if extra.get("tolerances"):
        raise ValueError("tolerances: refused by the policy")


def _bundle(*records: dict[str, Any]) -> Callable[[], list[str]]:
    return lambda: _lines(_task(), *records)


POISON: dict[str, tuple[Callable[[], list[str]], int, str]] = {
    # name: (the bundle's lines, the line named, a fragment of the message)
    "job budget 10^9": (_bundle(_job(budget=10**9)), 3, "field 'budget' is 1000000000"),
    "negative job budget": (_bundle(_job(budget=-5)), 3, "field 'budget' is -5"),
    "negative attempts": (_bundle(_job(attempts=-99)), 3, "field 'attempts' is -99"),
    "non-string best_sha256": (_bundle(_job(result={"best_sha256": [1, 2]})), 3, "best_sha256 must be a sha256"),
    "unknown job params": (_bundle(_job(params={"proposer": "rm -rf"})), 3, "params.proposer"),
    "job progress best not an object": (_bundle(_job(progress={"best": 5})), 3, "progress.best"),
    "job kind": (_bundle(_job(kind="shell")), 3, "unknown job kind"),
    "job id charset": (_bundle(_job(id="../x")), 3, "letters, digits"),
    "task id over 200 characters": (lambda: _lines(_task("t" * 201)), 2, "longer than 200"),
    "task id with a terminal escape": (lambda: _lines(_task("ew.\x1b[31m")), 2, "control characters"),
    "task tolerances refused by the policy": (
        lambda: _lines(_task(extra={"tolerances": {"float32": {"atol": 1e9, "rtol": 1, "max_rel_l2": 1}}})),
        2,
        "refused by the policy",
    ),
    "deep nesting": (lambda: [*_lines(_task())[:2], "[" * 100_000 + "]" * 100_000 + "\n"], 3, "nested too deeply"),
    "nesting past the bound": (
        lambda: _lines(_task(extra={"a": json.loads("[" * 40 + "]" * 40)})),
        2,
        "nested deeper than 32",
    ),
    "huge integer": (lambda: [*_lines(_task())[:2], '{"type": "job", "budget": ' + "9" * 5000 + "}\n"], 3, "digits"),
    "integer past 64 bits": (_bundle(_job(attempts=2**70)), 3, "an integer with 22 digits"),
    "speedup overflows a float": (
        _bundle(
            _candidate(), {**_claim(), "report": {**_claim()["report"], "timing": {"speedup_eager": 10**300 * 10**10}}}
        ),
        4,
        "an integer with 311 digits",
    ),
}


@pytest.mark.parametrize("case", list(POISON))
def test_poison_bundles_import_nothing_and_name_the_line(case: str, target: Store) -> None:
    lines, line, fragment = POISON[case]
    target.put_task("pre.existing", REFERENCE)
    with pytest.raises(BundleError) as raised:
        import_bundle(target, lines(), ImportPolicy(check_task_extra=_refuse_loose))
    assert raised.value.line == line, str(raised.value)
    assert fragment in str(raised.value)
    stats = target.stats()
    assert (stats.tasks, stats.candidates, stats.verifications, stats.jobs) == (1, 0, 0, 0)


def test_imported_jobs_arrive_finished_or_cancelled(target: Store) -> None:
    jobs = [
        _job(id="queued", status="queued", attempts=0),
        _job(id="running", status="running", attempts=1, lease_expires_at="2099-01-01T00:00:00+00:00"),
        _job(id="done", status="succeeded", result={"best_sha256": None}),
    ]
    import_bundle(target, _lines(_task(), *jobs))
    states = {j.id: (j.status, j.lease_expires_at, j.finished_at is not None) for j in target.list_jobs(limit=10).items}
    assert states == {
        "queued": ("cancelled", None, True),
        "running": ("cancelled", None, True),
        "done": ("succeeded", None, True),
    }
    assert target.claim_next_job("worker", lease_s=60) is None


def test_export_says_where_each_verdict_came_from(store: Store) -> None:
    import_bundle(store, _lines(_task(), _candidate(), _claim()))
    out = io.StringIO()
    export_bundle(store, out)
    verification = [json.loads(line) for line in out.getvalue().splitlines() if '"verification"' in line]
    assert [v["provenance"] for v in verification] == ["imported"]


def test_a_verdict_verified_here_names_the_host_that_verified_it(store: Store) -> None:
    import socket

    store.put_task("ew.poison", REFERENCE)
    local = store.add_candidate("ew.poison", FAKE, language="triton", origin="user").candidate
    remote = store.add_candidate("ew.poison", FAKE + "# 2\n", language="triton", origin="user").candidate
    here = store.record_verification(local.id, report(FAKE)).verification
    placed = {**report(FAKE + "# 2\n"), "placement": {"executor": "ray", "hostname": "gpu-node-7"}}
    there = store.record_verification(remote.id, placed).verification
    assert (here.provenance, here.verified_host) == ("verified", socket.gethostname())
    assert (there.provenance, there.verified_host) == ("verified", "gpu-node-7")
    assert here.verifier_version and here.imported_from == "" and here.imported_at is None
