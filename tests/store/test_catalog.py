"""Tasks, candidates and verifications: upserts, dedupe by content hash, environments, staleness."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kernels_store import Environment, NotFoundError, Store, TaskSourceChangedError
from kernels_store.catalog import sha256_text
from kernels_store.models import Verification
from tests.store.factories import A100, CPU, H100, H100_NEWER_TORCH, REFERENCE, REFERENCE_V2, kernel, report


def test_put_task_creates_then_finds_then_detects_a_changed_source(store: Store) -> None:
    first = store.put_task("ew.double", REFERENCE, family="ew", title="x*2", shapes=[{"name": "small"}])
    assert first.created and not first.source_changed
    assert first.task.source_sha256 == sha256_text(REFERENCE)
    assert first.task.revision == 1

    again = store.put_task("ew.double", REFERENCE)
    assert not again.created and not again.source_changed and again.previous_sha256 is None
    assert again.task.family == "ew" and again.task.shapes == [{"name": "small"}]  # None keeps metadata

    with pytest.raises(TaskSourceChangedError) as raised:
        store.put_task("ew.double", REFERENCE_V2, if_changed="error")
    assert raised.value.stored_sha256 == sha256_text(REFERENCE)
    assert store.get_task("ew.double").source == REFERENCE  # the failed put changed nothing

    changed = store.put_task("ew.double", REFERENCE_V2)
    assert changed.source_changed and changed.previous_sha256 == sha256_text(REFERENCE)
    assert changed.task.source == REFERENCE_V2 and changed.task.revision == 2
    assert store.get_task("ew.double").source_sha256 == sha256_text(REFERENCE_V2)
    assert store.get_task("missing") is None
    assert [t.id for t in store.list_tasks(family="ew")] == ["ew.double"]
    assert store.list_tasks(family="other") == []


def test_add_candidate_dedupes_by_source_per_task(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    store.put_task("t2", REFERENCE)
    first = store.add_candidate("t1", kernel(1), language="triton", origin="llm", origin_detail="model-a")
    assert first.created
    assert first.candidate.source_sha256 == sha256_text(kernel(1))

    dup = store.add_candidate("t1", kernel(1), language="cuda", origin="user")
    assert not dup.created
    assert dup.candidate == first.candidate  # the existing one, unchanged (first writer wins)

    other_task = store.add_candidate("t2", kernel(1), language="triton", origin="template")
    assert other_task.created and other_task.candidate.id != first.candidate.id
    assert store.find_candidate("t1", sha256_text(kernel(1))) == first.candidate
    assert store.get_candidate(first.candidate.id) == first.candidate
    assert store.get_candidate(10_000) is None


def test_add_candidate_checks_its_arguments(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    store.put_task("t2", REFERENCE)
    with pytest.raises(ValueError, match="language"):
        store.add_candidate("t1", kernel(1), language="python", origin="llm")
    with pytest.raises(ValueError, match="origin"):
        store.add_candidate("t1", kernel(1), language="triton", origin="magic")
    with pytest.raises(NotFoundError, match="task"):
        store.add_candidate("nope", kernel(1), language="triton", origin="llm")
    with pytest.raises(NotFoundError, match="parent"):
        store.add_candidate("t1", kernel(1), language="triton", origin="llm", parent_id=999)
    with pytest.raises(NotFoundError, match="job"):
        store.add_candidate("t1", kernel(1), language="triton", origin="llm", job_id="f" * 32)
    foreign = store.add_candidate("t2", kernel(2), language="triton", origin="llm").candidate
    with pytest.raises(ValueError, match="belongs to task"):
        store.add_candidate("t1", kernel(1), language="triton", origin="llm", parent_id=foreign.id)
    assert store.stats().candidates == 1


def test_lineage_and_pagination(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    root = store.add_candidate("t1", kernel(0), language="triton", origin="template", origin_detail="tpl").candidate
    parent = root
    for n in range(1, 7):
        parent = store.add_candidate(
            "t1", kernel(n), language="triton", origin="llm", origin_detail="model-a", parent_id=parent.id
        ).candidate
    assert [c.source for c in store.lineage(parent.id)] == [kernel(n) for n in range(7)]
    with pytest.raises(NotFoundError):
        store.lineage(12345)

    pages = [store.list_candidates("t1", limit=3, offset=off) for off in (0, 3, 6)]
    assert [p.total for p in pages] == [7, 7, 7]
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert [p.has_more for p in pages] == [True, True, False]
    assert [c.source for p in pages for c in p.items] == [kernel(n) for n in range(7)]
    llm = store.list_candidates("t1", origin="llm", limit=100)
    assert llm.total == 6 and all(c.origin == "llm" for c in llm.items)
    assert store.list_candidates("other").total == 0
    with pytest.raises(ValueError):
        store.list_candidates("t1", limit=0)


def test_record_verification_is_new_once_per_environment(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    cand = store.add_candidate("t1", kernel(1), language="triton", origin="llm").candidate
    assert not store.is_verified(cand.id, H100)

    first = store.record_verification(cand.id, report(kernel(1), speedup=2.0))
    assert first.created and not first.replaced
    v = first.verification
    assert (v.verdict, v.speedup_eager, v.speedup_compiled) == ("accepted", 2.0, 1.6)
    assert (v.hardware_fingerprint, v.device_name, v.torch_version, v.triton_version, v.cuda_version) == (
        "h100fingerprint0",
        "NVIDIA H100 80GB HBM3",
        "2.11.0",
        "3.6.0",
        "12.8",
    )
    assert store.is_verified(cand.id, H100)
    assert store.is_verified(cand.id, Environment.from_mapping(H100))
    assert store.is_verified(cand.id, {**H100, "python": "3.12.1"})  # python is not part of the environment
    assert not store.is_verified(cand.id, H100_NEWER_TORCH)
    assert not store.is_verified(cand.id, A100)

    again = store.record_verification(cand.id, report(kernel(1), speedup=9.0))
    assert not again.created and not again.replaced
    assert again.verification == first.verification  # kept the first result

    replaced = store.record_verification(cand.id, report(kernel(1), speedup=3.0), replace=True)
    assert replaced.replaced and replaced.verification.id == v.id and replaced.verification.speedup_eager == 3.0

    other_env = store.record_verification(cand.id, report(kernel(1), environment=H100_NEWER_TORCH, speedup=2.5))
    assert other_env.created
    assert store.list_verifications(candidate_id=cand.id).total == 2
    assert store.find_verification(cand.id, H100_NEWER_TORCH).speedup_eager == 2.5


def test_not_run_is_not_verified_and_is_replaced_by_a_real_verdict(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    cand = store.add_candidate("t1", kernel(1), language="triton", origin="llm").candidate
    store.record_verification(cand.id, report(kernel(1), verdict="not_run", reasons=["sandbox unavailable"]))
    assert store.find_verification(cand.id, CPU) is None
    assert store.find_verification(cand.id, H100).verdict == "not_run"
    assert not store.is_verified(cand.id, H100)

    real = store.record_verification(cand.id, report(kernel(1), verdict="rejected"))
    assert not real.created and real.replaced and real.verification.verdict == "rejected"
    assert store.is_verified(cand.id, H100)
    later_not_run = store.record_verification(cand.id, report(kernel(1), verdict="not_run"))
    assert not later_not_run.replaced and later_not_run.verification.verdict == "rejected"


def test_a_rejection_for_running_out_of_time_is_replaced_and_no_other_is(store: Store) -> None:
    """A timed-out verification says the host was slow, not that the kernel is wrong: a later verdict
    replaces it (before, the later acceptance was dropped and a compile run said accepted while the store
    held the rejection). Any other rejection stays whatever a later run says."""
    store.put_task("t1", REFERENCE)
    slow = store.add_candidate("t1", kernel(1), language="triton", origin="llm").candidate
    timed_out = "process: the kernel runner timed out: no result within 300 s (process killed) after 2 call(s)"
    store.record_verification(slow.id, report(kernel(1), verdict="rejected", reasons=[timed_out]))
    later = store.record_verification(slow.id, report(kernel(1)))
    assert later.replaced and later.verification.verdict == "accepted"
    assert store.find_verification(slow.id, H100).verdict == "accepted"

    wrong = store.add_candidate("t1", kernel(2), language="triton", origin="llm").candidate
    values = "values: max |diff| 0.5 (bounds atol=0.01)"
    for reasons in ([values], [timed_out, values]):
        store.record_verification(wrong.id, report(kernel(2), verdict="rejected", reasons=reasons), replace=True)
        kept = store.record_verification(wrong.id, report(kernel(2)))
        assert not kept.replaced and kept.verification.verdict == "rejected", reasons


def test_record_verification_rejects_mismatched_or_invalid_reports(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    cand = store.add_candidate("t1", kernel(1), language="triton", origin="llm").candidate
    with pytest.raises(ValueError, match="candidate source"):
        store.record_verification(cand.id, report(kernel(2)))
    with pytest.raises(ValueError, match="verdict"):
        store.record_verification(cand.id, {**report(kernel(1)), "verdict": "maybe"})
    with pytest.raises(NotFoundError):
        store.record_verification(cand.id + 100, report(kernel(1)))
    with pytest.raises(TypeError):
        store.record_verification(cand.id, ["not", "a", "report"])  # type: ignore[arg-type]
    assert store.list_verifications().total == 0


def test_verifications_follow_the_tasks_current_reference_source(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    cand = store.add_candidate("t1", kernel(1), language="triton", origin="llm").candidate
    store.record_verification(cand.id, report(kernel(1), speedup=2.0))
    store.put_task("t1", REFERENCE_V2)  # the reference changed: the old result is stale
    assert not store.is_verified(cand.id, H100)
    assert store.is_verified(cand.id, H100, reference_sha256=sha256_text(REFERENCE))

    fresh = store.record_verification(cand.id, report(kernel(1), reference_source=REFERENCE_V2, speedup=1.5))
    assert fresh.created
    assert store.is_verified(cand.id, H100)

    # A report without reference_sha256 is taken to be against the current source.
    store.put_task("t2", REFERENCE)
    cand2 = store.add_candidate("t2", kernel(2), language="cuda", origin="user").candidate
    recorded = store.record_verification(cand2.id, {**report(kernel(2)), "reference_sha256": ""})
    assert recorded.verification.reference_sha256 == sha256_text(REFERENCE)


def test_report_round_trips_through_the_store(store: Store) -> None:
    """The verifier's own Report class comes back equal, field for field (imports torch once)."""
    from verifier.report import Report

    store.put_task("t1", REFERENCE)
    cand = store.add_candidate("t1", kernel(1), language="triton", origin="llm").candidate
    original = Report.from_dict(report(kernel(1), speedup=1.75))
    stored = store.record_verification(cand.id, original).verification
    assert stored.report == original.to_dict()
    reloaded = store.list_verifications(candidate_id=cand.id).items[0]
    assert reloaded.to_report() == original
    assert reloaded.to_report().to_dict() == original.to_dict()


def test_verification_columns_are_indexed_copies_of_the_report(store: Store, db_url: str) -> None:
    store.put_task("t1", REFERENCE)
    cand = store.add_candidate("t1", kernel(1), language="triton", origin="llm").candidate
    store.record_verification(cand.id, report(kernel(1), environment=CPU))
    with store.read() as s:
        row = s.execute(select(Verification)).scalar_one()
        assert (row.device, row.hardware_fingerprint, row.cuda_version, row.speedup_eager) == (
            "cpu",
            "cpufingerprint00",
            None,
            None,
        )
        assert row.created_at.tzinfo is not None
        assert row.report["environment"] == CPU


def test_non_finite_numbers_are_stored_as_null_on_every_database(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    cand = store.add_candidate("t1", kernel(1), language="triton", origin="llm").candidate
    odd = report(kernel(1), speedup=2.0)
    odd["timing"].update(speedup_compiled=float("nan"), wall_ms_per_call=float("inf"))
    stored = store.record_verification(cand.id, odd).verification
    assert stored.speedup_eager == 2.0 and stored.speedup_compiled is None
    reloaded = store.find_verification(cand.id, H100)
    assert reloaded.report["timing"]["wall_ms_per_call"] is None
    assert reloaded.report["timing"]["speedup_compiled"] is None
