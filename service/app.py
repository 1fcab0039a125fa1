"""The FastAPI application: ``create_app()`` composes settings, store, event hub and job runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from kernels_store import Store, open_store
from service import astlock, web
from service.api import (
    routes_compilations,
    routes_health,
    routes_jobs,
    routes_runs,
    routes_sources,
    routes_tasks,
    routes_verify,
)
from service.api.guard import RequestGuard, validation_error_handler
from service.api.security_headers import SecurityHeaders
from service.events import EventHub
from service.refusals import Refused, refused_handler
from service.runner import JobRunner
from service.settings import Settings
from service.state import AppState

log = logging.getLogger("kiln.service")


def create_app(settings: Settings | None = None, store: Store | None = None, *, run_jobs: bool = True) -> FastAPI:
    """Build the app. ``run_jobs=False`` serves the API without an embedded runner (another process runs jobs)."""
    settings = settings or Settings.from_env()
    owns_store = store is None
    astlock.install()  # request, job and verification threads all parse sources (gh-106905)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.kiln
        if state.runner is not None:
            state.runner.start()
        try:
            yield
        finally:
            state.close()
            if state.runner is not None:
                state.runner.stop()
            if owns_store:
                state.store.close()

    app = FastAPI(
        title="Kernel Kiln",
        version="0.1.0",
        description="Submit a PyTorch reference op, get a verified Triton/CUDA kernel back.",
        lifespan=lifespan,
    )
    the_store = store or open_store(settings.database_url, auto_upgrade=settings.auto_migrate)
    hub = EventHub()
    runner = JobRunner(the_store, settings, hub) if run_jobs and settings.workers > 0 else None
    app.state.kiln = AppState(settings=settings, store=the_store, hub=hub, runner=runner)
    for module in (
        routes_jobs,
        routes_compilations,
        routes_verify,
        routes_tasks,
        routes_sources,
        routes_runs,
        routes_health,
    ):
        app.include_router(module.router)
    app.include_router(web.router)  # the HTML pages: leaderboard, task pages
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Refused, refused_handler)
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.body_limit,
        tokens=settings.api_tokens,
        body_timeout_s=settings.body_timeout_s,
    )
    app.add_middleware(SecurityHeaders)  # outermost: the guard's refusals get the headers too
    return app
