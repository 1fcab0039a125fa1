"""One pack kernel as a ``torch.library`` custom op, with guards and the eager group as its fallback.

The op ``kernelkiln::k_<key prefix>`` takes the group's inputs (activations, then its parameters and
buffers, in the group's order) as one list. It runs the verified candidate's ``ModelNew`` (its launch
code and ``@triton.jit`` kernels, exactly the file the verifier accepted) only where it was verified:
the same shapes and dtypes, tensors on the device type it was verified on. Anything else runs the
group's reference ``Model`` (the same ATen ops the model would have run). Both are called with
``torch.func.functional_call`` on the live tensors, so a pack never copies a model's weights.
Needs only torch and triton.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import threading
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from kernelkiln.pack.groups import GroupInput

_OPS: dict[str, PackKernel] = {}
"""Op name -> the kernel it runs now (a pack loaded again takes the name over)."""
_DEFINED: set[str] = set()
_LOCK = threading.Lock()


InputSpec = GroupInput
"""A kernel's input as the pack's manifest lists it: the group input (kind, shape, dtype, role) it was
verified with."""


@contextmanager
def _interpreter(on: bool):
    """Triton's interpreter on while a CPU-verified candidate's ``@triton.jit`` functions are created and
    launched (its kernels run in the interpreter, where they were verified): the environment variable
    and Triton's knob, which a process may have set explicitly (it then wins over the variable)."""
    if not on:
        yield
        return
    from triton import knobs

    old_env = os.environ.get("TRITON_INTERPRET")
    old_knob = knobs.runtime.__dict__.get("interpret", _UNSET)
    knobs.runtime.interpret = True
    os.environ["TRITON_INTERPRET"] = "1"
    try:
        yield
    finally:
        if old_knob is _UNSET:
            knobs.runtime.__dict__.pop("interpret", None)
        else:
            knobs.runtime.__dict__["interpret"] = old_knob
        if old_env is None:
            os.environ.pop("TRITON_INTERPRET", None)
        else:
            os.environ["TRITON_INTERPRET"] = old_env


_UNSET = object()


def _imports_triton(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    return any(name.split(".")[0] == "triton" for name in names)


def interpreter_problem() -> str:
    """Empty when Triton's interpreter can run kernels here: ``triton.language`` must have been imported
    with ``TRITON_INTERPRET=1`` (its own ``@jit`` functions are then interpreted). ``load`` sets the
    variable when triton is not imported yet; a process that imported triton without it cannot run
    CPU-verified kernels, which then fall back (never run half-interpreted)."""
    import triton.language.standard as standard

    if type(standard.sigmoid).__name__ == "InterpretedFunction":
        return ""
    return (
        "triton was imported without TRITON_INTERPRET=1, so this process cannot run kernels verified on a "
        "CPU (Triton's interpreter): load the pack before importing triton, or set TRITON_INTERPRET=1"
    )


def _load_module(path: Path, name: str) -> types.ModuleType:
    """Import ``path`` as module ``name`` (from its file: ``@triton.jit`` reads its functions' source)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class PackKernel:
    """A verified kernel of a pack: where it may run, what it runs, and its call counts."""

    name: str
    key: str
    device: str
    """The device type it was verified on (``cpu``: Triton's interpreter; ``cuda``)."""
    inputs: list[GroupInput]
    kernel_file: Path
    group_file: Path
    kernel_calls: int = 0
    fallback_calls: int = 0
    last_fallback: str = ""
    unavailable: str = ""
    interpreted: bool = False
    """Its kernels run in Triton's interpreter (verified on a CPU)."""
    """Why the kernel cannot run in this process at all (empty: it can)."""
    _fast: Any = field(default=None, repr=False)
    _eager: Any = field(default=None, repr=False)

    @property
    def op_name(self) -> str:
        return f"k_{self.key[:16]}"

    def build(self) -> None:
        """Import the group reference and the candidate, and register the op (once per process)."""
        group = _load_module(self.group_file, f"kernelkiln_group_{self.op_name}")
        self._eager = group.Model(*group.get_init_inputs()).eval()
        interpreted = self.device == "cpu" and _imports_triton(self.kernel_file)
        self.interpreted = interpreted
        self.unavailable = interpreter_problem() if interpreted else ""
        if not self.unavailable:
            with _interpreter(interpreted):
                candidate = _load_module(self.kernel_file, f"kernelkiln_kernel_{self.op_name}")
            self._fast = candidate.ModelNew(*group.get_init_inputs()).eval()
        with _LOCK:
            _OPS[self.op_name] = self
            if self.op_name not in _DEFINED:
                _define(self.op_name)
                _DEFINED.add(self.op_name)

    # -- guards ---------------------------------------------------------------------------------
    def why_not(self, args: list[torch.Tensor]) -> str:
        """Empty when the verified kernel may run on ``args``; else why it falls back."""
        if self.unavailable:
            return self.unavailable
        if len(args) != len(self.inputs):
            return f"{len(args)} inputs, verified with {len(self.inputs)}"
        for j, (arg, spec) in enumerate(zip(args, self.inputs, strict=True)):
            if tuple(arg.shape) != spec.shape:
                return f"input {j}: shape {tuple(arg.shape)}, verified {spec.shape}"
            if str(arg.dtype).replace("torch.", "") != spec.dtype:
                return f"input {j}: dtype {arg.dtype}, verified {spec.dtype}"
            if arg.device.type != self.device:
                return f"input {j}: on {arg.device.type}, verified on {self.device}"
        return ""

    # gradients: the op has no backward; a patched forward never calls it while gradients are
    # enabled for the model's parameters (``runtime.Pack._plan_for``)

    def _split(self, args: list[torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        state = {f"x{j}": a for j, (a, s) in enumerate(zip(args, self.inputs, strict=True)) if s.kind != "input"}
        acts = [a for a, s in zip(args, self.inputs, strict=True) if s.kind == "input"]
        return state, acts

    def eager(self, args: list[torch.Tensor]) -> torch.Tensor:
        state, acts = self._split(args)
        return torch.func.functional_call(self._eager, state, tuple(acts))

    def __call__(self, args: list[torch.Tensor]) -> torch.Tensor:
        reason = self.why_not(args)
        if reason:
            self.fallback_calls += 1
            self.last_fallback = reason
            return self.eager(args)
        self.kernel_calls += 1
        state, acts = self._split(args)
        acts = [a.contiguous() for a in acts]  # verified on contiguous inputs
        state = {k: v.contiguous() for k, v in state.items()}
        with torch.no_grad(), _interpreter(self.interpreted):  # Triton reads the knob at launch too
            return torch.func.functional_call(self._fast, state, tuple(acts))

    def stats(self) -> dict[str, int]:
        return {"kernel_calls": self.kernel_calls, "fallback_calls": self.fallback_calls}


def _define(op_name: str) -> None:
    @torch.library.custom_op(f"kernelkiln::{op_name}", mutates_args=())
    def run(args: list[torch.Tensor]) -> torch.Tensor:
        out = _OPS[op_name](list(args))
        # a custom op may not return one of its inputs or a view of one
        return (
            out.clone()
            if any(out.untyped_storage().data_ptr() == a.untyped_storage().data_ptr() for a in args)
            else out
        )

    @run.register_fake
    def _(args: list[torch.Tensor]) -> torch.Tensor:
        return _OPS[op_name].eager(list(args))


def call(op_name: str, args: list[torch.Tensor]) -> torch.Tensor:
    """Call the registered op (what a patched forward runs for a group)."""
    return getattr(torch.ops.kernelkiln, op_name)(args)
