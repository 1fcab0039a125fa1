"""What the app's request handlers share: settings, the store, the event hub, the job runner."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from kernels_store import Store
from service.api.streams import StreamSlots
from service.events import EventHub
from service.runner import JobRunner
from service.settings import Settings
from service.task_lookup import FoundTask, require_task
from service.workpool import BoundedPool

PARSE_THREADS = 2
VERIFY_NICE = 10
"""Verification threads, and the sandbox processes they start, run this much nicer than request handling."""
PARSE_BACKLOG = 64


@dataclass
class AppState:
    settings: Settings
    store: Store
    hub: EventHub
    runner: JobRunner | None
    verify_pool: BoundedPool = field(init=False)
    """Verifications of POST /v1/verify: ``verify_concurrency`` threads, ``verify_queue`` waiting."""
    parse_pool: BoundedPool = field(init=False)
    """Static checks of submitted sources (ast), kept out of the request thread pool."""
    streams: StreamSlots = field(init=False)
    """Open event streams, per client address and in all (``KILN_SSE_PER_CLIENT``, ``KILN_SSE_STREAMS``)."""

    def __post_init__(self) -> None:
        s = self.settings
        self.verify_pool = BoundedPool(
            "verify",
            threads=s.verify_concurrency,
            backlog=s.verify_queue,
            per_owner=s.verify_per_owner,
            nice=VERIFY_NICE,
        )
        self.parse_pool = BoundedPool("parse", threads=PARSE_THREADS, backlog=PARSE_BACKLOG)
        self.streams = StreamSlots(per_client=s.sse_per_client, total=s.sse_streams)

    def close(self) -> None:
        self.verify_pool.shutdown()
        self.parse_pool.shutdown()

    @functools.cached_property
    def device(self) -> str:
        from service.devices import resolve_device

        return resolve_device(self.settings.device)

    @functools.cached_property
    def environment(self) -> dict[str, Any]:
        """Versions and hardware fingerprint of this host (what verifications here are keyed by)."""
        from verifier.hostinfo import describe_host

        return describe_host(self.device)

    def require_task(self, task_id: str) -> FoundTask:
        """The built-in or stored task ``task_id``; 404 naming close matches when there is none."""
        return require_task(self.store, task_id)


async def app_state(request: Request) -> AppState:
    """FastAPI dependency (async: resolved on the event loop, never through the request thread pool)."""
    return request.app.state.kiln


async def app_settings(request: Request) -> Settings:
    """FastAPI dependency: the server's ``Settings`` (read once from the environment, never by a route)."""
    return request.app.state.kiln.settings
