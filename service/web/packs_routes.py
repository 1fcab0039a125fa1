"""The pack pages: ``/packs`` (every kernel pack built from a compile's run) and ``/packs/{run_id}``.

``kiln pack build`` keeps the pack's manifest summary in its compile run's summary (key ``pack``), so a
pack shows wherever that store is served: its kernels (each linking to its task page, where its
verification report is), the groups that stayed in PyTorch and why, and the end-to-end check.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from service.compile.pack_build import PACK_KEY
from service.state import AppState, app_state
from service.web.templating import templates

router = APIRouter(include_in_schema=False)


def pack_runs(store: Any, limit: int = 500) -> list[Any]:
    """Compile runs with a pack, newest first."""
    return [r for r in store.list_runs(limit=limit).items if isinstance((r.summary or {}).get(PACK_KEY), dict)]


@router.get("/packs", response_class=HTMLResponse, name="web_packs")
def packs(request: Request, state: AppState = Depends(app_state)) -> HTMLResponse:
    """Every kernel pack, newest first."""
    rows = [(r, r.summary[PACK_KEY]) for r in pack_runs(state.store)]
    return templates.TemplateResponse(request, "packs.html", {"rows": rows})


@router.get("/packs/{run_id}", response_class=HTMLResponse, name="web_pack")
def pack(request: Request, run_id: str, state: AppState = Depends(app_state)) -> HTMLResponse:
    """One pack: its kernels with links to their reports, its groups, and its end-to-end check."""
    run = state.store.get_run(run_id)
    found = (run.summary or {}).get(PACK_KEY) if run is not None else None
    if not isinstance(found, dict):
        context = {"title": "Unknown pack", "message": f"No kernel pack was built from run {run_id!r}.", "near": []}
        return templates.TemplateResponse(request, "not_found.html", context, status_code=404)
    return templates.TemplateResponse(request, "pack.html", {"run": run, "pack": found})
