"""Raw sources as plain text: what the pages link to when they fold a long source away.

``/v1/tasks/{id}/source`` (a task's reference) and ``/v1/candidates/{id}/source`` (a stored
candidate). Served as ``text/plain`` with ``nosniff``, so a browser never renders them as HTML.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, status
from fastapi.responses import PlainTextResponse

from service.state import AppState, app_state

router = APIRouter(prefix="/v1", tags=["sources"])
MAX_ID = 2**31 - 1
"""Candidate ids are 32-bit integers in the store (PostgreSQL refuses larger ones in a query)."""
TEXT = {200: {"content": {"text/plain": {}}, "description": "the source text"}}


def _text(source: str) -> PlainTextResponse:
    return PlainTextResponse(
        source,
        media_type="text/plain; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=300"},
    )


@router.get("/tasks/{task_id}/source", response_class=PlainTextResponse, responses=TEXT)
def task_source(task_id: str, state: AppState = Depends(app_state)) -> PlainTextResponse:
    """A task's reference source as plain text."""
    return _text(state.require_task(task_id).source)


@router.get("/candidates/{candidate_id}/source", response_class=PlainTextResponse, responses=TEXT)
def candidate_source(
    candidate_id: int = Path(ge=1, le=MAX_ID), state: AppState = Depends(app_state)
) -> PlainTextResponse:
    """A stored candidate's source as plain text."""
    candidate = state.store.get_candidate(candidate_id)
    if candidate is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no candidate {candidate_id}")
    return _text(candidate.source)
