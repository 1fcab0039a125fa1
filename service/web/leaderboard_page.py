"""What the leaderboard page (``/``) shows: fast_p per generator and hardware, and every task's best kernel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import tasks
from kernels_store import BestKernel, Store
from kernels_store.browse import HardwareSeen
from kernels_store.ranking import rank_key
from kernels_store.records import built_from
from service.leaderboard import FAST_P_THRESHOLDS, FastPRow, fast_p_rows, generator_label
from service.web.paging import href
from tasks.roofline_share import RooflineShare, roofline_share


@dataclass(frozen=True)
class BestEntry:
    """A task's best kernel on one hardware, as the table shows it."""

    hardware_fingerprint: str
    device_name: str
    measured: bool
    speedup_eager: float | None
    speedup_compiled: float | None
    compile_error: str | None
    roofline: RooflineShare
    generator: str
    language: str
    candidate_id: int
    verified_at: datetime


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    title: str
    family: str
    builtin: bool
    best: list[BestEntry] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    family: str | None
    hardware: str | None
    families: list[str]
    hardware_options: list[HardwareSeen]
    level: str | None = None
    """KernelBench level (``1``): imported tasks ``<prefix>.level<N>.*`` only."""
    levels: list[str] = field(default_factory=list)
    mode: str = "forward"
    """``forward`` or ``backward`` (training kernels): each mode is ranked apart."""

    def href(self, **changes: str | None) -> str:
        """``/`` with these filters, some changed (None drops one)."""
        mode = None if self.mode == "forward" else self.mode
        params = {"family": self.family, "hardware": self.hardware, "level": self.level, "mode": mode}
        return href("/", {**params, **changes})


@dataclass(frozen=True)
class LeaderboardPage:
    filters: Filters
    unknown_family: bool
    suite_task_ids: list[str]
    """The built-in tasks fast_p is computed over (one family of them when filtered)."""
    fast_p: list[FastPRow]
    tasks: list[TaskRow]
    thresholds: tuple[float, ...] = FAST_P_THRESHOLDS
    stored_suite: bool = False
    """fast_p is over a family of stored (imported) tasks, not the built-in suite."""


def _best_entry(best: BestKernel) -> BestEntry:
    report = best.verification.report
    timing = report.get("timing") or {}
    return built_from(
        BestEntry,
        best,
        compile_error=timing.get("compile_error") if isinstance(timing, dict) else None,
        roofline=roofline_share(tasks.find(best.task_id), report, best.verification.candidate_ms, best.device_name),
        generator=generator_label(best.candidate.origin, best.candidate.origin_detail),
        language=best.candidate.language,
        candidate_id=best.candidate.id,
        verified_at=best.verification.created_at,
    )


def _ranked(rows: list[FastPRow], hardware: list[HardwareSeen]) -> list[FastPRow]:
    """Grouped by hardware (GPU-timed hardware first), best generators first: by fast_1, then 1.5, 2 and 0."""
    timed = {h.hardware_fingerprint for h in hardware if h.timed}

    def key(row: FastPRow) -> tuple:
        counts = [-row.cell(p).count for p in (1.0, 1.5, 2.0, 0.0)]
        return (row.hardware_fingerprint not in timed, row.device_name, row.hardware_fingerprint, counts, row.generator)

    return sorted(rows, key=key)


def _level(task_id: str) -> str | None:
    found = tasks.level_of(task_id)
    return None if found is None else str(found)


def leaderboard_page(
    store: Store, *, family: str | None, hardware: str | None, level: str | None = None, mode: str = "forward"
) -> LeaderboardPage:
    """Everything ``/`` shows, in four queries (stored tasks, hardware, generator results, best kernels).

    fast_p is over the built-in suite (one family of it when filtered); filtered to a family of stored
    tasks only (``kernelbench``, and ``level``), over that family's stored tasks.
    """
    builtin = tasks.all_tasks()
    builtin_ids = {t.id for t in builtin}
    stored = [h for h in store.task_headers() if h.id not in builtin_ids]
    families = list(tasks.families()) + sorted({h.family for h in stored if h.family} - set(tasks.families()))
    unknown_family = family is not None and family not in families
    levels = sorted({lv for h in stored if (lv := _level(h.id))}, key=int)
    if level is not None:
        stored = [h for h in stored if _level(h.id) == level]
    filters = Filters(
        family=family,
        hardware=hardware,
        families=families,
        hardware_options=store.hardware_seen(),
        level=level,
        levels=levels,
        mode=mode,
    )

    suite = [t for t in builtin if (family is None and level is None) or t.family == family]
    suite_ids = [t.id for t in suite]
    stored_suite = family is not None and family not in tasks.families()
    if stored_suite:
        suite_ids = [h.id for h in stored if h.family == family]
    fast_p = fast_p_rows(store.generator_results(suite_ids, hardware_fingerprint=hardware, mode=mode), suite_ids)

    best_by_task: dict[str, list[BestEntry]] = {}
    for best in store.best_kernels(hardware_fingerprint=hardware, mode=mode):
        best_by_task.setdefault(best.task_id, []).append(_best_entry(best))
    for entries in best_by_task.values():  # GPU-timed first, fastest first
        entries.sort(key=lambda e: rank_key(e.speedup_eager, e.device_name))
    rows = [TaskRow(t.id, t.title, t.family, True, best_by_task.get(t.id, [])) for t in suite]
    rows += [
        TaskRow(h.id, h.title, h.family, False, best_by_task.get(h.id, []))
        for h in stored
        if (h.id in best_by_task or stored_suite) and (family is None or h.family == family)
    ]
    return LeaderboardPage(
        filters=filters,
        unknown_family=unknown_family,
        suite_task_ids=suite_ids,
        fast_p=_ranked(fast_p, filters.hardware_options),
        tasks=rows,
        stored_suite=stored_suite,
    )
