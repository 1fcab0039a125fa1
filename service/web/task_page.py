"""What a task page (``/tasks/{id}``) shows: the reference, accepted kernels ranked, rejected candidates
with their reasons, and the speedup plot; each list one page at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import tasks
from kernels_store import OriginCount, Store
from kernels_store.browse import HardwareSeen, Verdicts, VerifiedCandidate
from kernels_store.records import Page
from service.leaderboard import generator_label
from service.task_lookup import find_task
from service.web import sources
from service.web.paging import ACCEPTED_PAGE_SIZE, REJECTED_PAGE_SIZE, Pager, fetch_page, href, page_of, pager
from service.web.plot import SpeedupPlot, speedup_plot
from service.web.sources import Budget, Fold, SourceView
from tasks.roofline_share import RooflineShare, floors_profile, roofline_share

PLOT_POINTS = 500
IMPORTED_SHOWN = 20
"""Imported verdicts shown on a task page (the count says how many there are)."""
"""The plot shows at most the latest this many GPU-timed kernels."""
REPORT_DEFAULTS: Mapping[str, Any] = {
    "verdict": "",
    "reasons": [],
    "checks": [],
    "timing": None,
    "device": "",
    "language": "",
    "sandbox": {},
    "seeds": [],
    "shapes": [],
    "environment": {},
    "duration_s": 0.0,
    "static_profile": {},
}
TIMING_DEFAULTS: Mapping[str, Any] = {
    "device_name": "",
    "candidate_ms": None,
    "eager_ms": None,
    "compiled_ms": None,
    "speedup_eager": None,
    "speedup_compiled": None,
    "runs": 0,
    "warmup_runs": 0,
    "method": "",
    "shape": "",
    "compile_error": None,
    "wall_ms_per_call": None,
}
CHECK_DEFAULTS: Mapping[str, Any] = {"name": "", "passed": False, "detail": ""}


def complete_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """A stored report with every field the page reads (older or partial reports lack some)."""
    full = {**REPORT_DEFAULTS, **{k: v for k, v in report.items() if v is not None}}
    full["checks"] = [{**CHECK_DEFAULTS, **c} for c in full["checks"] if isinstance(c, Mapping)]
    timing = report.get("timing")
    full["timing"] = {**TIMING_DEFAULTS, **timing} if isinstance(timing, Mapping) and timing else None
    return full


@dataclass(frozen=True)
class ShapeFloor:
    """A realistic shape of the task and its roofline floor on the reference GPU profile."""

    name: str
    dtype: str | None
    params: str
    note: str
    floor_ms: float | None
    bound: str


@dataclass(frozen=True)
class KernelEntry:
    """One verified candidate as the page lists it."""

    rank: int
    item: VerifiedCandidate
    generator: str
    report: Mapping[str, Any]
    timing: Mapping[str, Any] | None
    failed_checks: list[Mapping[str, Any]]
    roofline: RooflineShare | None
    source: SourceView


@dataclass(frozen=True)
class GeneratorCount:
    generator: str
    candidates: int
    accepted: int


@dataclass(frozen=True)
class TaskHeading:
    id: str
    title: str
    family: str
    description: str
    builtin: bool
    source: SourceView
    shapes: list[ShapeFloor]


@dataclass(frozen=True)
class TaskPage:
    task: TaskHeading
    hardware: str | None
    hardware_options: list[HardwareSeen]
    origins: list[GeneratorCount]
    accepted: list[KernelEntry]
    accepted_pager: Pager
    rejected: list[KernelEntry]
    rejected_pager: Pager
    plot: SpeedupPlot | None
    timed_total: int
    untimed_accepted: int
    roofline_profile: str = tasks.DEFAULT_HARDWARE
    imported: list[KernelEntry] = field(default_factory=list)
    """The first verdicts imported from bundles (``IMPORTED_SHOWN``): shown apart, counted nowhere."""
    imported_total: int = 0
    mode: str = "forward"
    """The verdicts shown: ``forward``, or ``backward`` (training kernels), each ranked apart."""

    def href(self, **changes: str | None) -> str:
        """This page with these query parameters changed (None drops one); lists start on page 1."""
        mode = None if self.mode == "forward" else self.mode
        return href(f"/tasks/{quote(self.task.id, safe='')}", {"hardware": self.hardware, "mode": mode, **changes})


def _heading(task_id: str, store: Store, profile: str) -> tuple[TaskHeading, tasks.Task | None] | None:
    try:
        found = find_task(store, task_id)
    except tasks.UnknownTaskError:
        return None
    task = found.builtin
    if task is None:
        heading = TaskHeading(found.id, found.title, found.family, "", False, _reference(found.id, found.source), [])
        return heading, None
    shapes = []
    for shape in task.shapes_in("realistic"):
        try:
            figures = tasks.roofline(task, shape, profile)
            floor_ms, bound = figures.floor_ms, figures.bound
        except tasks.RooflineUnavailableError:
            floor_ms, bound = None, "no cost model"
        params = ", ".join(f"{k}={v}" for k, v in shape.params.items() if k != task.dtype_param)
        shapes.append(ShapeFloor(shape.name, task.dtype(shape), params, shape.note, floor_ms, bound))
    heading = TaskHeading(
        task.id, task.title, task.family, task.description, True, _reference(task.id, task.source), shapes
    )
    return heading, task


def _reference(task_id: str, source: str) -> SourceView:
    raw = f"/v1/tasks/{quote(task_id, safe='')}/source"
    return Budget(sources.REFERENCE.page_html_budget).view(source, len(source), sources.REFERENCE, raw)


def _entries(page: Page[VerifiedCandidate], task: tasks.Task | None, *, ranked: bool, fold: Fold) -> list[KernelEntry]:
    entries = []
    budget = Budget(fold.page_html_budget)
    for index, item in enumerate(page.items):
        ver, cand = item.verification, item.candidate
        report = complete_report(ver.report)
        entries.append(
            KernelEntry(
                rank=page.offset + index + 1,
                item=item,
                generator=generator_label(cand.origin, cand.origin_detail),
                report=report,
                timing=report["timing"],
                failed_checks=[c for c in report["checks"] if not c["passed"]],
                roofline=roofline_share(task, report, ver.candidate_ms, ver.device_name) if ranked else None,
                source=budget.view(
                    cand.source,
                    item.source_length if item.source_length is not None else len(cand.source),
                    fold,
                    f"/v1/candidates/{cand.id}/source",
                ),
            )
        )
    return entries


def _by_generator(counts: list[OriginCount]) -> list[GeneratorCount]:
    merged: dict[str, list[int]] = {}
    for count in counts:
        totals = merged.setdefault(generator_label(count.origin, count.origin_detail), [0, 0])
        totals[0] += count.candidates
        totals[1] += count.accepted
    return [GeneratorCount(g, n, a) for g, (n, a) in sorted(merged.items(), key=lambda kv: -kv[1][0])]


def _listing(
    store: Store,
    task_id: str,
    verdicts: Verdicts,
    hardware: str | None,
    page: int,
    size: int,
    fold: Fold,
    mode: str = "forward",
) -> Page[VerifiedCandidate]:
    """One page of a list (only the beginning of each source); a page past the end is answered with the
    last page (one more query)."""

    def fetch(limit: int, offset: int) -> Page[VerifiedCandidate]:
        return store.ranked_verifications(
            task_id,
            verdicts,
            hardware_fingerprint=hardware,
            limit=limit,
            offset=offset,
            source_chars=fold.max_chars,
            mode=mode,
        )

    return fetch_page(fetch, lambda found: found.total, page, size)


def task_page(
    store: Store, task_id: str, *, hardware: str | None, page: int, rejected_page: int, mode: str = "forward"
) -> TaskPage | None:
    """Everything ``/tasks/{id}`` shows, or None when no such task exists.

    The shapes' floors are on the selected hardware's roofline profile when it has one (an H200's
    page shows H200 floors), else on ``tasks.DEFAULT_HARDWARE`` (``tasks.roofline_share.floors_profile``)."""
    hardware_options = store.hardware_seen(task_id=task_id)
    selected = next((h for h in hardware_options if h.hardware_fingerprint == hardware), None)
    profile = floors_profile(selected.device_name if selected else None)
    found = _heading(task_id, store, profile)
    if found is None:
        return None
    heading, task = found
    accepted = _listing(store, task_id, "accepted", hardware, page, ACCEPTED_PAGE_SIZE, sources.ACCEPTED, mode)
    rejected = _listing(
        store, task_id, "not_accepted", hardware, rejected_page, REJECTED_PAGE_SIZE, sources.REJECTED, mode
    )
    shown = {"limit": IMPORTED_SHOWN, "source_chars": sources.REJECTED.max_chars, "mode": mode}
    imported = store.ranked_verifications(task_id, "imported", hardware_fingerprint=hardware, **shown)
    points = store.speedup_points(task_id, hardware_fingerprint=hardware, limit=PLOT_POINTS, mode=mode)
    page = page_of(accepted.offset, ACCEPTED_PAGE_SIZE)
    rejected_page = page_of(rejected.offset, REJECTED_PAGE_SIZE)
    path = f"/tasks/{quote(task_id, safe='')}"
    params = {
        "hardware": hardware,
        "mode": None if mode == "forward" else mode,
        "page": str(page) if page > 1 else None,
        "rejected_page": str(rejected_page) if rejected_page > 1 else None,
    }

    def list_pager(number: int, total: int, size: int, param: str, anchor: str) -> Pager:
        return pager(page=number, total=total, size=size, param=param, params=params, path=path, anchor=anchor)

    return TaskPage(
        task=heading,
        hardware=hardware,
        hardware_options=hardware_options,
        origins=_by_generator(store.origin_counts(task_id=task_id, mode=mode)),
        accepted=_entries(accepted, task, ranked=True, fold=sources.ACCEPTED),
        accepted_pager=list_pager(page, accepted.total, ACCEPTED_PAGE_SIZE, "page", "#accepted"),
        rejected=_entries(rejected, task, ranked=False, fold=sources.REJECTED),
        rejected_pager=list_pager(rejected_page, rejected.total, REJECTED_PAGE_SIZE, "rejected_page", "#rejected"),
        plot=speedup_plot(points.items, points.total),
        timed_total=points.total,
        untimed_accepted=accepted.total - points.total,
        roofline_profile=profile,
        imported=_entries(imported, task, ranked=False, fold=sources.REJECTED),
        imported_total=imported.total,
        mode=mode,
    )
