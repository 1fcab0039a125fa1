"""Per-job event logs for server-sent events, written by runner threads, read by async handlers.

Each job keeps its most recent events with increasing ids (so a client can resume with
``Last-Event-ID``). Jobs run by another process, or events from before a restart, are not here:
the SSE endpoint then falls back to the job's status in the store.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

MAX_EVENTS_PER_JOB = 2000
MAX_JOBS = 500
TERMINAL_TYPES = frozenset({"finished"})
BYSTANDER_TYPES = frozenset({"waiting"})
"""Events a process publishes about a job it does not run (why the job waits): the job's log then
does not count as this process running it (``knows``), so readers keep following the store."""


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]


class EventHub:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._logs: dict[str, deque[Event]] = {}
        self._next_id: dict[str, int] = {}
        self._closed: set[str] = set()
        self._run_here: set[str] = set()

    def publish(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        with self._cond:
            if job_id not in self._logs:
                if len(self._logs) >= MAX_JOBS:  # forget the oldest finished job's log
                    oldest = next((j for j in self._logs if j in self._closed), next(iter(self._logs)))
                    self._forget(oldest)
                self._logs[job_id] = deque(maxlen=MAX_EVENTS_PER_JOB)
                self._next_id[job_id] = 1
                self._closed.discard(job_id)
            event = Event(self._next_id[job_id], event_type, data)
            self._next_id[job_id] += 1
            self._logs[job_id].append(event)
            if event_type not in BYSTANDER_TYPES:
                self._run_here.add(job_id)
            if event_type in TERMINAL_TYPES:
                self._closed.add(job_id)
            self._cond.notify_all()

    def _forget(self, job_id: str) -> None:
        self._logs.pop(job_id, None)
        self._next_id.pop(job_id, None)
        self._closed.discard(job_id)
        self._run_here.discard(job_id)

    def knows(self, job_id: str) -> bool:
        """Whether this process ran (or runs) the job: its events come here, not only from the store."""
        with self._cond:
            return job_id in self._run_here

    def since(self, job_id: str, last_id: int, timeout_s: float) -> tuple[list[Event], bool]:
        """Events after ``last_id`` (waiting up to ``timeout_s`` for one), and whether the log is closed."""
        with self._cond:

            def ready() -> bool:
                log = self._logs.get(job_id)
                return log is None or job_id in self._closed or (bool(log) and log[-1].id > last_id)

            self._cond.wait_for(ready, timeout=timeout_s)
            log = self._logs.get(job_id, deque())
            return [e for e in log if e.id > last_id], job_id in self._closed
