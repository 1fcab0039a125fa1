"""Ranking of accepted candidates and the evolutionary selection, on reports built in the test.

The ``Timing`` objects here are hand-made inputs to the ranking logic, not measurements.
"""

from __future__ import annotations

from agents import CandidateResult, better, pick_best, ranked
from agents.llm import evolve
from verifier import Report, Timing


def _timing(speedup: float) -> Timing:
    return Timing(
        device_name="test GPU",
        candidate_ms=1.0 / speedup,
        eager_ms=1.0,
        compiled_ms=None,
        speedup_eager=speedup,
        speedup_compiled=None,
        runs=100,
        warmup_runs=10,
        method="cuda-events",
    )


def _cand(name: str, verdict: str = "accepted", speedup: float | None = None) -> CandidateResult:
    report = Report(verdict=verdict, timing=_timing(speedup) if speedup is not None else None)  # type: ignore[arg-type]
    return CandidateResult(source=f"# {name}\n", language="triton", origin="llm:m", report=report, name=name)


def test_rejected_candidates_are_never_best() -> None:
    assert pick_best([_cand("a", "rejected"), _cand("b", "not_run")]) is None
    assert not better(_cand("fast-but-wrong", "rejected", speedup=50.0), _cand("ok", speedup=1.1))
    assert ranked([_cand("a", "rejected", 3.0)]) == []


def test_gpu_candidates_rank_by_measured_speedup() -> None:
    slow, fast, mid = _cand("slow", speedup=1.2), _cand("fast", speedup=3.5), _cand("mid", speedup=2.0)
    assert pick_best([slow, fast, mid]) is fast
    assert [c.name for c in ranked([slow, fast, mid])] == ["fast", "mid", "slow"]
    assert better(fast, slow) and not better(slow, fast)


def test_ties_and_unmeasured_keep_the_earlier() -> None:
    first, second = _cand("first", speedup=2.0), _cand("second", speedup=2.0)
    assert pick_best([first, second]) is first
    # CPU: no timing anywhere, the first accepted stays best.
    a, b = _cand("a"), _cand("b")
    assert pick_best([_cand("x", "rejected"), a, b]) is a
    # A measured candidate outranks an unmeasured one.
    measured = _cand("m", speedup=0.5)
    assert better(measured, a) and not better(a, measured)
    assert [c.name for c in ranked([a, measured, b])] == ["m", "a", "b"]


def test_evolution_refines_rejected_then_mutates_and_crosses_the_best() -> None:
    r1, r2 = _cand("r1", "rejected"), _cand("r2", "rejected")
    jobs = evolve.plan_round(4, [r1, r2], [r1, r2])
    assert [j.kind for j in jobs] == ["refine", "refine", "initial", "initial"]
    assert jobs[0].parents == [r1]

    slow, fast = _cand("slow", speedup=1.1), _cand("fast", speedup=2.5)
    jobs = evolve.plan_round(4, [r1, slow, fast], [r1, slow, fast])
    assert [j.kind for j in jobs] == ["refine", "improve", "crossover", "improve"]
    assert jobs[1].parents == [fast]  # the elite first
    assert jobs[2].parents == [fast, slow]
    assert jobs[3].parents == [slow]
    assert jobs[2].parent_sha256 == fast.sha256


def test_first_round_builds_on_an_accepted_seed() -> None:
    seed = _cand("template")
    kinds = [j.kind for j in evolve.first_round(4, seed)]
    assert kinds == ["improve", "improve", "initial", "initial"]
    assert [j.kind for j in evolve.first_round(3, _cand("bad", "rejected"))] == ["initial"] * 3
