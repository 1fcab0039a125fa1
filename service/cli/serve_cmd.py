"""`kiln serve`: the API, the web pages and the embedded job runner, on uvicorn."""

from __future__ import annotations

import typer

from service.cli.common import failer

_fail = failer("serve", 2)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int | None = typer.Option(None, "--workers", help="Job-runner threads (default: KILN_WORKERS or 1)."),
    database: str | None = typer.Option(
        None, "--database", help="Store URL (default: KILN_DATABASE_URL, else SQLite)."
    ),
    log_level: str = typer.Option("info", "--log-level"),
    sandbox: str | None = typer.Option(
        None,
        "--sandbox",
        help="auto | docker | bwrap | unshare for every verification (default: KILN_SANDBOX or auto).",
    ),
    image: str | None = typer.Option(
        None, "--image", help="Worker image of the docker sandbox (default: KILN_SANDBOX_IMAGE)."
    ),
    executor: str | None = typer.Option(
        None,
        "--executor",
        help="Verify candidates on this host (local) or a Ray cluster (ray); default KILN_EXECUTOR, else local.",
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="The Ray head for --executor ray, host:port (default: KILN_RAY_ADDRESS, else auto)."
    ),
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) with an embedded job runner."""
    import dataclasses

    from service.settings import Settings

    try:
        settings = Settings.from_env()
    except ValueError as e:
        _fail(str(e))
    if sandbox is not None and sandbox not in ("auto", "docker", "bwrap", "unshare"):
        _fail(f"--sandbox must be auto, docker, bwrap or unshare, not {sandbox!r}")
    if executor is not None and executor not in ("local", "ray"):
        _fail(f"--executor must be local or ray, not {executor!r}")
    given = {
        "workers": workers,
        "database_url": database,
        "sandbox": sandbox,
        "sandbox_image": image,
        "executor": executor,
        "ray_address": ray_address,
    }
    settings = dataclasses.replace(settings, **{name: value for name, value in given.items() if value is not None})
    if settings.executor == "ray":
        from service.executors.ray_env import ray_missing

        missing = ray_missing()
        if missing:
            _fail(missing)
    if settings.executor == "local" or settings.workers == 0:  # verifications run on this host
        from service.cli.common import require_sandbox
        from service.devices import DeviceUnavailable, resolve_device

        try:
            device = resolve_device(settings.device)
        except DeviceUnavailable as e:
            _fail(str(e))
        require_sandbox(_fail, settings.sandbox, image=settings.sandbox_image, device=device)
    if not settings.api_tokens and host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            f"kiln serve: note: KILN_API_TOKENS is unset, so writes are refused from clients other than "
            f"loopback even though the server listens on {host}",
            err=True,
        )
    import uvicorn
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from kernels_store import SchemaNotCurrentError, StoreError
    from service.app import create_app

    try:
        app = create_app(settings)
    except SchemaNotCurrentError as e:
        _fail(f"{e}, or set KILN_AUTO_MIGRATE=1 to let kiln serve migrate it on start")
    except (StoreError, OSError) as e:
        _fail(f"cannot open the store: {e}")
    except SQLAlchemyError as e:  # no such database, refused connection, bad credentials: one line
        from kernels_store import database_url
        from kernels_store.db import redacted

        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        where = redacted(make_url(database_url(settings.database_url)))
        hint = "create it (createdb) and run kiln db upgrade" if "does not exist" in reason else "check the URL"
        _fail(f"cannot open the store at {where}: {reason}; {hint}")
    store = app.state.kiln.store
    where = f"executor {settings.executor}" + (
        f" ({settings.ray_address or 'auto'})" if settings.executor == "ray" else ""
    )
    typer.echo(
        f"kiln serve: store {store.url}; {settings.workers} job runner(s); {where}; http://{host}:{port}/docs", err=True
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
