"""The service's rules for importing a bundle (``kernels_store.bundle_checks.ImportPolicy``).

A bundle never changes a built-in task (its id with another reference source is refused, and its
metadata is the registry's, not the bundle's); a stored task's tolerances may only tighten and its
allowed ops never widen (``service.task_extra``); a job's budget is capped like ``POST /v1/jobs``'s.
"""

from __future__ import annotations

from pathlib import Path

from kernels_store.bundle_checks import ImportPolicy
from service.settings import Settings
from service.task_extra import check_task_extra


def builtin_source(task_id: str) -> str | None:
    """The built-in task's reference source, or None when ``task_id`` is not a built-in id."""
    import tasks

    task = tasks.find(task_id)
    return None if task is None else task.source


def import_policy(bundle: str, settings: Settings | None = None) -> ImportPolicy:
    """The policy for importing the bundle named ``bundle`` (a path: its file name is kept)."""
    settings = settings or Settings()
    name = "stdin" if bundle == "-" else Path(bundle).name
    return ImportPolicy(
        bundle=name,
        builtin_source=builtin_source,
        check_task_extra=check_task_extra,
        max_budget=settings.max_budget,
    )
