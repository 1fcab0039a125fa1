"""Thread pools with a bounded backlog, for request work too slow for the request thread pool.

Verifications (seconds to minutes each) and source parsing (up to tens of milliseconds for a large
source, serialised by ``service.astlock``) run here instead of in the threads that serve every
other request, so a flood of them cannot make ``/healthz`` or a page wait. A pool never queues
without bound: ``reserve`` (and ``run``) refuses at once (``PoolFull``) when its threads are busy and its backlog
is full, and ``OwnerBusy`` when one owner already has ``per_owner`` tasks waiting or running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request

T = TypeVar("T")
DISCONNECT_POLL_S = 1.0


def _lower_priority(nice: int) -> None:
    """Raise this thread's nice value by ``nice`` (Linux: per thread, and inherited by the processes it
    starts, so sandbox processes of a verification yield the CPU to request handling). Best effort."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + nice, 19))
    except OSError:
        pass


class PoolFull(RuntimeError):
    """Every thread is busy and the backlog is full."""


class OwnerBusy(RuntimeError):
    """This owner already has as many tasks waiting or running as it may."""


class ClientGone(RuntimeError):
    """The client disconnected while its task was still waiting; the task was dropped."""


class BoundedPool:
    def __init__(self, name: str, *, threads: int, backlog: int, per_owner: int | None = None, nice: int = 0) -> None:
        self.name = name
        self.threads = threads
        self.capacity = threads + backlog
        self.per_owner = per_owner
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix=f"kiln-{name}", initializer=_lower_priority, initargs=(nice,)
        )
        self._lock = threading.Lock()
        self._in_flight = 0
        self._owners: Counter[str] = Counter()
        self.running = 0
        """Tasks running now (for tests and health)."""
        self.most_running = 0

    @property
    def in_flight(self) -> int:
        """Tasks waiting or running."""
        return self._in_flight

    def reserve(self, owner: str | None = None) -> Reservation:
        """A place in the pool, taken now (``PoolFull``/``OwnerBusy`` at once when there is none), for a task
        submitted later with ``Reservation.run``; ``Reservation.release`` gives an unused one back."""
        with self._lock:
            if owner is not None and self.per_owner is not None and self._owners[owner] >= self.per_owner:
                raise OwnerBusy(self._owners[owner])
            if self._in_flight >= self.capacity:
                raise PoolFull(self._in_flight)
            self._in_flight += 1
            if owner is not None:
                self._owners[owner] += 1
        return Reservation(self, owner)

    def _give_back(self, owner: str | None) -> None:
        with self._lock:
            self._in_flight -= 1
            if owner is not None:
                self._owners[owner] -= 1
                if self._owners[owner] <= 0:
                    del self._owners[owner]

    def _start(self, fn: Callable[..., T], args: tuple[Any, ...]) -> concurrent.futures.Future[T]:
        def run() -> T:
            with self._lock:
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            try:
                return fn(*args)
            finally:
                with self._lock:
                    self.running -= 1

        return self._executor.submit(run)

    async def run(
        self, fn: Callable[..., T], *args: Any, owner: str | None = None, request: Request | None = None
    ) -> T:
        """``fn(*args)`` on the pool (``reserve`` first, so ``PoolFull``/``OwnerBusy`` at once), awaited
        without holding a thread."""
        return await self.reserve(owner).run(fn, *args, request=request)

    def shutdown(self) -> None:
        """Drop waiting tasks; running ones finish in their threads (not waited for)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class Reservation:
    """A place taken in a ``BoundedPool``; given back when its task ends, or by ``release`` if never used."""

    def __init__(self, pool: BoundedPool, owner: str | None) -> None:
        self.pool = pool
        self.owner = owner
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self.pool._give_back(self.owner)

    async def run(self, fn: Callable[..., T], *args: Any, request: Request | None = None) -> T:
        """``fn(*args)`` on the pool, awaited without holding a thread. When ``request``'s client goes away
        while the task still waits for a thread, the task is dropped (``ClientGone``)."""
        if not self._held:
            raise RuntimeError("this reservation was used or released already")
        try:
            future = self.pool._start(fn, args)
        except RuntimeError:  # the pool is shut down
            self.release()
            raise PoolFull(0) from None
        self._held = False
        future.add_done_callback(lambda _: self.pool._give_back(self.owner))
        waiting = asyncio.wrap_future(future)
        if request is None:
            return await waiting
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=DISCONNECT_POLL_S)
            if done:
                return waiting.result()
            if await request.is_disconnected() and future.cancel():
                raise ClientGone(f"the client went away before its {self.pool.name} task started")
