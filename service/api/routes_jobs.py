"""/v1/jobs: submit a generation job, watch it (JSON or server-sent events), cancel it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from sse_starlette.sse import EventSourceResponse

from service.api.auth import writer_identity
from service.api.guard import shorten
from service.api.routes_verify import busy
from service.api.schemas import JobCreate, JobView
from service.api.validation import check_reference
from service.api.views import job_view
from service.persistence import resolve_task
from service.state import AppState, app_state
from service.workpool import PoolFull

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
SSE_POLL_S = 0.25
SSE_STORE_POLL_S = 1.0


def _not_found(job_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no job {shorten(job_id)!r}")


def _create(body: JobCreate, owner: str, state: AppState) -> Any:
    """Checks, then the job's record (parse pool: parsing a large reference takes a while)."""
    settings = state.settings
    if body.budget > settings.max_budget:
        raise HTTPException(
            422,
            f"budget {body.budget} exceeds this server's cap of {settings.max_budget} (KILN_MAX_BUDGET)",
        )
    if body.proposer == "llm" and not (body.model or os.environ.get("KILN_LLM_MODEL")):
        raise HTTPException(
            422,
            "the llm proposer needs a model: pass 'model' or set KILN_LLM_MODEL on the server",
        )
    active = state.store.list_jobs(status=["queued", "running"], owner_token=owner, limit=1).total
    if active >= settings.max_active_jobs_per_owner:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"{active} of your jobs are queued or running; the limit is "
            f"{settings.max_active_jobs_per_owner} (KILN_MAX_ACTIVE_JOBS)",
            headers={"Retry-After": "30"},
        )
    if body.reference_source is not None:
        check_reference(body.reference_source, settings.max_source_bytes)
    if body.task_id is not None:
        state.require_task(body.task_id)
    resolved = resolve_task(
        state.store, task_id=body.task_id, reference_source=body.reference_source, device=state.device
    )
    params: dict[str, Any] = {"language": body.language, "proposer": body.proposer}
    if body.model:
        params["model"] = body.model
    job = state.store.create_job(
        kind="generate", task_id=resolved.task_id, params=params, budget=body.budget, owner_token=owner
    )
    if state.runner is not None:
        state.runner.notify()
    return job


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobView, responses={503: {"description": "busy"}})
async def create_job(
    body: JobCreate, request: Request, owner: str = Depends(writer_identity), state: AppState = Depends(app_state)
) -> JobView:
    """Queue a generation job for a task or a submitted reference; returns at once with the job id."""
    try:
        job = await state.parse_pool.run(_create, body, owner, state)
    except PoolFull:
        raise busy(state, "parse") from None
    return job_view(job, request)


@router.get("/{job_id}", response_model=JobView, name="get_job")
def get_job(job_id: str, request: Request, state: AppState = Depends(app_state)) -> JobView:
    """Status, progress and the best verified kernel so far (source and verification report)."""
    job = state.store.get_job(job_id)
    if job is None:
        raise _not_found(job_id)
    return job_view(job, request, state.store)


@router.post("/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=JobView)
def cancel_job(
    job_id: str, request: Request, owner: str = Depends(writer_identity), state: AppState = Depends(app_state)
) -> JobView:
    """Cancel a queued job now, or ask a running one to stop after its current candidate."""
    job = state.store.get_job(job_id)
    if job is None:
        raise _not_found(job_id)
    if state.settings.api_tokens and not job.owned_by(owner):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the token that created a job may cancel it")
    return job_view(state.store.request_cancel(job_id), request, state.store)


def _status_event(job: Any) -> dict[str, Any]:
    return {
        "event": "status",
        "data": json.dumps(
            {"status": job.status, "progress": job.progress, "error": job.error, "result": job.result}, default=str
        ),
    }


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def job_events(job_id: str, request: Request, state: AppState = Depends(app_state)) -> EventSourceResponse:
    """Server-sent events: ``status`` first, then the generator's events (``proposed``, ``verified``,
    ``best``...) as they happen, and ``finished`` last. Resumable with ``Last-Event-ID``."""
    job = await asyncio.to_thread(state.store.get_job, job_id)
    if job is None:
        raise _not_found(job_id)
    try:
        last_id = int(request.headers.get("last-event-id") or 0)
    except ValueError:
        last_id = 0

    async def stream() -> AsyncIterator[dict[str, Any]]:
        nonlocal last_id
        yield _status_event(job)
        seen_progress = json.dumps(job.progress, sort_keys=True, default=str)
        since_store_poll = 0.0
        while True:
            if await request.is_disconnected():
                return
            events, closed = state.hub.since(job_id, last_id, 0)
            for e in events:
                last_id = e.id
                yield {"id": str(e.id), "event": e.type, "data": json.dumps(e.data, default=str)}
            if closed:
                return
            await asyncio.sleep(SSE_POLL_S)
            since_store_poll += SSE_POLL_S
            if state.hub.knows(job_id) or since_store_poll < SSE_STORE_POLL_S:
                continue
            since_store_poll = 0.0  # not run by this process (or before a restart): follow the store
            current = await asyncio.to_thread(state.store.get_job, job_id)
            if current is None:
                return
            progress = json.dumps(current.progress, sort_keys=True, default=str)
            if progress != seen_progress:
                seen_progress = progress
                yield {"event": "progress", "data": progress}
            if current.status in FINISHED:
                yield {
                    "event": "finished",
                    "data": json.dumps(
                        {"status": current.status, "error": current.error, "result": current.result}, default=str
                    ),
                }
                return

    return EventSourceResponse(stream(), ping=15)
