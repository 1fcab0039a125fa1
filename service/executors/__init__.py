"""Where candidate verifications run: ``local`` (this host's sandbox processes, the default) or
``ray`` (the nodes of a Ray cluster). See ``base.py`` for the interface and ``ray_executor.py`` for
placement, the object store and faults."""

from service.executors.base import (
    EXECUTOR_NAMES,
    ExecutorFailed,
    ExecutorUnavailable,
    LocalExecutor,
    VerifyExecutor,
    make_executor,
    placements_summary,
)

__all__ = [
    "EXECUTOR_NAMES",
    "ExecutorFailed",
    "ExecutorUnavailable",
    "LocalExecutor",
    "VerifyExecutor",
    "make_executor",
    "placements_summary",
]
