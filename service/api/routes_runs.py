"""/v1/runs and /v1/runs/{id}: ``kiln bench`` runs (suite, generator, hardware, fast_p, per-task outcomes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from kernels_store.records import built_from
from service.api.strict_json import shorten
from service.bench.summary import run_mode
from service.state import AppState, app_state

router = APIRouter(prefix="/v1", tags=["runs"])


class RunTaskView(BaseModel):
    task_id: str
    status: str = Field(description="pending, running or done")
    verdict: str | None = Field(
        description="accepted, rejected, no_kernel, reference_failed, no_small_shape, skipped (nothing differentiable)"
    )
    reason: str
    reference_ok: bool | None
    changed_constants: dict[str, Any] = Field(description="constants the small tier changed: {name: [old, new]}")
    shapes: dict[str, Any]
    speedup_eager: float | None = Field(description="GPU timings only")
    speedup_compiled: float | None
    seconds: float
    candidates: int
    best_candidate_id: int | None


class RunSummaryView(BaseModel):
    id: str
    suite: str
    tier: str
    mode: str = Field(description="forward or backward: a backward run's fast_p counts training steps, apart")
    proposer: str
    generator: str
    executor: str
    budget: int
    device: str
    hardware: str = Field(description="device name")
    hardware_fingerprint: str
    status: str = Field(description="running, completed or interrupted")
    tasks: int
    done: int
    fast_p: dict[str, float] = Field(description="KernelBench fast_p at p = 0, 0.5, 0.8, 1, 1.5, 2")
    geomean_speedup: float | None
    created_at: str
    finished_at: str | None
    links: dict[str, str]


class RunDetail(RunSummaryView):
    counts: dict[str, int]
    task_results: list[RunTaskView] = Field(description="one page of the run's tasks, in run order")
    task_total: int = Field(description="tasks in the run (task_results holds limit of them from offset)")
    limit: int
    offset: int


class RunPage(BaseModel):
    items: list[RunSummaryView]
    total: int
    limit: int
    offset: int


def run_summary_view(run: Any, counts: dict[str, int]) -> RunSummaryView:
    summary = run.summary or {}
    return built_from(
        RunSummaryView,
        run,
        hardware=run.device_name,
        mode=run_mode(run),
        tasks=counts.get("tasks", 0),
        done=counts.get("done", 0),
        fast_p={k: float(v) for k, v in (summary.get("fast_p") or {}).items()},
        geomean_speedup=summary.get("geomean_speedup"),
        created_at=run.created_at.isoformat(),
        finished_at=run.finished_at.isoformat() if run.finished_at else None,
        links={"self": f"/v1/runs/{run.id}", "page": f"/runs/{run.id}"},
    )


@router.get("/runs", response_model=RunPage)
def list_runs(
    suite: str | None = Query(None, description="only runs of this suite (e.g. kb.level1)"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    state: AppState = Depends(app_state),
) -> RunPage:
    """Bench runs, newest first."""
    page = state.store.list_runs(suite=suite, limit=limit, offset=offset)
    counts = state.store.run_task_counts([r.id for r in page.items])
    return RunPage(
        items=[run_summary_view(r, counts[r.id]) for r in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get("/runs/{run_id}", response_model=RunDetail)
def get_run(
    run_id: str,
    limit: int = Query(500, ge=1, le=2000, description="tasks per page"),
    offset: int = Query(0, ge=0, le=1_000_000),
    state: AppState = Depends(app_state),
) -> RunDetail:
    """One bench run with its tasks' outcomes, a page at a time (``task_total`` says how many)."""
    run = state.store.get_run(run_id)
    if run is None:
        raise HTTPException(404, f"no bench run {shorten(run_id)!r}; see GET /v1/runs")
    page = state.store.run_tasks_page(run_id, limit=limit, offset=offset)
    counts = state.store.run_task_counts([run_id])[run_id]
    base = run_summary_view(run, counts)
    return RunDetail(
        **base.model_dump(),
        counts={k: v for k, v in counts.items() if k not in ("tasks", "done")},
        task_results=[built_from(RunTaskView, r) for r in page.items],
        task_total=page.total,
        limit=limit,
        offset=offset,
    )
