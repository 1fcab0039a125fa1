"""Kernel Kiln's task suite: the reference ops kernels are generated for, by stable id.

Public API::

    import tasks
    task = tasks.get("dwconv2d.convnext_7x7")          # UnknownTaskError (KeyError) names near ids
    ref = task.reference(tier="small")                 # -> verifier.Reference over the small shapes
    fig = tasks.roofline(task, "stage1", "h100-sxm")   # floor_ms, bound, ...; fig.share_of_roofline(ms)
    tasks.profile_for_device("NVIDIA H200")             # "h200" (None: a GPU without a profile)
    tasks.roofline_share(task, report_dict, ms, device_name)  # the rule the pages and the LLM loop use
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
from tasks.hardware import (
    DEFAULT_HARDWARE,
    GPUS,
    HARDWARE,
    Figure,
    Hardware,
    get_hardware,
    gpu_for_device,
    profile_for_device,
    profiles_named,
)
from tasks.kernelbench import (
    KernelBenchFormatError,
    check_kernelbench_source,
    level_of,
    load_kernelbench_dir,
    scan_kernelbench_dir,
    with_small_shape,
)
from tasks.model import DEFAULT_TOLERANCES, TIERS, NoShapesError, Shape, Task, TaskError, Tier
from tasks.registry import UnknownTaskError, all_tasks, families, find, get, ids, register, unregister
from tasks.roofline import RooflineFigures, RooflineUnavailableError, roofline, share_of_roofline
from tasks.roofline_share import RooflineShare, roofline_share, timed_shape

__all__ = [
    "DEFAULT_HARDWARE",
    "DEFAULT_TOLERANCES",
    "GPUS",
    "HARDWARE",
    "TIERS",
    "DegenerateReferenceError",
    "Figure",
    "Hardware",
    "KernelBenchFormatError",
    "NoShapesError",
    "RooflineFigures",
    "RooflineShare",
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
    "find",
    "get",
    "get_hardware",
    "gpu_for_device",
    "ids",
    "level_of",
    "load_kernelbench_dir",
    "load_module",
    "profile_for_device",
    "profiles_named",
    "register",
    "roofline",
    "roofline_share",
    "run_reference",
    "scan_kernelbench_dir",
    "share_of_roofline",
    "timed_shape",
    "unregister",
    "with_small_shape",
]
