"""Where candidate verifications run: ``local`` (this host's sandbox processes, the default) or
``ray`` (the nodes of a Ray cluster). See ``base.py`` for the interface, ``factory.py`` for choosing
one by name, ``ray_env.py`` for what Ray needs before it is imported and ``ray_executor.py`` for
placement, the object store and faults."""

from service.executors.base import (
    EXECUTOR_NAMES,
    ExecutorFailed,
    ExecutorUnavailable,
    LocalExecutor,
    VerifyExecutor,
    placements_summary,
)
from service.executors.factory import make_executor

__all__ = [
    "EXECUTOR_NAMES",
    "ExecutorFailed",
    "ExecutorUnavailable",
    "LocalExecutor",
    "VerifyExecutor",
    "make_executor",
    "placements_summary",
]
