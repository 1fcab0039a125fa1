"""The parent's memory for a prepared reference, bounded: fewer calls kept when calls are large.

The trusted parent keeps every correctness call's inputs and reference outputs, and the timing
input sets, for the whole verification. At KernelBench's as-written sizes one call can be GiBs
(level 1 ``19_ReLU``: 12.9 GB), so a plan of 6-10 calls plus 3 timing sets would not fit the host.
The reference worker measures each call it sends; once the next call (as large as the largest so
far) would take the total over the budget, it stops computing calls and sends one ``budget`` frame
saying so. The first call is always kept. The parent then verifies on the calls it has (and, with no
timing set left, times on the first call's inputs) and says so in the report.
"""

from __future__ import annotations

from typing import Any

COUNTED = frozenset({"call", "timing_set"})
"""Frames whose values the parent keeps per call; a ``trial`` frame's parameters are counted too,
but do not make a call look larger."""


def value_bytes(value: Any) -> int:
    """Bytes of the tensors in ``value`` (nested lists, tuples and dicts)."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and hasattr(value, "dtype"):
        return nbytes
    if isinstance(value, (list, tuple)):
        return sum(value_bytes(v) for v in value)
    if isinstance(value, dict):
        return sum(value_bytes(v) for v in value.values())
    return 0


class CallBudget:
    """Counts the bytes of the calls and timing sets sent; ``fits()`` says whether one more, as large
    as the largest so far, stays within ``limit_bytes`` (None: no limit)."""

    def __init__(self, limit_bytes: int | None) -> None:
        self.limit = limit_bytes
        self.kept = 0
        self.largest = 0
        self.count = 0
        self.refused = False

    def add(self, nbytes: int, call: bool = True) -> None:
        self.kept += nbytes
        if call:
            self.largest = max(self.largest, nbytes)
            self.count += 1

    def fits(self) -> bool:
        if self.limit is None or self.count == 0:
            return True
        ok = self.kept + self.largest <= self.limit
        self.refused = self.refused or not ok
        return ok

    def describe(self) -> dict[str, Any]:
        return {
            "limit_bytes": self.limit,
            "kept_bytes": self.kept,
            "largest_call_bytes": self.largest,
            "calls_kept": self.count,
        }

    def wrap(self, reporter: Any) -> _Counting:
        """``reporter`` counting what its call and timing-set frames carry."""
        return _Counting(reporter, self)


class _Counting:
    def __init__(self, reporter: Any, budget: CallBudget) -> None:
        self._reporter, self._budget, self._said = reporter, budget, False

    def send(self, kind: str, fields: dict[str, Any] | None = None, values: Any = None) -> None:
        if kind in COUNTED or kind == "trial":
            self._budget.add(value_bytes(values), call=kind in COUNTED)
        if kind == "done" and self._budget.refused and not self._said:
            self._said = True
            self._reporter.send("budget", self._budget.describe())
        self._reporter.send(kind, fields, values)

    def error(self, stage: str, exc: BaseException, **fields: Any) -> None:
        self._reporter.error(stage, exc, **fields)
