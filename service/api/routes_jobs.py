"""/v1/jobs: submit a generation job, watch it (JSON or server-sent events), cancel it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request, status
from sse_starlette.sse import EventSourceResponse

from kernels_store import JobRecord
from service import jobs
from service.api.auth import writer_identity
from service.api.routes_verify import busy
from service.api.schemas import JobCreate, JobView
from service.api.streams import CappedEventStream
from service.api.views import job_view
from service.settings import Settings
from service.state import AppState, app_settings, app_state
from service.workpool import PoolFull

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
SSE_POLL_S = 0.25
SSE_STORE_POLL_S = 1.0


def _create(body: JobCreate, owner: str, state: AppState) -> JobRecord:
    """``service.jobs.submit_job`` (on the parse pool: parsing a large reference takes a while)."""
    job = jobs.submit_job(state.store, state.settings, body, device=state.device, owner=owner)
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
        raise jobs.job_not_found(job_id)
    view = job_view(job, request, state.store)
    view.waiting = _waiting(job, state)
    return view


def _waiting(job: Any, state: AppState) -> str | None:
    """Why this queued job is not started, as this server's job runner sees it (None: nothing holds it)."""
    if job.status != "queued" or state.runner is None:
        return None
    return state.runner.waiting


@router.post("/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=JobView)
def cancel_job(
    job_id: str,
    request: Request,
    owner: str = Depends(writer_identity),
    state: AppState = Depends(app_state),
    settings: Settings = Depends(app_settings),
) -> JobView:
    """Cancel a queued job now, or ask a running one to stop after its current candidate."""
    return job_view(jobs.cancel_job(state.store, settings, job_id, owner), request, state.store)


def _status_event(job: Any, waiting: str | None) -> dict[str, Any]:
    data = {"status": job.status, "progress": job.progress, "error": job.error, "result": job.result}
    return {"event": "status", "data": json.dumps({**data, "waiting": waiting}, default=str)}


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def job_events(job_id: str, request: Request, state: AppState = Depends(app_state)) -> EventSourceResponse:
    """Server-sent events: ``status`` first, then the generator's events (``proposed``, ``verified``,
    ``best``...) as they happen, and ``finished`` last; ``waiting`` (with the reason) while a queued job
    cannot start. Resumable with ``Last-Event-ID``."""
    job = await asyncio.to_thread(state.store.get_job, job_id)
    if job is None:
        raise jobs.job_not_found(job_id)
    try:
        last_id = int(request.headers.get("last-event-id") or 0)
    except ValueError:
        last_id = 0
    release = state.streams.take(request.client.host if request.client else "")

    async def stream() -> AsyncIterator[dict[str, Any]]:
        nonlocal last_id
        yield _status_event(job, _waiting(job, state))
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

    return CappedEventStream(stream(), ping=15, release=release)
