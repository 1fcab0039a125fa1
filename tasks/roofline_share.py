"""A GPU-timed kernel's share of the roofline floor: which shape its timing is for, on which GPU profile.

The one rule the web pages, the LLM loop's feedback and the benchmarks all use.

How a timing maps to a shape: the verifier times the model of its first trial, and trials follow the
reference's shapes in the order the task declares them (the service verifies on a GPU with the
task's ``realistic`` shapes). So the timed shape is ``timing.shape`` when the report names one of
the task's shapes there, otherwise the first of the task's shapes (in declaration order) among the
shapes the report was verified on. Only a ``realistic`` shape gets a share.

How a device maps to a roofline profile: ``tasks.hardware.profile_for_device`` (an H100 SXM to
``h100-sxm``, an H200 SXM to ``h200``; the datasheet profiles, as ``GET /v1/tasks/{id}`` reports
them, unless ``measured=True``). Every other GPU has no profile, so no share is claimed for it; its
speedups stand on their own.

share = roofline floor (ms) / the kernel's median time (ms); 1.0 means at the floor, shares above
1.0 are shown as they are (the task's cost model counts more work than the kernel did).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tasks.hardware import DEFAULT_HARDWARE, profile_for_device
from tasks.model import Shape, Task
from tasks.roofline import RooflineUnavailableError, roofline


@dataclass(frozen=True)
class RooflineShare:
    """A share of the roofline, or why there is none (``share`` None, ``why_not`` says)."""

    share: float | None
    shape: str | None = None
    hardware: str | None = None
    floor_ms: float | None = None
    bound: str | None = None
    """What limits the floor on that shape: ``compute`` or ``memory``."""
    why_not: str = ""

    @property
    def title(self) -> str:
        """A one-line explanation for a tooltip."""
        if self.share is None:
            return self.why_not
        return f"floor {self.floor_ms:.4g} ms on shape {self.shape} ({self.hardware} roofline) / measured time"


def floors_profile(device_name: str | None) -> str:
    """The profile a task's floors are shown on for ``device_name``: its own when it has one (an H200's
    page shows H200 floors), else ``DEFAULT_HARDWARE`` (no device chosen, or a GPU without a profile)."""
    return (profile_for_device(device_name) if device_name else None) or DEFAULT_HARDWARE


def timed_shape(task: Task, report: Mapping[str, Any]) -> Shape | None:
    """The task shape a report's timing was measured on (see the module docstring), or None."""
    by_name = {s.name: s for s in task.shapes}
    timing = report.get("timing") or {}
    named = timing.get("shape") if isinstance(timing, Mapping) else None
    if isinstance(named, str) and named in by_name:
        return by_name[named]
    verified = set(report.get("shapes") or [])
    return next((s for s in task.shapes if s.name in verified), None)


def roofline_share(
    task: Task | None,
    report: Mapping[str, Any],
    candidate_ms: float | None,
    device_name: str,
    *,
    measured: bool = False,
) -> RooflineShare:
    """The kernel's share of its task's roofline on the GPU it was timed on, or the reason there is none.

    ``report`` is a report as a dict (``Report.to_dict()`` or a stored one)."""
    if candidate_ms is None or not report.get("timing"):
        return RooflineShare(None, why_not="not measured on a GPU")
    if task is None:
        return RooflineShare(None, why_not="a submitted reference: no cost model")
    profile = profile_for_device(device_name, measured=measured)
    if profile is None:
        return RooflineShare(None, why_not=f"no roofline profile for {device_name or 'this device'}")
    shape = timed_shape(task, report)
    if shape is None:
        return RooflineShare(None, why_not="the report does not say which shape was timed")
    if shape.tier != "realistic":
        return RooflineShare(None, shape=shape.name, why_not=f"timed on the small shape {shape.name}")
    try:
        figures = roofline(task, shape, profile)
    except RooflineUnavailableError as e:
        return RooflineShare(None, shape=shape.name, why_not=str(e))
    if candidate_ms <= 0:
        return RooflineShare(None, shape=shape.name, why_not="non-positive kernel time")
    return RooflineShare(
        share=figures.share_of_roofline(candidate_ms),
        shape=shape.name,
        hardware=profile,
        floor_ms=figures.floor_ms,
        bound=figures.bound,
    )
