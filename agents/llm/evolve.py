"""The evolutionary step: which prompts a round sends, given everything verified so far.

Population = accepted candidates ranked by ``agents.ranking`` (measured speedup on a GPU; on a CPU
the first accepted). Each round fills its sample slots with, in order:

1. ``refine`` jobs for the previous round's rejected candidates (fix what the verifier found), then
   ``retry`` jobs for its answers the loop refused unverified (told why): every slot while nothing is
   accepted yet, at most half of them afterwards;
2. ``improve`` (mutation) of the elites and ``crossover`` of the best two, alternating;
3. ``initial`` (fresh) samples when there is nothing to build on.

Round 1 is all fresh samples, except that an accepted seed (the template compiler's kernel) gets
half the slots as ``improve`` jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents import ranking
from agents.types import CandidateResult


@dataclass
class Job:
    kind: str
    """initial | refine | improve | crossover | retry"""
    parents: list[CandidateResult] = field(default_factory=list)
    answer: str = ""
    """retry: the answer the loop refused before verifying it."""
    problem: str = ""
    """retry: why it was refused (what the model is told)."""

    @property
    def parent_sha256(self) -> str | None:
        return self.parents[0].sha256 if self.parents else None


@dataclass(frozen=True)
class Unusable:
    """An answer the loop refused before verifying it (no complete module, cut off)."""

    answer: str
    problem: str


def plan_round(
    samples: int,
    history: list[CandidateResult],
    last_round: list[CandidateResult],
    elites: int = 2,
    unusable: list[Unusable] | None = None,
) -> list[Job]:
    ranked = ranking.ranked(history)[:elites]
    rejected = []
    for c in last_round:
        if not c.accepted and c not in rejected:
            rejected.append(c)
    jobs: list[Job] = []
    refine_slots = samples if not ranked else samples // 2
    for c in rejected[:refine_slots]:
        jobs.append(Job("refine", [c]))
    for u in (unusable or [])[: max(0, refine_slots - len(jobs))]:
        jobs.append(Job("retry", answer=u.answer, problem=u.problem))
    i = 0
    while len(jobs) < samples and ranked:
        if len(ranked) >= 2 and i % 2 == 1:
            jobs.append(Job("crossover", [ranked[0], ranked[1]]))
        else:
            jobs.append(Job("improve", [ranked[(i // 2) % len(ranked)]]))
        i += 1
    while len(jobs) < samples:
        jobs.append(Job("initial"))
    return jobs


def first_round(samples: int, seed: CandidateResult | None) -> list[Job]:
    if seed is None or not seed.accepted:
        return [Job("initial") for _ in range(samples)]
    improve = max(1, samples // 2)
    return [Job("improve", [seed]) for _ in range(improve)] + [Job("initial") for _ in range(samples - improve)]
