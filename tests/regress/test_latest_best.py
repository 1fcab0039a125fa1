"""``Store.latest_best_kernels``: the leaderboard's best kernels plus the previous best of changed tasks.

Runs on SQLite and PostgreSQL (the ``store`` fixture of tests/store). Reports are the store tests'
synthetic ones: this is a query test, nothing is verified.
"""

from __future__ import annotations

from kernels_store import Store
from kernels_store.catalog import sha256_text
from tests.store.factories import A100, CPU, REFERENCE, REFERENCE_V2, kernel, report

REFERENCE_V3 = REFERENCE_V2 + "# and again\n"


def _accepted(store: Store, task_id: str, n: int, reference: str, **kwargs: object) -> int:
    cand = store.add_candidate(task_id, kernel(n, task_id), language="triton", origin="llm", origin_detail="m")
    store.record_verification(
        cand.candidate.id,
        report(kernel(n, task_id), reference_source=reference, **kwargs),  # type: ignore[arg-type]
    )
    return cand.candidate.id


def test_without_changed_tasks_it_is_the_leaderboard(store: Store) -> None:
    store.put_task("ew.a", REFERENCE, family="ew")
    _accepted(store, "ew.a", 1, REFERENCE, speedup=1.5)
    _accepted(store, "ew.a", 2, REFERENCE, speedup=2.5)
    _accepted(store, "ew.a", 3, REFERENCE, environment=CPU)
    assert store.latest_best_kernels() == store.best_kernels()
    assert len(store.best_kernels()) == 2


def test_a_changed_task_keeps_its_previous_best(store: Store) -> None:
    store.put_task("ew.a", REFERENCE, family="ew")
    _accepted(store, "ew.a", 1, REFERENCE, speedup=1.5)
    best = _accepted(store, "ew.a", 2, REFERENCE, speedup=2.5)
    assert store.put_task("ew.a", REFERENCE_V2).source_changed

    assert store.best_kernels() == []
    [stale] = store.latest_best_kernels()
    assert stale.candidate.id == best and stale.speedup_eager == 2.5
    assert stale.verification.reference_sha256 == sha256_text(REFERENCE) != sha256_text(REFERENCE_V2)


def test_the_latest_earlier_reference_wins_over_an_older_faster_kernel(store: Store) -> None:
    store.put_task("ew.a", REFERENCE, family="ew")
    _accepted(store, "ew.a", 1, REFERENCE, speedup=3.0)
    store.put_task("ew.a", REFERENCE_V2)
    v2_best = _accepted(store, "ew.a", 2, REFERENCE_V2, speedup=1.5)
    store.put_task("ew.a", REFERENCE_V3)
    [stale] = store.latest_best_kernels()
    assert stale.candidate.id == v2_best


def test_a_kernel_accepted_against_the_new_source_is_current_again(store: Store) -> None:
    store.put_task("ew.a", REFERENCE, family="ew")
    old = _accepted(store, "ew.a", 1, REFERENCE, speedup=3.0)
    store.put_task("ew.a", REFERENCE_V2)
    store.record_verification(old, report(kernel(1, "ew.a"), reference_source=REFERENCE_V2, speedup=2.9))
    [current] = store.latest_best_kernels()
    assert current.verification.reference_sha256 == sha256_text(REFERENCE_V2)
    assert store.latest_best_kernels() == store.best_kernels()


def test_filters_by_task_family_and_hardware(store: Store) -> None:
    store.put_task("ew.a", REFERENCE, family="ew")
    store.put_task("red.b", REFERENCE, family="reduce")
    _accepted(store, "ew.a", 1, REFERENCE, speedup=2.0)
    _accepted(store, "ew.a", 2, REFERENCE, speedup=2.0, environment=A100)
    _accepted(store, "red.b", 3, REFERENCE, speedup=2.0)
    store.put_task("red.b", REFERENCE_V2)  # red.b's kernel is now stale

    def pairs(**filters: object) -> list[tuple[str, str]]:
        return [(b.task_id, b.hardware_fingerprint) for b in store.latest_best_kernels(**filters)]  # type: ignore[arg-type]

    assert pairs() == [("ew.a", "a100fingerprint0"), ("ew.a", "h100fingerprint0"), ("red.b", "h100fingerprint0")]
    assert pairs(task_ids=["red.b"]) == [("red.b", "h100fingerprint0")]
    assert pairs(families=["ew"]) == [("ew.a", "a100fingerprint0"), ("ew.a", "h100fingerprint0")]
    assert pairs(hardware_fingerprints=["h100fingerprint0"]) == [
        ("ew.a", "h100fingerprint0"),
        ("red.b", "h100fingerprint0"),
    ]
    assert pairs(task_ids=["ew.a"], hardware_fingerprints=["a100fingerprint0", "nope"]) == [
        ("ew.a", "a100fingerprint0")
    ]
    assert pairs(families=["none"]) == [] and pairs(task_ids=["no.such"]) == []


def test_rejected_verifications_are_never_selected(store: Store) -> None:
    store.put_task("ew.a", REFERENCE, family="ew")
    cand = store.add_candidate("ew.a", kernel(1), language="triton", origin="llm").candidate
    store.record_verification(cand.id, report(kernel(1), verdict="rejected"))
    store.put_task("ew.a", REFERENCE_V2)
    assert store.latest_best_kernels() == []
