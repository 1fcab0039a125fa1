"""/v1/tasks, /v1/tasks/{id}, /v1/tasks/{id}/best and /v1/leaderboard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

import tasks
from service.api.schemas import KernelView, Mode, TaskDetail, TaskSummary
from service.api.views import kernel_view
from service.state import AppState, app_state

router = APIRouter(prefix="/v1", tags=["tasks"])


def _builtin_summary(task: Any) -> TaskSummary:
    return TaskSummary(
        id=task.id,
        family=task.family,
        title=task.title,
        builtin=True,
        dtypes=sorted({task.dtype(s) for s in task.shapes}),
        shapes=[s.to_dict() for s in task.shapes],
    )


@router.get("/tasks", response_model=list[TaskSummary])
def list_tasks(family: str | None = None, state: AppState = Depends(app_state)) -> list[TaskSummary]:
    """The built-in task suite, then tasks created from submitted references."""
    stored_families = {t.family for t in state.store.list_tasks()}
    if family is not None and family not in tasks.families() and family not in stored_families:
        known = sorted(set(tasks.families()) | stored_families)
        raise HTTPException(422, f"unknown family {family!r}; families: {', '.join(known)}")
    builtin_tasks = tasks.all_tasks(family=family) if family is None or family in tasks.families() else []
    out = [_builtin_summary(t) for t in builtin_tasks]
    builtin = {t.id for t in out}
    for stored in state.store.list_tasks(family=family):
        if stored.id not in builtin:
            out.append(TaskSummary(id=stored.id, family=stored.family, title=stored.title, builtin=False))
    return out


@router.get("/tasks/{task_id}", response_model=TaskDetail)
def get_task(
    task_id: str,
    hardware: str | None = Query(
        None, description=f"roofline profile id ({', '.join(tasks.HARDWARE)}); default {tasks.DEFAULT_HARDWARE}"
    ),
    state: AppState = Depends(app_state),
) -> TaskDetail:
    """Source, shapes, tolerances, allowed ops and roofline figures (on ``?hardware=``) of a task."""
    profile = hardware or tasks.DEFAULT_HARDWARE
    if profile not in tasks.HARDWARE:
        raise HTTPException(422, f"unknown hardware {profile!r}; profiles: {', '.join(tasks.HARDWARE)}")
    found = state.require_task(task_id)
    task = found.builtin
    if task is None:
        return TaskDetail(id=found.id, family=found.family, title=found.title, builtin=False, source=found.source)
    figures = []
    for shape in task.shapes_in("realistic"):
        try:
            fig = tasks.roofline(task, shape.name, profile)
        except tasks.RooflineUnavailableError:
            continue
        figures.append(
            {
                "shape": shape.name,
                "flops": fig.flops,
                "min_bytes": fig.min_bytes,
                "floor_ms": fig.floor_ms,
                "bound": fig.bound,
                "hardware": fig.hardware,
            }
        )
    summary = _builtin_summary(task)
    return TaskDetail(
        **summary.model_dump(),
        description=task.description,
        source=task.source,
        tolerances={k: v.to_dict() for k, v in task.tolerances.items()},
        allowed_ops=sorted(task.allowed_ops),
        roofline=figures,
    )


@router.get("/tasks/{task_id}/best", response_model=list[KernelView])
def best_kernels(
    task_id: str,
    hardware: str | None = Query(None, description="hardware fingerprint; default: every hardware"),
    mode: Mode = Query("forward", description="forward, backward (training kernels) or both: each ranked apart"),
    state: AppState = Depends(app_state),
) -> list[KernelView]:
    """The best verified kernel per hardware for a task in ``mode``: source and verification report."""
    state.require_task(task_id)
    return [
        kernel_view(b, with_source=True)
        for b in state.store.best_kernels(task_id=task_id, hardware_fingerprint=hardware, mode=mode)
    ]


@router.get("/leaderboard")
def leaderboard(
    mode: Mode = Query("forward", description="forward, backward (training kernels) or both: each ranked apart"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Best kernel per task and hardware, and fast_p per generator and hardware, for one mode."""
    from service.leaderboard import leaderboard_data

    return leaderboard_data(state.store, mode)
