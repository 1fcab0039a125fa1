"""Peak figures of the GPUs reports compare kernels against, each labelled with where it comes from.

Two profiles of the H100 SXM:

* ``h100-sxm``: NVIDIA's datasheet figures (dense, i.e. without structured sparsity).
* ``h100-sxm-measured``: what this workplace measured on its lent H100 on 2026-11-13 where it
  measured something (HBM bandwidth, bf16 matmul throughput); the other peaks are the datasheet's,
  and each figure says which it is.

Compute peaks are keyed by the unit that does the work: ``tensor.bfloat16``, ``tensor.float16``,
``tensor.tf32`` (float32 operands on tensor cores) and ``vector.float32`` (CUDA cores, non-tensor).
"""

from __future__ import annotations

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

HARDWARE: Mapping[str, Hardware] = MappingProxyType({h.id: h for h in (H100_SXM, H100_SXM_MEASURED)})
DEFAULT_HARDWARE = "h100-sxm"


def get_hardware(hardware: str | Hardware) -> Hardware:
    """A profile by id (``"h100-sxm"``, ``"h100-sxm-measured"``), or the given one unchanged."""
    if isinstance(hardware, Hardware):
        return hardware
    try:
        return HARDWARE[hardware]
    except KeyError:
        raise KeyError(f"unknown hardware {hardware!r}; known: {', '.join(HARDWARE)}") from None
