"""Which accepted kernel ranks first: the leaderboard's order, stated once, as a Python key and as SQL.

1. A GPU-timed verification (``speedup_eager`` set) ranks above an untimed one: a speed that was
   never measured is not compared with one that was.
2. Among timed ones, the higher speedup over eager PyTorch first.
3. Then the earlier one (``created_at``, then ``id``): on a CPU, where nothing is timed, the first
   accepted kernel stays best, and a later kernel must be strictly faster to pass an earlier one.

``rank_key`` and ``rank_order`` take the tie-breakers after the speedup (the store passes creation
time and id; a page ranking one task's kernels across GPUs passes the device name). The generators
rank the candidates of one job by the same rule (``agents/ranking.py``, which may not import the store).
"""

from __future__ import annotations

from typing import Any

from kernels_store.models import Task, Verification

IS_CURRENT = Verification.reference_sha256 == Task.source_sha256
"""A verification against its task's present reference source (the only ones the leaderboard counts);
a query using it joins ``tasks``."""


def rank_key(speedup_eager: float | None, *then: Any) -> tuple[Any, ...]:
    """Sort key (ascending = best first) for a kernel with this speedup, then the tie-breakers ``then``."""
    return (speedup_eager is None, -(speedup_eager or 0.0), *then)


def rank_order(*then: Any) -> tuple[Any, ...]:
    """SQL ``ORDER BY`` terms of ``rank_key`` over ``verifications.speedup_eager``, then ``then``."""
    return (Verification.speedup_eager.is_(None), Verification.speedup_eager.desc(), *then)


def store_order() -> tuple[Any, ...]:
    """The store's full order: ``rank_order`` with ``created_at`` and ``id`` as the tie-breakers."""
    return rank_order(Verification.created_at, Verification.id)
