"""What ``kiln compile`` and ``kiln pack`` run in a child process on a user's model (torch and kernelkiln only).

``python -m service.compile.model_child`` reads one JSON request on stdin and writes one JSON answer
on stdout. ``capture``: load the KernelBench-format source with the shape's constants, build the
model under a fixed seed, export and split its forward, write each group as a reference source and
count its FLOPs and bytes. ``check``: load a pack, patch a fresh model with it and compare its outputs
with the unpatched model's on fresh inputs. The user's model never runs in the ``kiln`` process itself.
"""

from __future__ import annotations

import json
import random
import sys
import types
from typing import Any

import torch


def load_model_module(source: str, overrides: dict[str, Any]) -> types.ModuleType:
    """The source as a module, its top-level constants replaced by ``overrides``."""
    module = types.ModuleType("kiln_compiled_model")
    module.__file__ = "<model>"
    exec(compile(source, "<model>", "exec"), module.__dict__)
    for name, value in overrides.items():
        if not hasattr(module, name):
            raise ValueError(f"--shape {name}=...: the model defines no top-level constant {name!r}")
        setattr(module, name, value)
    return module


def build(module: types.ModuleType, seed: int) -> tuple[torch.nn.Module, list[Any]]:
    """The model (eval mode) and one set of inputs, both drawn from ``seed``."""
    torch.manual_seed(seed)
    random.seed(seed)
    model = module.Model(*module.get_init_inputs()).eval()
    torch.manual_seed(seed + 1)
    return model, list(module.get_inputs())


def _flops(source: str) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    namespace: dict[str, Any] = {}
    exec(compile(source, "<group>", "exec"), namespace)
    model = namespace["Model"]().eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*namespace["get_inputs"]())
    return int(counter.get_total_flops())


def _element_bytes(dtype: str) -> int:
    return torch.empty((), dtype=getattr(torch, dtype)).element_size() if hasattr(torch, dtype) else 4


def capture(request: dict[str, Any]) -> dict[str, Any]:
    from kernelkiln.pack.group_source import group_source
    from kernelkiln.pack.groups import capture as export_forward
    from kernelkiln.pack.groups import split

    module = load_model_module(request["source"], request.get("overrides", {}))
    model, inputs = build(module, int(request.get("seed", 0)))
    cut = split(export_forward(model, inputs))
    groups = []
    flops_of: dict[str, int] = {}
    for group in cut.groups:
        entry: dict[str, Any] = {
            "key": group.key,
            "summary": group.summary(),
            "node": group.output.name,
            "inputs": [s.spec() for s in group.input_specs],
            "output": [list(group.output_shape), group.output_dtype],
            "skip_reason": group.skip_reason,
            "bytes": sum(_element_bytes(s.dtype) * _numel(s.shape) for s in group.input_specs)
            + _element_bytes(group.output_dtype) * _numel(group.output_shape),
        }
        if not group.skip_reason:
            entry["source"] = group_source(group)
            if group.key not in flops_of:
                try:
                    flops_of[group.key] = _flops(entry["source"])
                except Exception as e:  # the group's own reference does not run: it cannot be a task
                    entry["skip_reason"] = f"the group's reference does not run: {type(e).__name__}: {e}"[:300]
                    flops_of[group.key] = 0
        entry["flops"] = flops_of.get(group.key, 0)
        groups.append(entry)
    return {"groups": groups, "in_pytorch": [list(x) for x in cut.in_pytorch]}


def _numel(shape: Any) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def check(request: dict[str, Any]) -> dict[str, Any]:
    """Patched model vs the unpatched one on ``calls`` fresh inputs (the verifier's tolerance rules)."""
    import kernelkiln.pack

    # the pack first: a model whose imports import triton (torchvision does) would otherwise have
    # triton imported without TRITON_INTERPRET, and every CPU-verified kernel would fall back
    pack = kernelkiln.pack.load(request["pack"])
    module = load_model_module(request["source"], request.get("overrides", {}))
    seed = int(request.get("seed", 1234))
    model, _ = build(module, seed)
    reference, _ = build(module, seed)
    pack.apply(model)
    calls = []
    for call in range(int(request.get("calls", 2))):
        torch.manual_seed(seed + 100 + call)
        inputs = list(module.get_inputs())
        with torch.no_grad():  # a forward that draws random numbers (an LSTM's h0) gets the same draws in both
            torch.manual_seed(seed + 200 + call)
            want = reference(*inputs)
            torch.manual_seed(seed + 200 + call)
            got = model(*inputs)
        calls.append(_compare(want, got, call))
        degenerate = _degenerate(want)
        if degenerate:
            calls[-1]["degenerate"] = degenerate
    stats = pack.stats()
    return {
        "passed": all(c["passed"] for c in calls),
        "calls": calls,
        "stats": stats,
        "last_model_fallback": pack.last_model_fallback,
        "last_fallbacks": {k.name: k.last_fallback for k in pack.kernels.values() if k.last_fallback},
    }


def _degenerate(output: Any) -> str:
    """Why eager's output makes a match meaningless (empty when it does not): ~zero or constant."""
    for index, tensor in enumerate(output if isinstance(output, list | tuple) else [output]):
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        finite = tensor[torch.isfinite(tensor)]
        if finite.numel() and float(finite.abs().max()) < 1e-6:
            return f"output {index}: eager's output is ~zero (max |x| {float(finite.abs().max()):.2g})"
        if finite.numel() > 1 and bool((finite == finite.flatten()[0]).all()):
            return f"output {index}: every element of eager's output is equal"
    return ""


def _compare(want: Any, got: Any, call: int) -> dict[str, Any]:
    """The verifier's comparison (its default tolerance per dtype) of every output tensor."""
    from verifier.tolerance import compare, tolerance_for

    wants = want if isinstance(want, list | tuple) else [want]
    gots = got if isinstance(got, list | tuple) else [got]
    if len(wants) != len(gots):
        return {"call": call, "passed": False, "detail": f"{len(gots)} outputs, eager gives {len(wants)}"}
    details = []
    for index, (w, g) in enumerate(zip(wants, gots, strict=True)):
        if not isinstance(w, torch.Tensor):
            continue
        if not isinstance(g, torch.Tensor) or g.shape != w.shape or g.dtype != w.dtype:
            return {"call": call, "passed": False, "detail": f"output {index}: not a {tuple(w.shape)} {w.dtype} tensor"}
        result = compare(g, w, tolerance_for(w.dtype, {}))
        if not result.passed:
            return {"call": call, "passed": False, "detail": f"output {index}: {result.detail}"}
        details.append(result.detail)
    return {"call": call, "passed": True, "detail": "; ".join(details)[:500]}


def main() -> None:
    request = json.loads(sys.stdin.read())
    try:
        answer = {"capture": capture, "check": check}[request["action"]](request)
    except Exception as e:
        answer = {"error": f"{type(e).__name__}: {str(e)[:1500]}"}
    sys.stdout.write("\n" + json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
