"""kernels_store.browse: the read queries behind the pages, on SQLite (and PostgreSQL when reachable)."""

from __future__ import annotations

from kernels_store import Store
from tests.store.factories import A100, CPU, H100, REFERENCE, REFERENCE_V2, kernel, verified


def test_generator_results_keep_the_best_current_accepted_speedup(store: Store) -> None:
    store.put_task("a.task", REFERENCE)
    store.put_task("b.task", REFERENCE)
    verified(store, "a.task", 1, speedup=1.2)
    verified(store, "a.task", 2, speedup=3.0)
    verified(store, "a.task", 3, verdict="rejected", speedup=9.0)  # a rejected claim never counts
    verified(store, "a.task", 4, environment=CPU)
    verified(store, "a.task", 5, origin="template", detail="t1", environment=A100, speedup=1.1)
    verified(store, "b.task", 1, speedup=2.0)
    results = store.generator_results(["a.task"])
    assert [(r.task_id, r.hardware_fingerprint, r.origin, r.origin_detail, r.best_speedup_eager) for r in results] == [
        ("a.task", A100["hardware_fingerprint"], "template", "t1", 1.1),
        ("a.task", CPU["hardware_fingerprint"], "llm", "m", None),
        ("a.task", H100["hardware_fingerprint"], "llm", "m", 3.0),
    ]
    assert results[2].device_name == H100["device_name"]
    only_h100 = store.generator_results(None, hardware_fingerprint=H100["hardware_fingerprint"])
    assert {(r.task_id, r.best_speedup_eager) for r in only_h100} == {("a.task", 3.0), ("b.task", 2.0)}


def test_stale_verifications_are_left_out_everywhere(store: Store) -> None:
    store.put_task("t.task", REFERENCE)
    verified(store, "t.task", 1, speedup=5.0)
    verified(store, "t.task", 2, verdict="rejected")
    store.put_task("t.task", REFERENCE_V2)  # the reference changed: both verdicts are stale
    assert store.generator_results(["t.task"]) == []
    assert store.hardware_seen() == []
    assert store.ranked_verifications("t.task", "accepted").total == 0
    assert store.ranked_verifications("t.task", "not_accepted").total == 0
    assert store.speedup_points("t.task").total == 0


def test_accepted_kernels_rank_like_the_leaderboard_and_page(store: Store) -> None:
    store.put_task("t.task", REFERENCE)
    untimed_early = verified(store, "t.task", 1, environment=CPU)
    slow = verified(store, "t.task", 2, speedup=0.7)
    fast = verified(store, "t.task", 3, speedup=2.5)
    untimed_late = verified(store, "t.task", 4, environment=CPU)
    mid = verified(store, "t.task", 5, environment=A100, speedup=1.5)
    verified(store, "t.task", 6, verdict="rejected")
    first = store.ranked_verifications("t.task", "accepted", limit=3)
    second = store.ranked_verifications("t.task", "accepted", limit=3, offset=3)
    ids = [v.candidate.id for v in first.items + second.items]
    assert ids == [fast, mid, slow, untimed_early, untimed_late]
    assert first.total == second.total == 5 and first.has_more and not second.has_more
    assert all(v.verification.verdict == "accepted" for v in first.items + second.items)
    on_a100 = store.ranked_verifications("t.task", "accepted", hardware_fingerprint=A100["hardware_fingerprint"])
    assert [v.candidate.id for v in on_a100.items] == [mid]


def test_other_verdicts_come_newest_first_with_their_candidates(store: Store) -> None:
    store.put_task("t.task", REFERENCE)
    verified(store, "t.task", 1, speedup=2.0)
    old = verified(store, "t.task", 2, verdict="rejected", reasons=["no_fallback: aten.conv2d"])
    not_run = verified(store, "t.task", 3, verdict="not_run")
    new = verified(store, "t.task", 4, verdict="rejected", reasons=["sandbox: blocked socket"])
    page = store.ranked_verifications("t.task", "not_accepted")
    assert [v.candidate.id for v in page.items] == [new, not_run, old]
    assert page.items[0].verification.report["reasons"] == ["sandbox: blocked socket"]
    assert page.items[0].candidate.source == kernel(4, "t.task")


def test_speedup_points_are_the_latest_timed_ones_oldest_first(store: Store) -> None:
    store.put_task("t.task", REFERENCE)
    ids = [verified(store, "t.task", n, speedup=1.0 + n / 10) for n in range(6)]
    verified(store, "t.task", 10, environment=CPU)  # accepted, not timed: no point
    verified(store, "t.task", 11, verdict="rejected", speedup=5.0)  # rejected: no point
    points = store.speedup_points("t.task", limit=4)
    assert points.total == 6 and [p.candidate_id for p in points.items] == ids[2:]
    assert [p.speedup_eager for p in points.items] == [1.2, 1.3, 1.4, 1.5]
    assert points.items[0].created_at < points.items[-1].created_at


def test_hardware_seen_lists_gpu_timed_hardware_first(store: Store) -> None:
    store.put_task("t.task", REFERENCE)
    store.put_task("u.task", REFERENCE)
    verified(store, "t.task", 1, environment=CPU)
    verified(store, "t.task", 2, speedup=1.5)
    verified(store, "u.task", 1, environment=A100, speedup=1.1)
    verified(store, "u.task", 2, environment=A100, verdict="rejected")
    seen = store.hardware_seen()
    assert [(h.device_name, h.timed, h.device) for h in seen] == [
        (A100["device_name"], 1, "cuda"),
        (H100["device_name"], 1, "cuda"),
        (CPU["device_name"], 0, "cpu"),
    ]
    assert [h.hardware_fingerprint for h in store.hardware_seen(task_id="u.task")] == [A100["hardware_fingerprint"]]


def test_task_headers_leave_the_sources_out(store: Store) -> None:
    store.put_task("b.task", REFERENCE, family="fam", title="B")
    store.put_task("a.task", REFERENCE, family="other", title="A")
    assert [(h.id, h.family, h.title) for h in store.task_headers()] == [
        ("a.task", "other", "A"),
        ("b.task", "fam", "B"),
    ]
