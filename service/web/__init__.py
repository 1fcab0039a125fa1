"""The web pages: the leaderboard at ``/`` and one page per task at ``/tasks/{id}``.

Rendered server-side (Jinja2, autoescaped) from the store; the CSS, the syntax-highlighting styles and
the inline SVG plot are all served by the app, so the pages need nothing from the internet.
"""

from service.web.packs_routes import router as packs_router
from service.web.routes import router
from service.web.runs_routes import router as runs_router

router.include_router(runs_router)  # /runs and /runs/{id}: kiln bench runs
router.include_router(packs_router)  # /packs and /packs/{run_id}: kernel packs (kiln pack build)

__all__ = ["router"]
