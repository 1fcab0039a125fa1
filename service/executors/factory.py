"""The executor by name: the one place that knows every executor (``base`` defines the interface and
the local one; ``ray_executor`` the Ray one)."""

from __future__ import annotations

from service.executors.base import EXECUTOR_NAMES, LocalExecutor, VerifyExecutor
from service.executors.ray_env import ray_missing
from service.executors.ray_executor import RayExecutor  # imports ray only when it connects


def make_executor(
    name: str, *, ray_address: str | None = None, parallelism: int = 1, hardware: str | None = None
) -> VerifyExecutor:
    """The executor called ``name`` (``local`` or ``ray``); ``ValueError`` for an unknown name or when
    ray is asked for without the ``ray`` extra installed. ``hardware``: a fingerprint the ray executor
    prefers when it has workers of it."""
    if name == "local":
        return LocalExecutor(parallelism)
    if name == "ray":
        missing = ray_missing()
        if missing:
            raise ValueError(missing)
        return RayExecutor(ray_address, hardware=hardware)
    raise ValueError(f"unknown executor {name!r}; available: {', '.join(EXECUTOR_NAMES)}")
