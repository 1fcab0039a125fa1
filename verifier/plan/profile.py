"""The report's ``static_profile``: what a Triton candidate would cost on the GPU target, estimated
without a GPU. Never a timing.

It joins two things the verifier already has: the ahead-of-time builds of the ``gpu_compile`` check
(registers, spills, shared memory, tensor-core instructions, with an occupancy estimate from
:mod:`verifier.plan.occupancy`), and, where the kernels ran in the interpreter, the traffic the
runner counted on the first call of each shape (:mod:`verifier.plan.traffic`) against the call's
compulsory bytes (every input and parameter read once, every output written once: the roofline's
memory floor).

The dict (stable; keys are only ever added)::

    {
      "estimate": True, "what": "static estimate ... never a timing", "target": "sm_90",
      "cannot_see": [str, ...],                       # what the figures leave out
      "builds": [{"kernel", "constexprs", "num_warps", "num_stages", "registers",
                  "spill_store_bytes", "spill_load_bytes", "stack_bytes", "shared_bytes",
                  "tensor_core_ops": {mnemonic: count}, "occupancy": {...} | None}, ...],
      "calls": [{"shape", "compulsory_bytes", "output_elements", "requested_bytes", "bytes_per_output",
                 "traffic_ratio", "sector_efficiency", "dot_flops", "launches",
                 "kernels": [{"kernel", "launches", "programs", "load_bytes", "load_sectors",
                              "store_bytes", "store_sectors", "atomic_bytes", "atomic_sectors",
                              "bytes", "sector_efficiency", "dot_flops", ...}]}, ...],
      "summary": {"spills": bool | None, "spill_bytes", "max_registers", "tensor_cores": bool | None,
                  "min_occupancy", "traffic_ratio", "sector_efficiency", "bytes_per_output", "dot_flops",
                  "shape"},
    }

``summary``'s traffic figures are the first profiled shape's; ``None`` where nothing was counted
(a GPU run: compiled kernels are not interpreted) or nothing was built.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from verifier.plan.occupancy import occupancy

WHAT = "static estimate from the sm_{arch} builds and the interpreter's access counts; never a timing"
CANNOT_SEE = [
    "caches: every requested byte is counted, whether L1/L2 would serve it or DRAM",
    "latency, instruction throughput and scheduling: nothing here is a time",
    "occupancy effects: the occupancy is what could be resident, not what it buys",
    "warps: sectors are counted per access of a whole program, a GPU splits it per warp",
    "traffic is counted only where the kernels ran in the interpreter (CPU runs), on the shapes run",
]
_BUILD_FIELDS = ("registers", "spill_store_bytes", "spill_load_bytes", "stack_bytes", "shared_bytes")
_KERNEL_INTS = (
    "launches",
    "programs",
    "load_bytes",
    "load_sectors",
    "load_accesses",
    "store_bytes",
    "store_sectors",
    "store_accesses",
    "atomic_bytes",
    "atomic_sectors",
    "bytes",
    "dot_flops",
)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def build_entry(build: dict[str, Any], arch: int) -> dict[str, Any]:
    """The profile's view of one ``gpu_compile`` build (as the compile worker described it)."""
    options = build.get("options") if isinstance(build.get("options"), dict) else {}
    warps = _int(options.get("num_warps")) or 4
    entry: dict[str, Any] = {
        "kernel": str(build.get("kernel") or build.get("name") or ""),
        "constexprs": build.get("constexprs") if isinstance(build.get("constexprs"), dict) else {},
        "num_warps": warps,
        "num_stages": _int(options.get("num_stages")) or 3,
    }
    for name in _BUILD_FIELDS:
        entry[name] = _int(build.get(name))
    ops = build.get("tensor_core_ops")
    entry["tensor_core_ops"] = {str(k): int(v) for k, v in ops.items()} if isinstance(ops, dict) else None
    entry["occupancy"] = occupancy(entry["registers"], entry["shared_bytes"], warps, arch)
    return entry


def call_entry(shape: str, traffic: dict[str, Any], compulsory_bytes: int, output_elements: int = 0) -> dict[str, Any]:
    """The profile's view of one counted call: the runner's counts against the compulsory bytes."""
    kernels = []
    for k in traffic.get("kernels", []) if isinstance(traffic.get("kernels"), list) else []:
        if not isinstance(k, dict):
            continue
        kernel = {"kernel": str(k.get("kernel", ""))[:200]}
        kernel.update({name: _int(k.get(name)) or 0 for name in _KERNEL_INTS})
        sectors = kernel["load_sectors"] + kernel["store_sectors"] + kernel["atomic_sectors"]
        kernel["sector_efficiency"] = round(kernel["bytes"] / (32 * sectors), 4) if sectors else None
        kernels.append(kernel)
    requested = sum(k["bytes"] for k in kernels)
    sectors = sum(k["load_sectors"] + k["store_sectors"] + k["atomic_sectors"] for k in kernels)
    return {
        "shape": shape,
        "compulsory_bytes": compulsory_bytes,
        "output_elements": output_elements,
        "requested_bytes": requested,
        "bytes_per_output": round(requested / output_elements, 2) if output_elements > 0 else None,
        "traffic_ratio": round(requested / compulsory_bytes, 4) if compulsory_bytes > 0 else None,
        "sector_efficiency": round(requested / (32 * sectors), 4) if sectors else None,
        "dot_flops": sum(k["dot_flops"] for k in kernels),
        "launches": sum(k["launches"] for k in kernels),
        "kernels": kernels,
    }


def _summary(builds: list[dict[str, Any]], calls: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [b for b in builds if b["registers"] is not None]
    spill_known = [b for b in builds if b["spill_store_bytes"] is not None and b["spill_load_bytes"] is not None]
    spill_bytes = sum(b["spill_store_bytes"] + b["spill_load_bytes"] for b in spill_known)
    tc_known = [b for b in builds if b["tensor_core_ops"] is not None]
    occupancies = [b["occupancy"]["occupancy"] for b in builds if b["occupancy"]]
    first = calls[0] if calls else None
    return {
        "spills": (spill_bytes > 0) if spill_known else None,
        "spill_bytes": spill_bytes if spill_known else None,
        "max_registers": max((b["registers"] for b in ok), default=None),
        "tensor_cores": any(b["tensor_core_ops"] for b in tc_known) if tc_known else None,
        "min_occupancy": min(occupancies, default=None),
        "traffic_ratio": first["traffic_ratio"] if first else None,
        "sector_efficiency": first["sector_efficiency"] if first else None,
        "bytes_per_output": first["bytes_per_output"] if first else None,
        "dot_flops": first["dot_flops"] if first else None,
        "shape": first["shape"] if first else None,
    }


def assemble(builds: Iterable[dict[str, Any]], calls: list[dict[str, Any]], arch: int) -> dict[str, Any]:
    """The ``static_profile`` dict from the compile worker's builds and :func:`call_entry` results."""
    entries = sorted(
        (build_entry(b, arch) for b in builds if b.get("ok")),
        key=lambda e: (e["kernel"], repr(sorted(e["constexprs"].items())), e["num_warps"]),
    )
    return {
        "estimate": True,
        "what": WHAT.format(arch=arch),
        "target": f"sm_{arch}",
        "cannot_see": list(CANNOT_SEE),
        "builds": entries,
        "calls": calls,
        "summary": _summary(entries, calls),
    }


def describe(profile: dict[str, Any]) -> list[str]:
    """A few human-readable lines (``kiln profile``, the task page)."""
    if not profile:
        return ["no static profile (not a Triton candidate, or it did not get as far as compiling)"]
    s = profile.get("summary", {})
    lines = [f"static profile for {profile.get('target')} (an estimate, never a timing)"]
    spills = s.get("spills")
    lines.append(
        "  spills: "
        + ("unknown" if spills is None else f"yes, {s.get('spill_bytes')} B" if spills else "none")
        + f"; max registers {s.get('max_registers')}; min occupancy {_pct(s.get('min_occupancy'))}"
        + "; tensor cores: "
        + {None: "unknown", True: "yes", False: "no"}[s.get("tensor_cores")]
    )
    for b in profile.get("builds", []):
        tc = " ".join(f"{k}x{v}" for k, v in sorted((b.get("tensor_core_ops") or {}).items())) or "no tensor cores"
        occ = b.get("occupancy") or {}
        lines.append(
            f"  {b['kernel']} ({b['num_warps']} warps): {b['registers']} regs, spills "
            f"{b['spill_store_bytes']}/{b['spill_load_bytes']} B, {b['shared_bytes']} B shared, {tc}, "
            f"occupancy {_pct(occ.get('occupancy'))} ({occ.get('limited_by', '?')})"
        )
    for c in profile.get("calls", []):
        lines.append(
            f"  shape {c['shape'] or 'as written'}: requested {c['requested_bytes']:,} B = "
            f"{_num(c['traffic_ratio'])}x the compulsory {c['compulsory_bytes']:,} B "
            f"({_num(c.get('bytes_per_output'))} B an output element); sector efficiency "
            f"{_pct(c['sector_efficiency'])}; tl.dot {c['dot_flops']:,} FLOPs in {c['launches']} launch(es)"
        )
    if not profile.get("calls"):
        lines.append("  traffic: not counted (the kernels did not run in the interpreter)")
    lines.append("  cannot see: " + "; ".join(profile.get("cannot_see", [])))
    return lines


def _pct(value: Any) -> str:
    return "?" if value is None else f"{100 * float(value):.0f}%"


def _num(value: Any) -> str:
    return "?" if value is None else f"{float(value):.2f}"
