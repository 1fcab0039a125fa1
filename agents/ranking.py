"""Which accepted candidate is best: the one rule every proposer uses.

It is the leaderboard's order (``verifier.report.rank_key``, which the store, its SQL and the pages
use too) applied to one job's candidates in verification order:

* Only verifier-accepted candidates are ranked; a rejected or not-run one is never best.
* A GPU timing (``report.timing``) ranks by measured speedup over eager PyTorch, higher first.
  A measured candidate outranks an unmeasured one (they do not occur together in one job: the
  verifier times every accepted candidate on a GPU and none on a CPU).
* Without timings (CPU, Triton interpreter) there is no speed to compare and none is invented:
  the first accepted candidate stays best. Proposers verify the template compiler's kernel first,
  so on a CPU the template's kernel is kept when it is accepted. Ties in speedup also keep the earlier.
"""

from __future__ import annotations

from collections.abc import Iterable

from agents.types import CandidateResult
from verifier.report import rank_key


def better(challenger: CandidateResult, incumbent: CandidateResult | None) -> bool:
    """Whether ``challenger`` (verified after ``incumbent``) should replace it as best."""
    if not challenger.accepted:
        return False
    if incumbent is None or not incumbent.accepted:
        return True
    return rank_key(challenger.speedup, 1) < rank_key(incumbent.speedup, 0)  # the later one must rank strictly higher


def pick_best(candidates: Iterable[CandidateResult]) -> CandidateResult | None:
    """The best of ``candidates`` (in verification order) under :func:`better`, or None."""
    best: CandidateResult | None = None
    for cand in candidates:
        if better(cand, best):
            best = cand
    return best


def ranked(candidates: Iterable[CandidateResult]) -> list[CandidateResult]:
    """Accepted candidates, best first (speedup descending; unmeasured ones after, earliest first)."""
    accepted = [c for c in candidates if c.accepted]
    order = {id(c): i for i, c in enumerate(accepted)}
    return sorted(accepted, key=lambda c: rank_key(c.speedup, order[id(c)]))
