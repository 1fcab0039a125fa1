"""Which shape configurations a kernel is re-verified on: a pure rule over the task's shapes and the report.

The stored task declares shapes as ``[{"name", "params", "tier"}, ...]``; the recorded report names the
configurations it ran (``report.shapes``; ``["as written"]`` when it ran the module's own constants).

1. The report ran "as written" (or names nothing): re-verify as written.
2. On a GPU: re-verify the recorded shapes the task still declares, with the task's current params.
   None of them declared any more: the task's realistic shapes, else its small ones.
3. On the CPU (Triton interpreter): the recorded shapes of the ``small`` tier. None recorded: all of the
   task's small shapes (a kernel verified on a GPU on realistic shapes is checked on small ones).
   The task has no small shape: the kernel is skipped on this host (realistic shapes are GPU work).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

AS_WRITTEN = "as written"


@dataclass(frozen=True)
class DeclaredShape:
    name: str
    tier: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ShapePlan:
    shapes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Name -> constant overrides, as ``verifier.Reference.shapes`` takes them; empty: as written."""
    note: str = ""
    """Why the plan differs from the recorded shapes, when it does."""
    skip_reason: str = ""
    """Non-empty: no shape can be checked on this device."""

    @property
    def names(self) -> list[str]:
        return sorted(self.shapes) or [AS_WRITTEN]


def declared_shapes(raw: Any) -> list[DeclaredShape]:
    """The task's stored ``shapes`` list as ``DeclaredShape`` values (malformed entries are ignored)."""
    if not isinstance(raw, list):
        return []
    found = []
    for item in raw:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str) and isinstance(item.get("params"), Mapping):
            found.append(DeclaredShape(item["name"], str(item.get("tier") or "small"), dict(item["params"])))
    return found


def plan_shapes(declared: Sequence[DeclaredShape], recorded: Sequence[str], device: str) -> ShapePlan:
    """The rule in this module's docstring, for ``device`` ``"cpu"`` or ``"cuda"``."""
    if not recorded or list(recorded) == [AS_WRITTEN]:
        return ShapePlan()
    by_name = {s.name: s for s in declared}
    kept = [by_name[n] for n in recorded if n in by_name]
    gone = [n for n in recorded if n not in by_name]
    gone_note = f"recorded shape(s) {', '.join(gone)} no longer declared by the task" if gone else ""
    if device == "cuda":
        chosen = kept or _tier(declared, "realistic") or _tier(declared, "small")
        if not chosen:
            return ShapePlan(note=_join(gone_note, "the task declares no shapes: checked as written"))
        note = gone_note if kept else _join(gone_note, f"checked on the task's shapes {_names(chosen)} instead")
        return ShapePlan(_as_mapping(chosen), note)
    small_kept = [s for s in kept if s.tier == "small"]
    if small_kept:
        dropped = [s.name for s in kept if s.tier != "small"]
        note = f"not-small shape(s) {', '.join(dropped)} are GPU work, not checked on the CPU" if dropped else ""
        return ShapePlan(_as_mapping(small_kept), _join(gone_note, note))
    small = _tier(declared, "small")
    if not small:
        return ShapePlan(
            skip_reason=f"the task has no small-tier shape to check on the CPU interpreter "
            f"(recorded: {', '.join(recorded)}); check it on a GPU runner"
        )
    note = f"recorded on {', '.join(recorded)}; on the CPU checked on the task's small shapes {_names(small)}"
    return ShapePlan(_as_mapping(small), _join(gone_note, note))


def _tier(declared: Sequence[DeclaredShape], tier: str) -> list[DeclaredShape]:
    return [s for s in declared if s.tier == tier]


def _as_mapping(shapes: Sequence[DeclaredShape]) -> dict[str, dict[str, Any]]:
    return {s.name: dict(s.params) for s in shapes}


def _names(shapes: Sequence[DeclaredShape]) -> str:
    return ", ".join(s.name for s in shapes)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
