"""Hand-made packs for the runtime tests: each group's "kernel" is written here, not generated."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from kernelkiln.pack.group_source import group_source
from kernelkiln.pack.groups import Group, capture, split
from service.compile.model_child import build, load_model_module

MODELS = Path(__file__).parent / "models"

EAGER_KERNEL = "\n\nclass ModelNew(Model):\n    pass\n"
"""A "kernel" that is the group's own PyTorch ops: what the runtime runs is then easy to predict."""

TRITON_RELU = """

import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    x = tl.load(x_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, tl.maximum(x, 0.0), mask=mask)


class ModelNew(Model):
    def forward(self, x0):
        out = torch.empty_like(x0)
        relu_kernel[(triton.cdiv(x0.numel(), 64),)](x0, out, x0.numel(), BLOCK=64)
        return out
"""


def model_and_inputs(name: str, seed: int = 0) -> tuple[torch.nn.Module, list[Any], str]:
    source = (MODELS / f"{name}.py").read_text()
    model, inputs = build(load_model_module(source, {}), seed)
    return model, inputs, source


def groups_of(name: str) -> list[Group]:
    model, inputs, _ = model_and_inputs(name)
    return split(capture(model, inputs)).groups


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_pack(
    directory: Path, groups: list[Group], kernel_for: Callable[[Group], str | None], device: str = "cpu"
) -> Path:
    """A pack whose kernel for each group is ``group source + kernel_for(group)`` (None: no kernel)."""
    (directory / "kernels").mkdir(parents=True, exist_ok=True)
    (directory / "groups").mkdir(parents=True, exist_ok=True)
    kernels = []
    for group in groups:
        extra = kernel_for(group)
        if extra is None or any(k["key"] == group.key for k in kernels):
            continue
        name = f"g{len(kernels)}_{group.summary().replace('+', '_')}"
        source = group_source(group)
        kernel = source + extra
        (directory / f"kernels/{name}.py").write_text(kernel)
        (directory / f"groups/{name}.py").write_text(source)
        kernels.append(
            {
                "name": name,
                "key": group.key,
                "device": device,
                "inputs": [s.spec() for s in group.input_specs],
                "kernel_file": f"kernels/{name}.py",
                "kernel_sha256": _sha(kernel),
                "group_file": f"groups/{name}.py",
                "group_sha256": _sha(source),
            }
        )
    (directory / "manifest.json").write_text(json.dumps({"format": 1, "name": "test", "kernels": kernels}))
    return directory


APPLY_SCRIPT = """
import json, sys, torch
if sys.argv[3] == "triton-first":
    import triton.language
import kernelkiln.pack
pack = kernelkiln.pack.load(sys.argv[1])
from tests.compile.packs import model_and_inputs
model, inputs, _ = model_and_inputs(sys.argv[2], seed=7)
with torch.no_grad():
    want = model(*inputs)
    pack.apply(model)
    got = model(*inputs)
why = {k.name: k.last_fallback for k in pack.kernels.values() if k.last_fallback}
close = bool(torch.allclose(got, want, atol=1e-2, rtol=1e-2))
print(json.dumps({"close": close, **pack.stats(), "why": " ".join(why.values())}))
"""


def apply_in_fresh_process(pack_dir: Path, model: str, *, triton_first: bool = False) -> dict[str, Any]:
    """Load the pack in a new interpreter (no TRITON_INTERPRET set), patch ``model``, compare with eager:
    ``{"close", "kernel_calls", "fallback_calls", ..., "why"}``. With ``triton_first`` triton is imported
    before the pack is loaded."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"} | {"PYTHONPATH": str(root)}
    order = "triton-first" if triton_first else "pack-first"
    done = subprocess.run(
        [sys.executable, "-c", APPLY_SCRIPT, str(pack_dir), model, order],
        capture_output=True, text=True, env=env, cwd=root, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
