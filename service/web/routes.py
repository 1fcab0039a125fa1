"""The page routes: ``/`` (leaderboard), ``/tasks/{id}`` (a task's kernels) and the pages' stylesheets."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from service.api.guard import shorten
from service.state import AppState, app_state
from service.task_lookup import near_ids
from service.web.highlight import stylesheet
from service.web.leaderboard_page import leaderboard_page
from service.web.paging import PageOutOfRange, page_number
from service.web.task_page import task_page
from service.web.templating import templates

STATIC_DIR = Path(__file__).parent / "static"


@functools.cache
def site_stylesheet() -> str:
    return (STATIC_DIR / "site.css").read_text(encoding="utf-8")


STYLESHEETS = {"site.css": site_stylesheet, "pygments.css": stylesheet}
CACHE_CONTROL = "public, max-age=300"

router = APIRouter(include_in_schema=False)


def _filter(value: str | None) -> str | None:
    """A filter query parameter; empty means no filter."""
    value = (value or "").strip()
    return value or None


PAGE_METHODS = ["GET", "HEAD"]


@router.api_route("/", methods=PAGE_METHODS, response_class=HTMLResponse, name="web_leaderboard")
def leaderboard(
    request: Request,
    family: str | None = None,
    hardware: str | None = None,
    level: str | None = None,
    mode: Literal["forward", "backward"] = "forward",
    state: AppState = Depends(app_state),
) -> HTMLResponse:
    """fast_p per generator and hardware, and the best kernel of every task; ``?family=&hardware=&level=`` filter,
    ``?mode=backward``: the training kernels' ranking."""
    page = leaderboard_page(
        state.store, family=_filter(family), hardware=_filter(hardware), level=_filter(level), mode=mode
    )
    status = 400 if page.unknown_family else 200
    return templates.TemplateResponse(request, "leaderboard.html", {"view": page}, status_code=status)


@router.api_route("/tasks/{task_id}", methods=PAGE_METHODS, response_class=HTMLResponse, name="web_task")
def task(
    request: Request,
    task_id: str,
    hardware: str | None = None,
    page: str | None = None,
    rejected_page: str | None = None,
    mode: Literal["forward", "backward"] = "forward",
    state: AppState = Depends(app_state),
) -> HTMLResponse:
    """A task's reference, ranked accepted kernels (``?page=``), rejected ones (``?rejected_page=``), plot;
    ``?mode=backward``: its training kernels."""
    try:
        pages = page_number(page), page_number(rejected_page)
    except PageOutOfRange as e:
        context = {"title": "No such page", "message": str(e), "near": []}
        return templates.TemplateResponse(request, "not_found.html", context, status_code=400)
    view = task_page(state.store, task_id, hardware=_filter(hardware), page=pages[0], rejected_page=pages[1], mode=mode)
    if view is None:
        message = f"There is no task {shorten(task_id)!r}."
        context = {"title": "Unknown task", "message": message, "near": near_ids(task_id)[:5]}
        return templates.TemplateResponse(request, "not_found.html", context, status_code=404)
    return templates.TemplateResponse(request, "task.html", {"view": view})


@router.api_route("/web/static/{name}", methods=PAGE_METHODS, name="web_static")
def static(name: str) -> Response:
    """The pages' stylesheets: the site's own and the syntax-highlighting style, served locally."""
    make = STYLESHEETS.get(name)
    if make is None:
        raise HTTPException(404, f"no stylesheet {shorten(name)!r}")
    return Response(make(), media_type="text/css", headers={"Cache-Control": CACHE_CONTROL})
