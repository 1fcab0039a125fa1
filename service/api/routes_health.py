"""/healthz: is the service up, can it reach its database, are its workers alive."""

from __future__ import annotations

from importlib import metadata

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import text

from service.api.schemas import Health
from service.state import AppState, app_state

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
@router.head("/healthz", include_in_schema=False)
def healthz(response: Response, state: AppState = Depends(app_state)) -> Health:
    try:
        with state.store.read() as session:
            session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as e:
        database = f"unreachable: {type(e).__name__}"
    workers = state.runner.workers if state.runner is not None else 0
    expected = state.settings.workers if state.runner is not None else 0
    sandbox = _sandbox(state)
    healthy = database == "ok" and workers == expected and not sandbox.startswith("unavailable")
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    try:
        version = metadata.version("kernelkiln")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return Health(
        status="ok" if healthy else "degraded", database=database, workers=workers, version=version, sandbox=sandbox
    )


def _sandbox(state: AppState) -> str:
    """The mechanism this service's verifications get (probes are cached per process), or why none."""
    from verifier.errors import SandboxUnavailableError
    from verifier.sandbox.isolation import choose

    try:
        return choose(state.settings.sandbox, image=state.settings.sandbox_image, cuda=state.device == "cuda").mechanism
    except SandboxUnavailableError as e:
        return f"unavailable: {e}"
