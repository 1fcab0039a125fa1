"""The run pages: ``/runs`` (bench runs, ``?suite=&page=``) and ``/runs/{id}`` (one run)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from service.state import AppState, app_state
from service.web.paging import PageOutOfRange, page_number
from service.web.routes import PAGE_METHODS
from service.web.runs_page import run_page, runs_page
from service.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.api_route("/runs", methods=PAGE_METHODS, response_class=HTMLResponse, name="web_runs")
def runs(
    request: Request, suite: str | None = None, page: str | None = None, state: AppState = Depends(app_state)
) -> HTMLResponse:
    """Every ``kiln bench`` run, newest first; ``?suite=`` keeps one suite's runs."""
    try:
        number = page_number(page)
    except PageOutOfRange as e:
        context = {"title": "No such page", "message": str(e), "near": []}
        return templates.TemplateResponse(request, "not_found.html", context, status_code=400)
    view = runs_page(state.store, suite=(suite or "").strip() or None, page=number)
    return templates.TemplateResponse(request, "runs.html", {"view": view})


@router.api_route("/runs/{run_id}", methods=PAGE_METHODS, response_class=HTMLResponse, name="web_run")
def run(request: Request, run_id: str, page: str | None = None, state: AppState = Depends(app_state)) -> HTMLResponse:
    """One run: fast_p table and plot, the other runs of its suite, every task's outcome (paged)."""
    try:
        number = page_number(page)
    except PageOutOfRange as e:
        context = {"title": "No such page", "message": str(e), "near": []}
        return templates.TemplateResponse(request, "not_found.html", context, status_code=400)
    view = run_page(state.store, run_id, number)
    if view is None:
        context = {"title": "Unknown run", "message": f"There is no bench run {run_id!r}.", "near": []}
        return templates.TemplateResponse(request, "not_found.html", context, status_code=404)
    return templates.TemplateResponse(request, "run.html", {"view": view})
