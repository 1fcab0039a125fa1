"""A GPU-timed kernel's share of the roofline floor, as the pages show it.

The rule itself (timed shape, device -> profile) lives in ``tasks.roofline_share``, shared with the
LLM loop and the benchmarks; this module re-exports it and adds the page's task lookup.
"""

from __future__ import annotations

import tasks
from tasks.hardware import DEFAULT_HARDWARE, profile_for_device
from tasks.roofline_share import RooflineShare, roofline_share, timed_shape

ROOFLINE_PROFILE = DEFAULT_HARDWARE
"""The profile a task page's floors use when the page is not filtered to a GPU with a profile."""

__all__ = ["ROOFLINE_PROFILE", "RooflineShare", "builtin_task", "roofline_profile", "roofline_share", "timed_shape"]


def roofline_profile(device_name: str) -> str | None:
    """The datasheet profile a device is compared with, or None when there is none for it."""
    return profile_for_device(device_name)


def builtin_task(task_id: str) -> tasks.Task | None:
    """The built-in task of that id, or None (a stored, submitted reference)."""
    try:
        return tasks.get(task_id)
    except KeyError:
        return None
