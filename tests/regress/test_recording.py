"""What a re-verification writes to the store: added in a new environment, replaced when the verdict
changed, kept (the baseline) when it did not. Synthetic reports; SQLite and PostgreSQL."""

from __future__ import annotations

from kernels_store import Store
from service.regress.recording import record_rerun
from tests.store.factories import H100, H100_NEWER_TORCH, REFERENCE, kernel, report
from verifier import Report


def _kernel(store: Store) -> int:
    store.put_task("ew.a", REFERENCE, family="ew")
    cand = store.add_candidate("ew.a", kernel(1), language="triton", origin="llm").candidate
    store.record_verification(cand.id, report(kernel(1), speedup=2.0))
    return cand.id


def test_a_new_environment_is_added(store: Store) -> None:
    cand = _kernel(store)
    rerun = Report.from_dict(report(kernel(1), speedup=1.9, environment=H100_NEWER_TORCH))
    assert record_rerun(store, cand, rerun) == "added"
    assert store.list_verifications(candidate_id=cand).total == 2


def test_the_same_verdict_keeps_the_recorded_baseline(store: Store) -> None:
    cand = _kernel(store)
    assert record_rerun(store, cand, Report.from_dict(report(kernel(1), speedup=1.2))) == "kept"
    [only] = store.list_verifications(candidate_id=cand).items
    assert only.speedup_eager == 2.0


def test_a_changed_verdict_replaces_the_recorded_one(store: Store) -> None:
    cand = _kernel(store)
    rejected = Report.from_dict(report(kernel(1), verdict="rejected", reasons=["values: off by 1"]))
    assert record_rerun(store, cand, rejected) == "replaced"
    [only] = store.list_verifications(candidate_id=cand).items
    assert only.verdict == "rejected" and only.report["reasons"] == ["values: off by 1"]
    assert store.best_kernels() == []
    assert record_rerun(store, cand, Report.from_dict(report(kernel(1), speedup=2.0, environment=H100))) == "replaced"
    assert store.best_kernels()[0].candidate.id == cand
