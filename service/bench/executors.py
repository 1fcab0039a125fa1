"""How a bench run's tasks are scheduled: ``workers`` threads of this process, each running one task's
generation loop (orchestration: proposals, ranking, store writes).

Where each candidate is *verified* is the verification executor's business (``service/executors``:
``local`` sandbox processes here, or ``ray``, the nodes of a Ray cluster), chosen with
``kiln bench --executor``; the tasks' threads stay here either way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    name: str

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        on_done: Callable[[T, R | BaseException], None],
        cancel: threading.Event,
    ) -> None:
        """Run ``fn`` on every item (no new item starts once ``cancel`` is set); ``on_done`` gets each
        item with its result, or the exception it raised, in completion order, on the calling thread."""
        ...


class LocalExecutor:
    """Tasks on ``workers`` threads of this process."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        self.workers = workers

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        on_done: Callable[[Any, Any], None],
        cancel: threading.Event,
    ) -> None:
        queue = list(items)
        running: dict[Future[Any], Any] = {}
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="kiln-bench") as pool:
            while queue or running:
                while queue and len(running) < self.workers and not cancel.is_set():
                    item = queue.pop(0)
                    running[pool.submit(fn, item)] = item
                if not running:
                    break
                finished, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = running.pop(future)
                    error = future.exception()
                    on_done(item, error if error is not None else future.result())


EXECUTORS: dict[str, Callable[[int], Executor]] = {"local": LocalExecutor}


def make_executor(name: str, workers: int = 1) -> Executor:
    """The task scheduler called ``name``; ``ValueError`` naming the available ones otherwise."""
    factory = EXECUTORS.get(name)
    if factory is None:
        raise ValueError(f"unknown task scheduler {name!r}; available: {', '.join(EXECUTORS)}")
    return factory(workers)
