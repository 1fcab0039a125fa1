"""Peak figures of the GPUs reports compare kernels against, each labelled with where it comes from.

Two profiles per GPU, a datasheet one and a measured one:

* ``h100-sxm``: NVIDIA's H100 SXM datasheet figures (dense, i.e. without structured sparsity).
* ``h100-sxm-measured``: what this workplace measured on its lent H100 on 2026-11-13 where it
  measured something (HBM bandwidth, bf16 matmul throughput); the other peaks are the datasheet's,
  and each figure says which it is.
* ``h200``: the H200 SXM's 4.8 TB/s HBM3e (its datasheet) with the H100 SXM's compute peaks (the
  H200 SXM is the same Hopper chip: NVIDIA lists the same Tensor Core figures for both).
* ``h200-measured``: the device-to-device copy and bf16 matmul rates measured on this workplace's
  lent H200s (2026-10-28 and 2026-11-04); the other peaks are the datasheet's.

``profile_for_device`` maps a CUDA device name to its profiles; a GPU without one (an A100, an H100
PCIe or NVL, an H200 NVL, a GH200...) gets speedups but no roofline share.

Compute peaks are keyed by the unit that does the work: ``tensor.bfloat16``, ``tensor.float16``,
``tensor.tf32`` (float32 operands on tensor cores) and ``vector.float32`` (CUDA cores, non-tensor).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Provenance = Literal["datasheet", "measured"]
COMPUTE_UNITS: tuple[str, ...] = ("tensor.bfloat16", "tensor.float16", "tensor.tf32", "vector.float32")


@dataclass(frozen=True)
class Figure:
    """One peak figure: ``value`` in ``unit`` (``B/s`` or ``FLOP/s``), its provenance and source."""

    value: float
    unit: str
    provenance: Provenance
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "provenance": self.provenance, "source": self.source}


@dataclass(frozen=True)
class Hardware:
    """A GPU profile: memory bandwidth and compute peaks by unit (see ``COMPUTE_UNITS``)."""

    id: str
    name: str
    memory_bandwidth: Figure
    compute: Mapping[str, Figure] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        missing = [u for u in COMPUTE_UNITS if u not in self.compute]
        if missing:
            raise ValueError(f"hardware {self.id}: missing compute peaks {missing}")
        object.__setattr__(self, "compute", MappingProxyType(dict(self.compute)))

    def peak(self, unit: str) -> Figure:
        try:
            return self.compute[unit]
        except KeyError:
            raise KeyError(f"unknown compute unit {unit!r}; known: {', '.join(COMPUTE_UNITS)}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "note": self.note,
            "memory_bandwidth": self.memory_bandwidth.to_dict(),
            "compute": {k: v.to_dict() for k, v in self.compute.items()},
        }


_DATASHEET = "NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column (dense figures, without sparsity)"
_MEASURED = "Kernel Kiln workplace measurement on its lent H100 (nvidia-h100-x1), 2026-11-13"

_H100_DATASHEET_COMPUTE = {
    "tensor.bfloat16": Figure(989e12, "FLOP/s", "datasheet", _DATASHEET + ": BF16 Tensor Core"),
    "tensor.float16": Figure(989e12, "FLOP/s", "datasheet", _DATASHEET + ": FP16 Tensor Core"),
    "tensor.tf32": Figure(494e12, "FLOP/s", "datasheet", _DATASHEET + ": TF32 Tensor Core"),
    "vector.float32": Figure(67e12, "FLOP/s", "datasheet", _DATASHEET + ": FP32 (non-tensor)"),
}

H100_SXM = Hardware(
    id="h100-sxm",
    name="NVIDIA H100 SXM (datasheet)",
    memory_bandwidth=Figure(3.35e12, "B/s", "datasheet", _DATASHEET + ": HBM3 memory bandwidth"),
    compute=_H100_DATASHEET_COMPUTE,
    note="Vendor peak figures; no kernel reaches them in practice.",
)

H100_SXM_MEASURED = Hardware(
    id="h100-sxm-measured",
    name="NVIDIA H100 (this workplace's lent GPU, measured 2026-11-13)",
    memory_bandwidth=Figure(
        3.0e12,
        "B/s",
        "measured",
        _MEASURED + ": device-to-device copy, counting bytes read + written",
    ),
    compute={
        **_H100_DATASHEET_COMPUTE,
        "tensor.bfloat16": Figure(798e12, "FLOP/s", "measured", _MEASURED + ": 8192x8192x8192 bf16 matmul (torch)"),
    },
    note="Measured where a figure says 'measured'; the remaining peaks are the datasheet's.",
)

_H200_DATASHEET = "NVIDIA H200 Tensor Core GPU datasheet, H200 SXM column"
_H200_MEASURED = (
    "Kernel Kiln workplace measurement on its lent H200s (nvidia-h200), 2026-10-28 and 2026-11-04 "
    "(a reading of the workplace's machine notes, not of this project's runs)"
)

H200 = Hardware(
    id="h200",
    name="NVIDIA H200 SXM (datasheet)",
    memory_bandwidth=Figure(4.8e12, "B/s", "datasheet", _H200_DATASHEET + ": HBM3e memory bandwidth"),
    compute=_H100_DATASHEET_COMPUTE,
    note="Vendor peak figures; the compute peaks are the H100 SXM's (same chip). No kernel reaches them.",
)

H200_MEASURED = Hardware(
    id="h200-measured",
    name="NVIDIA H200 (this workplace's lent GPU, measured)",
    memory_bandwidth=Figure(
        4.3e12,
        "B/s",
        "measured",
        _H200_MEASURED + ": device-to-device copy through torch (8.6 GB in 2.0 ms), counting bytes read + written",
    ),
    compute={
        **_H100_DATASHEET_COMPUTE,
        "tensor.bfloat16": Figure(
            780e12,
            "FLOP/s",
            "measured",
            _H200_MEASURED + ": 8192x8192x8192 bf16 matmul (torch) on random data, 769-798 TFLOP/s over runs",
        ),
    },
    note="Measured where a figure says 'measured'; the remaining peaks are the datasheet's.",
)

HARDWARE: Mapping[str, Hardware] = MappingProxyType(
    {h.id: h for h in (H100_SXM, H100_SXM_MEASURED, H200, H200_MEASURED)}
)
DEFAULT_HARDWARE = "h100-sxm"

GPUS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"h100": ("h100-sxm", "h100-sxm-measured"), "h200": ("h200", "h200-measured")}
)
"""Each GPU's (datasheet, measured) profiles, by the short name ``kiln tasks show --hardware`` takes."""

_DEVICE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # torch.cuda.get_device_name: "NVIDIA H100 80GB HBM3" (SXM), "NVIDIA H100 PCIe", "NVIDIA H100 NVL";
    # "NVIDIA H200" (SXM), "NVIDIA H200 NVL"; "NVIDIA GH200 480GB" is a Grace Hopper part (no match).
    (re.compile(r"\bH100\b(?!.*\b(PCIE|NVL)\b)", re.IGNORECASE), "h100"),
    (re.compile(r"\bH200\b(?!.*\bNVL\b)", re.IGNORECASE), "h200"),
)


def gpu_for_device(device_name: str) -> str | None:
    """The ``GPUS`` key of a CUDA device name (``"NVIDIA H200"`` -> ``"h200"``), or None without a profile."""
    for pattern, gpu in _DEVICE_RULES:
        if pattern.search(device_name or ""):
            return gpu
    return None


def profile_for_device(device_name: str, *, measured: bool = False) -> str | None:
    """The roofline profile a kernel timed on ``device_name`` is compared with: the GPU's datasheet
    profile (``measured=True``: its measured one), or None for a GPU without a profile."""
    gpu = gpu_for_device(device_name)
    if gpu is None:
        return None
    return GPUS[gpu][1 if measured else 0]


def profiles_named(name: str) -> tuple[str, ...]:
    """Profile ids for a ``--hardware`` value: a GPU (``h200``: its datasheet and measured profiles) or
    one profile id (``h200-measured``). KeyError names what is known."""
    if name in GPUS:
        return GPUS[name]
    if name in HARDWARE:
        return (name,)
    known = ", ".join([*GPUS, *HARDWARE])
    raise KeyError(f"unknown hardware {name!r}; known: {known}")


def get_hardware(hardware: str | Hardware) -> Hardware:
    """A profile by id (``"h100-sxm"``, ``"h200-measured"``...), or the given one unchanged."""
    if isinstance(hardware, Hardware):
        return hardware
    try:
        return HARDWARE[hardware]
    except KeyError:
        raise KeyError(f"unknown hardware {hardware!r}; known: {', '.join(HARDWARE)}") from None
