"""Kernel Kiln's task suite: the reference ops kernels are generated for, by stable id.

Public API::

    import tasks
    task = tasks.get("dwconv2d.convnext_7x7")          # UnknownTaskError (KeyError) names near ids
    ref = task.reference(tier="small")                 # -> verifier.Reference over the small shapes
    fig = tasks.roofline(task, "stage1", "h100-sxm")   # floor_ms, bound, ...; fig.share_of_roofline(ms)
    tasks.all_tasks(family="fftconv"); tasks.families()
    kb = tasks.load_kernelbench_dir("KernelBench/level1"); tasks.register(kb)

Ids are ``<family>.<name>`` (lower snake case); imported KernelBench problems are
``<prefix>.<levelN>.<file stem>``. This package imports torch and the verifier's public types only.
"""

from tasks.execute import (
    DegenerateReferenceError,
    check_nondegenerate,
    degeneracy_of,
    load_module,
    run_reference,
)
from tasks.hardware import DEFAULT_HARDWARE, HARDWARE, Figure, Hardware, get_hardware
from tasks.kernelbench import KernelBenchFormatError, check_kernelbench_source, load_kernelbench_dir
from tasks.model import DEFAULT_TOLERANCES, TIERS, NoShapesError, Shape, Task, TaskError, Tier
from tasks.registry import UnknownTaskError, all_tasks, families, get, ids, register, unregister
from tasks.roofline import RooflineFigures, RooflineUnavailableError, roofline, share_of_roofline

__all__ = [
    "DEFAULT_HARDWARE",
    "DEFAULT_TOLERANCES",
    "HARDWARE",
    "TIERS",
    "DegenerateReferenceError",
    "Figure",
    "Hardware",
    "KernelBenchFormatError",
    "NoShapesError",
    "RooflineFigures",
    "RooflineUnavailableError",
    "Shape",
    "Task",
    "TaskError",
    "Tier",
    "UnknownTaskError",
    "all_tasks",
    "check_kernelbench_source",
    "check_nondegenerate",
    "degeneracy_of",
    "families",
    "get",
    "get_hardware",
    "ids",
    "load_kernelbench_dir",
    "load_module",
    "register",
    "roofline",
    "run_reference",
    "share_of_roofline",
    "unregister",
]
