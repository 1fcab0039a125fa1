"""Roofline floor of a task on a shape and a GPU, and the share of it a measured kernel reaches.

The floor is ``max(compute time, memory time)``:

* memory time = the fewest bytes the op must move (every input and parameter read once, every
  output written once; intermediates never counted) / the memory bandwidth;
* compute time = tensor-core-eligible FLOPs / that dtype's tensor peak (float32 operands: TF32,
  which the float32 tolerance admits) + the remaining FLOPs / the fp32 non-tensor peak.

A kernel cannot beat the floor unless it does less work than the task's cost model counts (e.g. an
FFT for a direct convolution), or uses faster units than assumed (16-bit packed vector math can
exceed the fp32 non-tensor peak); shares above 1.0 are reported as they are, never clamped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from tasks.hardware import DEFAULT_HARDWARE, Hardware, get_hardware
from tasks.model import Shape, Task, TaskError

_TENSOR_UNIT = {"bfloat16": "tensor.bfloat16", "float16": "tensor.float16", "float32": "tensor.tf32"}
VECTOR_UNIT = "vector.float32"


class RooflineUnavailableError(TaskError):
    """The task has no cost model (e.g. an imported KernelBench problem)."""


@dataclass(frozen=True)
class RooflineFigures:
    """The floor of one task on one shape and one GPU profile (times in milliseconds)."""

    task_id: str
    shape: str
    hardware: str
    dtype: str | None
    flops: float
    tensor_flops: float
    min_bytes: float
    arithmetic_intensity: float
    """FLOPs per byte of the minimal traffic."""
    compute_ms: float
    memory_ms: float
    floor_ms: float
    bound: Literal["memory", "compute"]
    tensor_unit: str | None
    """Compute unit the tensor-core-eligible FLOPs were timed on (None when there are none)."""
    vector_unit: str
    figures: dict[str, str]
    """Each peak used -> 'value unit (provenance: source)'."""

    def share_of_roofline(self, kernel_ms: float) -> float:
        """floor / measured time: 1.0 means the kernel runs at the roofline floor."""
        if kernel_ms <= 0:
            raise ValueError("kernel_ms must be > 0")
        return self.floor_ms / kernel_ms

    def achieved(self, kernel_ms: float) -> dict[str, float]:
        """Throughput a kernel taking ``kernel_ms`` reaches: TFLOP/s and TB/s of the minimal traffic."""
        if kernel_ms <= 0:
            raise ValueError("kernel_ms must be > 0")
        seconds = kernel_ms / 1e3
        return {
            "tflops": self.flops / seconds / 1e12,
            "tbytes_per_s": self.min_bytes / seconds / 1e12,
            "share_of_roofline": self.share_of_roofline(kernel_ms),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _describe(fig: Any) -> str:
    return f"{fig.value:.4g} {fig.unit} ({fig.provenance}: {fig.source})"


def roofline(task: Task, shape: Shape | str, hardware: str | Hardware = DEFAULT_HARDWARE) -> RooflineFigures:
    """The roofline figures of ``task`` on ``shape`` (a Shape or its name) on ``hardware``."""
    if task.flops is None or task.min_bytes is None:
        raise RooflineUnavailableError(f"task {task.id} has no FLOP/byte model (family {task.family})")
    hw = get_hardware(hardware)
    s = task.shape(shape) if isinstance(shape, str) else shape
    params = task.params(s)
    dtype = task.dtype(s)
    flops = float(task.flops(params))
    tensor_flops = float(task.tensor_flops(params)) if task.tensor_flops is not None else 0.0
    if not 0.0 <= tensor_flops <= flops:
        raise TaskError(f"task {task.id}: tensor FLOPs {tensor_flops} outside [0, {flops}]")
    min_bytes = float(task.min_bytes(params))
    if flops < 0 or min_bytes <= 0:
        raise TaskError(f"task {task.id}: bad cost model (flops={flops}, bytes={min_bytes})")

    vector = hw.peak(VECTOR_UNIT)
    figures = {"memory_bandwidth": _describe(hw.memory_bandwidth), VECTOR_UNIT: _describe(vector)}
    tensor_unit = _TENSOR_UNIT.get(dtype or "") if tensor_flops > 0 else None
    if tensor_flops > 0 and tensor_unit is None:
        # No tensor-core path for this dtype (e.g. float64): everything runs on the vector units.
        tensor_flops = 0.0
    compute_s = (flops - tensor_flops) / vector.value
    if tensor_unit is not None:
        tensor = hw.peak(tensor_unit)
        figures[tensor_unit] = _describe(tensor)
        compute_s += tensor_flops / tensor.value
    memory_s = min_bytes / hw.memory_bandwidth.value
    floor_s = max(compute_s, memory_s)
    return RooflineFigures(
        task_id=task.id,
        shape=s.name,
        hardware=hw.id,
        dtype=dtype,
        flops=flops,
        tensor_flops=tensor_flops,
        min_bytes=min_bytes,
        arithmetic_intensity=flops / min_bytes,
        compute_ms=compute_s * 1e3,
        memory_ms=memory_s * 1e3,
        floor_ms=floor_s * 1e3,
        bound="compute" if compute_s > memory_s else "memory",
        tensor_unit=tensor_unit,
        vector_unit=VECTOR_UNIT,
        figures=figures,
    )


def share_of_roofline(
    task: Task, shape: Shape | str, kernel_ms: float, hardware: str | Hardware = DEFAULT_HARDWARE
) -> float:
    """floor / ``kernel_ms`` for ``task`` on ``shape`` and ``hardware`` (1.0 = at the floor)."""
    return roofline(task, shape, hardware).share_of_roofline(kernel_ms)
