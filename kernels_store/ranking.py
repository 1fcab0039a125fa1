"""Which accepted kernel ranks first: the leaderboard's order, stated once, as a Python key and as SQL.

1. A GPU-timed verification (``speedup_eager`` set) ranks above an untimed one: a speed that was
   never measured is not compared with one that was.
2. Among timed ones, the higher speedup over eager PyTorch first.
3. Then the earlier one (``created_at``, then ``id``): on a CPU, where nothing is timed, the first
   accepted kernel stays best, and a later kernel must be strictly faster to pass an earlier one.

``rank_key`` and ``rank_order`` take the tie-breakers after the speedup (the store passes creation
time and id; a page ranking one task's kernels across GPUs passes the device name). The generators
rank the candidates of one job by the same key (``verifier.report.rank_key``, its one definition).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_

from kernels_store.models import Task, Verification
from verifier.report import rank_key

__all__ = ["COUNTS", "IS_CURRENT", "VERIFIED_HERE", "rank_key", "rank_order", "store_order"]

IS_CURRENT = Verification.reference_sha256 == Task.source_sha256
"""A verification against its task's present reference source; a query using it joins ``tasks``."""
VERIFIED_HERE = Verification.provenance == "verified"
"""A verdict this deployment produced, not one imported from a bundle (``kernels_store.provenance``)."""
COUNTS = and_(IS_CURRENT, VERIFIED_HERE)
"""The verifications the leaderboard, fast_p and the pages' figures count: current and verified here."""


def rank_order(*then: Any) -> tuple[Any, ...]:
    """SQL ``ORDER BY`` terms of ``rank_key`` over ``verifications.speedup_eager``, then ``then``."""
    return (Verification.speedup_eager.is_(None), Verification.speedup_eager.desc(), *then)


def store_order() -> tuple[Any, ...]:
    """The store's full order: ``rank_order`` with ``created_at`` and ``id`` as the tie-breakers."""
    return rank_order(Verification.created_at, Verification.id)
