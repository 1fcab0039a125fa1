"""Estimated occupancy of a compiled kernel on an NVIDIA target: resident blocks and warps per SM.

From the build's registers a thread, its shared memory a block and its warps a block, against the
target's per-SM limits (the CUDA occupancy calculator's rules: registers allocated per warp in
units of 256, 1 KiB of shared memory reserved per block from sm_80 on). An estimate of what may be
resident, not of speed: it says nothing of latency hiding, memory or instruction mix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SMLimits:
    """One streaming multiprocessor's limits."""

    max_warps: int
    max_blocks: int
    registers: int
    shared_bytes: int
    reserved_shared_per_block: int
    register_unit: int = 256


SM_LIMITS: dict[int, SMLimits] = {
    80: SMLimits(max_warps=64, max_blocks=32, registers=65536, shared_bytes=167936, reserved_shared_per_block=1024),
    86: SMLimits(max_warps=48, max_blocks=16, registers=65536, shared_bytes=102400, reserved_shared_per_block=1024),
    89: SMLimits(max_warps=48, max_blocks=24, registers=65536, shared_bytes=102400, reserved_shared_per_block=1024),
    90: SMLimits(max_warps=64, max_blocks=32, registers=65536, shared_bytes=233472, reserved_shared_per_block=1024),
}
"""Per-SM limits by compute capability (CUDA C Programming Guide, compute capabilities table)."""


def occupancy(registers: int | None, shared_bytes: int | None, num_warps: int, arch: int) -> dict[str, Any] | None:
    """``{"blocks_per_sm", "warps_per_sm", "occupancy", "limited_by"}`` for one build on ``sm_<arch>``;
    None when the target is not in :data:`SM_LIMITS` or the registers are not known."""
    limits = SM_LIMITS.get(arch)
    if limits is None or registers is None or num_warps <= 0:
        return None
    unit = limits.register_unit
    per_warp = -(-max(int(registers), 1) * 32 // unit) * unit
    bounds = {
        "warps": limits.max_warps // num_warps,
        "blocks": limits.max_blocks,
        "registers": (limits.registers // per_warp) // num_warps,
    }
    if shared_bytes:
        bounds["shared memory"] = limits.shared_bytes // (int(shared_bytes) + limits.reserved_shared_per_block)
    blocks = min(bounds.values())
    limited_by = min(bounds, key=lambda k: (bounds[k], k != "warps"))
    warps = blocks * num_warps
    return {
        "blocks_per_sm": blocks,
        "warps_per_sm": warps,
        "occupancy": round(warps / limits.max_warps, 4),
        "limited_by": limited_by,
    }
