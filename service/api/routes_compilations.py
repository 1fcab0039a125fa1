"""/v1/compilations: compile a whole model (``kiln compile`` as a job), watch it, read its per-group report."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, status
from sse_starlette.sse import EventSourceResponse

from kernels_store import JobRecord
from kernels_store.records import built_from
from service import compilations, jobs
from service.api import routes_jobs
from service.api.auth import writer_identity
from service.api.routes_verify import busy
from service.api.schemas import CompilationCreate, CompilationLinks, CompilationView
from service.api.views import job_links_base
from service.state import AppState, app_state
from service.workpool import PoolFull

router = APIRouter(prefix="/v1/compilations", tags=["compilations"])


def _create(body: CompilationCreate, owner: str, state: AppState) -> JobRecord:
    """``service.compilations.submit_compilation`` (on the parse pool: parsing a large source takes a while)."""
    job = compilations.submit_compilation(state.store, state.settings, body, owner=owner)
    if state.runner is not None:
        state.runner.notify()
    return job


def _view(job: JobRecord, request: Request, state: AppState) -> CompilationView:
    params = compilations.CompileParams.of(job)
    base = f"{job_links_base(request)}/v1/compilations/{quote(job.id, safe='')}"
    return built_from(
        CompilationView,
        job,
        name=params.name,
        tier="shapes" if params.shapes else params.tier,
        shapes=params.shapes,
        proposer=params.proposer,
        progress=dict(job.progress),
        report=job.result if isinstance(job.result, dict) else None,
        waiting=routes_jobs._waiting(job, state),
        links=CompilationLinks(self=base, events=f"{base}/events", cancel=f"{base}/cancel"),
    )


def _compile_job(job_id: str, state: AppState) -> JobRecord:
    job = state.store.get_job(job_id)
    if job is None or job.kind != compilations.KIND:
        raise compilations.compilation_not_found(job_id)
    return job


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=CompilationView, responses={503: {"description": "busy"}}
)
async def create_compilation(
    body: CompilationCreate,
    request: Request,
    owner: str = Depends(writer_identity),
    state: AppState = Depends(app_state),
) -> CompilationView:
    """Queue a compilation of a KernelBench-format model; returns at once with its id."""
    try:
        job = await state.parse_pool.run(_create, body, owner, state)
    except PoolFull:
        raise busy(state, "parse") from None
    return _view(job, request, state)


@router.get("/{job_id}", response_model=CompilationView, name="get_compilation")
def get_compilation(job_id: str, request: Request, state: AppState = Depends(app_state)) -> CompilationView:
    """Status and progress; when finished, the per-group report (``report``: what ``kiln compile --json``
    prints)."""
    return _view(_compile_job(job_id, state), request, state)


@router.post("/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=CompilationView)
def cancel_compilation(
    job_id: str, request: Request, owner: str = Depends(writer_identity), state: AppState = Depends(app_state)
) -> CompilationView:
    """Cancel a queued compilation now, or stop a running one after the candidates being verified."""
    _compile_job(job_id, state)
    return _view(jobs.cancel_job(state.store, state.settings, job_id, owner), request, state)


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def compilation_events(
    job_id: str, request: Request, state: AppState = Depends(app_state)
) -> EventSourceResponse:
    """Server-sent events: ``status`` first, then ``started``, ``note`` (shape, capture), ``groups`` (how
    many tasks), per group ``group_started``, ``verified`` and ``group`` (its verdict), ``finished`` last."""
    import asyncio

    await asyncio.to_thread(_compile_job, job_id, state)
    return await routes_jobs.job_events(job_id, request, state)
