"""What the run pages show: ``/runs`` (every bench run, newest first, by suite) and ``/runs/{id}`` (one run:
suite, generator, hardware, the fast_p table, a plot of fast_p over p next to the other runs of the same
suite, and every task's outcome with its reason)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from kernels_store import RunRecord, RunTaskRecord, Store
from service.bench.summary import FAST_P, p_key, run_mode
from service.web.paging import Pager, fetch_page, href, page_count, page_of, pager
from service.web.plot import PALETTE, PlotArea, plot_area

PAGE_SIZE = 50
TASKS_PAGE_SIZE = 200
"""Tasks on one page of ``/runs/{id}`` (a KernelBench level fits; a 10,000-task run takes 50 pages)."""
WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 12, 40
COMPARED_RUNS = 6


@dataclass(frozen=True)
class RunRow:
    run: RunRecord
    tasks: int
    done: int
    fast_p: list[float]
    geomean: float | None

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def mode(self) -> str:
        """``forward`` or ``backward`` (training steps): a run is compared only with runs of its mode."""
        return run_mode(self.run)


@dataclass(frozen=True)
class RunsPage:
    rows: list[RunRow]
    suites: list[str]
    suite: str | None
    page: int
    pages: int
    total: int
    thresholds: tuple[float, ...] = FAST_P

    def href(self, suite: str | None = None, page: int | None = None) -> str:
        return href("/runs", {"suite": suite, "page": page if page and page > 1 else None})


@dataclass(frozen=True)
class PlotLine:
    label: str
    color: str
    points: str
    """SVG polyline points (x,y ...)."""
    current: bool
    dots: list[tuple[float, float]]
    """The same points, drawn as dots (a CPU run has only p = 0: nothing above it was measured)."""


@dataclass(frozen=True)
class FastPPlot(PlotArea):
    lines: list[PlotLine]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]


@dataclass(frozen=True)
class RunPage:
    row: RunRow
    tasks: list[RunTaskRecord]
    counts: dict[str, int]
    plot: FastPPlot
    compared: list[RunRow]
    tasks_pager: Pager
    thresholds: tuple[float, ...] = FAST_P


def _row(run: RunRecord, counts: dict[str, int]) -> RunRow:
    summary = run.summary or {}
    fast = summary.get("fast_p") or {}
    return RunRow(
        run=run,
        tasks=counts.get("tasks", 0),
        done=counts.get("done", 0),
        fast_p=[float(fast.get(p_key(p), 0.0)) for p in FAST_P],
        geomean=summary.get("geomean_speedup"),
    )


def runs_page(store: Store, *, suite: str | None, page: int) -> RunsPage:
    suites = store.run_suites()
    listing = fetch_page(
        lambda limit, offset: store.list_runs(suite=suite, limit=limit, offset=offset),
        lambda found: found.total,
        page,
        PAGE_SIZE,
    )
    counts = store.run_task_counts([r.id for r in listing.items])
    return RunsPage(
        rows=[_row(r, counts[r.id]) for r in listing.items],
        suites=suites,
        suite=suite,
        page=page_of(listing.offset, PAGE_SIZE),
        pages=page_count(listing.total, PAGE_SIZE),
        total=listing.total,
    )


def _x(p: float) -> float:
    return LEFT + (WIDTH - RIGHT - LEFT) * p / FAST_P[-1]


def _y(share: float) -> float:
    return TOP + (HEIGHT - BOTTOM - TOP) * (1.0 - share)


def fast_p_plot(current: RunRow, others: list[RunRow]) -> FastPPlot:
    """fast_p over p: the run in bold, other runs of the same suite for comparison."""
    lines = []
    for i, row in enumerate([current, *others]):
        measured = FAST_P if row.run.device == "cuda" else FAST_P[:1]
        dots = [(round(_x(p), 1), round(_y(s), 1)) for p, s in zip(measured, row.fast_p, strict=False)]
        points = " ".join(f"{x},{y}" for x, y in dots)
        label = f"{row.run.generator} · {row.run.device_name} · {row.run.id[:8]}"
        lines.append(PlotLine(label, PALETTE[i % len(PALETTE)], points, current=i == 0, dots=dots))
    return FastPPlot(
        lines=lines,
        x_ticks=[(_x(p), f"{p:g}") for p in FAST_P],
        y_ticks=[(_y(s), f"{s:.0%}") for s in (0.0, 0.25, 0.5, 0.75, 1.0)],
        **plot_area(WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM),
    )


def run_page(store: Store, run_id: str, page: int = 1) -> RunPage | None:
    """One run with one page (``TASKS_PAGE_SIZE``) of its tasks; a page past the end shows the last."""
    run = store.get_run(run_id)
    if run is None:
        return None
    mode = run_mode(run)  # a backward run's fast_p is compared with backward runs only
    same_suite = [
        r
        for r in store.list_runs(suite=run.suite, limit=4 * COMPARED_RUNS).items
        if r.id != run.id and run_mode(r) == mode
    ]
    counts = store.run_task_counts([run.id, *(r.id for r in same_suite)])
    row = _row(run, counts[run.id])
    compared = [_row(r, counts[r.id]) for r in same_suite[:COMPARED_RUNS]]
    verdicts = {k: v for k, v in counts[run.id].items() if k not in ("tasks", "done")}
    tasks = fetch_page(
        lambda limit, offset: store.run_tasks_page(run.id, limit=limit, offset=offset),
        lambda found: found.total,
        page,
        TASKS_PAGE_SIZE,
    )
    path = f"/runs/{quote(run.id, safe='')}"
    number = page_of(tasks.offset, TASKS_PAGE_SIZE)
    tasks_pager = pager(
        page=number, total=tasks.total, size=TASKS_PAGE_SIZE, param="page", params={}, path=path, anchor="#tasks"
    )
    return RunPage(
        row=row,
        tasks=tasks.items,
        counts=verdicts,
        plot=fast_p_plot(row, compared),
        compared=compared,
        tasks_pager=tasks_pager,
    )
