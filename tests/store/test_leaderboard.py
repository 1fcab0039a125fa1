"""Best kernel per task and hardware, the leaderboard and counts per origin."""

from __future__ import annotations

from kernels_store import Store
from tests.store.factories import A100, CPU, H100, H100_NEWER_TORCH, REFERENCE, REFERENCE_V2, kernel, report, verified


def test_best_kernel_is_the_fastest_accepted_one_per_hardware(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    slow = verified(store, "t1", 1, speedup=1.2)
    fast = verified(store, "t1", 2, speedup=3.4)
    verified(store, "t1", 3, verdict="rejected")  # rejected results never count, whatever they claim
    verified(store, "t1", 4, verdict="not_run")
    a100_only = verified(store, "t1", 5, environment=A100, speedup=1.1)
    # The same hardware with another torch version is the same leaderboard entry.
    newer = verified(store, "t1", 6, environment=H100_NEWER_TORCH, speedup=2.0)

    best = store.best_kernel("t1", H100["hardware_fingerprint"])
    assert best is not None
    assert best.candidate.id == fast and best.measured and best.speedup_eager == 3.4
    assert best.device_name == H100["device_name"]
    assert best.verification.verdict == "accepted" and best.verification.candidate_id == fast
    assert store.best_kernel("t1", A100["hardware_fingerprint"]).candidate.id == a100_only
    assert store.best_kernel("t1", "unknown-hardware") is None
    assert store.best_kernel("missing-task", H100["hardware_fingerprint"]) is None
    assert {slow, newer}.isdisjoint({best.candidate.id})


def test_untimed_accepted_kernels_count_as_not_measured_earliest_first(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    verified(store, "t1", 1, environment=CPU, verdict="rejected")
    earliest = verified(store, "t1", 2, environment=CPU)
    verified(store, "t1", 3, environment=CPU)
    best = store.best_kernel("t1", CPU["hardware_fingerprint"])
    assert best is not None
    assert best.candidate.id == earliest and not best.measured and best.speedup_eager is None


def test_a_timed_result_outranks_untimed_ones_on_the_same_hardware(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    verified(store, "t1", 1)  # accepted, not timed (e.g. the timing step was skipped)
    timed = verified(store, "t1", 2, speedup=0.5)  # slower than eager, but measured
    best = store.best_kernel("t1", H100["hardware_fingerprint"])
    assert best.candidate.id == timed and best.measured


def test_stale_results_drop_out_when_the_reference_changes(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    verified(store, "t1", 1, speedup=5.0)
    store.put_task("t1", REFERENCE_V2)
    assert store.best_kernel("t1", H100["hardware_fingerprint"]) is None
    current = verified(store, "t1", 2, speedup=1.5, reference_source=REFERENCE_V2)
    assert store.best_kernel("t1", H100["hardware_fingerprint"]).candidate.id == current


def test_leaderboard_has_one_entry_per_task_and_hardware(store: Store) -> None:
    for task_id in ("b.task", "a.task", "c.task"):
        store.put_task(task_id, REFERENCE)
    verified(store, "a.task", 1, speedup=1.5)
    verified(store, "a.task", 2, speedup=2.5)
    verified(store, "a.task", 3, environment=CPU)
    verified(store, "b.task", 1, speedup=1.1)
    verified(store, "c.task", 1, verdict="rejected")

    board = store.best_kernels()
    assert [(b.task_id, b.hardware_fingerprint, b.speedup_eager) for b in board] == [
        ("a.task", "cpufingerprint00", None),
        ("a.task", "h100fingerprint0", 2.5),
        ("b.task", "h100fingerprint0", 1.1),
    ]
    h100 = store.best_kernels(hardware_fingerprint=H100["hardware_fingerprint"])
    assert [b.task_id for b in h100] == ["a.task", "b.task"]
    assert [b.hardware_fingerprint for b in store.best_kernels(task_id="a.task")] == [
        "cpufingerprint00",
        "h100fingerprint0",
    ]
    as_json = board[1].to_dict()
    assert as_json["candidate"]["source"] == kernel(2, "a.task")
    assert isinstance(as_json["verification"]["created_at"], str)


def test_origin_counts(store: Store) -> None:
    store.put_task("t1", REFERENCE)
    store.put_task("t2", REFERENCE)

    def add(task_id: str, n: int, origin: str, detail: str, verdict: str | None) -> None:
        cand = store.add_candidate(
            task_id, kernel(n, task_id), language="triton", origin=origin, origin_detail=detail
        ).candidate
        if verdict is not None:
            store.record_verification(cand.id, report(kernel(n, task_id), verdict=verdict))
            # A second environment's acceptance must not count the candidate twice.
            store.record_verification(cand.id, report(kernel(n, task_id), verdict=verdict, environment=A100))

    add("t1", 1, "llm", "model-a", "accepted")
    add("t1", 2, "llm", "model-a", "rejected")
    add("t1", 3, "llm", "model-b", None)
    add("t1", 4, "template", "elementwise", "accepted")
    add("t2", 1, "llm", "model-a", "accepted")
    add("t2", 2, "user", "", "rejected")

    counts = {(c.origin, c.origin_detail): (c.candidates, c.accepted) for c in store.origin_counts()}
    assert counts == {
        ("llm", "model-a"): (3, 2),
        ("llm", "model-b"): (1, 0),
        ("template", "elementwise"): (1, 1),
        ("user", ""): (1, 0),
    }
    t1 = {(c.origin, c.origin_detail): (c.candidates, c.accepted) for c in store.origin_counts(task_id="t1")}
    assert t1[("llm", "model-a")] == (2, 1)

    stats = store.stats()
    assert (stats.tasks, stats.candidates, stats.verifications, stats.accepted_verifications) == (2, 6, 10, 6)


def test_the_sql_order_and_the_python_key_rank_alike(store: Store) -> None:
    """kernels_store.ranking states the order once: the pages' SQL and the Python key must agree."""
    from kernels_store.ranking import rank_key

    store.put_task("t1", REFERENCE)
    for n, speedup in enumerate([None, 1.5, 3.0, None, 1.5, 0.7]):
        verified(store, "t1", n, speedup=speedup)
    page = store.ranked_verifications("t1", "accepted", limit=20)
    by_sql = [v.verification.id for v in page.items]
    by_key = sorted((v.verification for v in page.items), key=lambda v: rank_key(v.speedup_eager, v.created_at, v.id))
    assert by_sql == [v.id for v in by_key]
    speedups = [v.verification.speedup_eager for v in page.items]
    assert speedups == [3.0, 1.5, 1.5, 0.7, None, None]  # timed first, fastest first, then untimed
    best = store.best_kernel("t1", H100["hardware_fingerprint"])
    assert best is not None and best.verification.id == by_sql[0]
