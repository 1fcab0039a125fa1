"""The evolutionary step: which prompts a round sends, given everything verified so far.

Population = accepted candidates ranked by ``agents.ranking`` (measured speedup on a GPU; on a CPU
the first accepted). Each round fills its sample slots with, in order:

1. ``refine`` jobs for the previous round's rejected candidates (fix what the verifier found):
   every slot while nothing is accepted yet, at most half of them afterwards;
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
    """initial | refine | improve | crossover"""
    parents: list[CandidateResult] = field(default_factory=list)

    @property
    def parent_sha256(self) -> str | None:
        return self.parents[0].sha256 if self.parents else None


def plan_round(
    samples: int, history: list[CandidateResult], last_round: list[CandidateResult], elites: int = 2
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
