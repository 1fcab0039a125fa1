"""A kernel group written as a KernelBench-format reference (``Model``, ``get_inputs``, ``get_init_inputs``).

Activations are forward arguments (``x<j>``); parameters, buffers and constants are the module's
state (``x<j>`` too, registered as parameters or buffers), initialised at random by the seed the
verifier sets, with positive values where the op needs them (a batch norm's running variance). The
forward is the group's ATen ops as ``torch.ops.aten`` calls, one line each. Needs only torch.
"""

from __future__ import annotations

import math
from typing import Any

from kernelkiln.pack.groups import Group, GroupInput

POSITIVE_ROLES = ("running_var", "var")


def _literal(value: Any) -> str:
    if isinstance(value, dict):
        if "ref" in value:
            return value["ref"] if value["ref"].startswith("v") else f"{value['ref']}"
        if "float" in value:
            number = float(value["float"])
            return f"float('{number}')" if math.isinf(number) or math.isnan(number) else repr(number)
        if "dtype" in value:
            return f"torch.{value['dtype']}"
        if "device" in value:
            return f"torch.device({value['device']!r})"
        if "torch" in value:
            return f"torch.{value['torch']}"
        return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


def _random(spec: GroupInput) -> str:
    shape = ", ".join(str(s) for s in spec.shape)
    dtype = f"torch.{spec.dtype}"
    if spec.dtype == "bool":
        return f"torch.rand({shape}{',' if len(spec.shape) == 1 else ''}) > 0.5" if spec.shape else "torch.tensor(True)"
    if not spec.dtype.startswith(("float", "bfloat", "complex")):
        return f"torch.randint(0, 4, ({shape}{',' if len(spec.shape) == 1 else ''}), dtype={dtype})"
    size = f"({shape},)" if len(spec.shape) == 1 else f"({shape})"
    if spec.role in POSITIVE_ROLES:
        return f"torch.rand({size}, dtype={dtype}) + 0.5"
    scale = 1.0
    if spec.kind == "parameter" and len(spec.shape) >= 2:
        scale = 1.0 / math.sqrt(max(1, math.prod(spec.shape[1:])))
    text = f"torch.randn({size}, dtype={dtype})"
    return text if scale == 1.0 else f"{text} * {scale:.6g}"


def group_source(group: Group) -> str:
    """The group as a KernelBench-format reference (raises ``ValueError`` when it has a skip reason).

    A function of the group's key alone (nothing names the model it came from): the same group in two
    models is one task with one source, verified once."""
    if group.skip_reason:
        raise ValueError(group.skip_reason)
    state = [(j, s) for j, s in enumerate(group.input_specs) if s.kind != "input"]
    args = [(j, s) for j, s in enumerate(group.input_specs) if s.kind == "input"]
    lines = [
        f'"""Kernel group {group.summary()} (key {group.key[:16]}).',
        "",
        "Written by kiln compile from a model's exported forward; the shapes are the model's.",
        '"""',
        "",
        "import torch",
        "import torch.nn as nn",
        "",
        "",
        "class Model(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    for j, spec in state:
        value = _random(spec)
        if spec.kind == "parameter" and spec.dtype.startswith(("float", "bfloat")):
            lines.append(f"        self.x{j} = nn.Parameter({value})")
        else:
            lines.append(f"        self.register_buffer('x{j}', {value})")
    if not state:
        lines.append("        pass")
    lines += ["", f"    def forward(self, {', '.join(f'x{j}' for j, _ in args)}):"]
    for j, _ in state:
        lines.append(f"        x{j} = self.x{j}")
    for i, (target, op_args, op_kwargs) in enumerate(group.ops):
        call = ", ".join([_literal(a) for a in op_args] + [f"{k}={_literal(v)}" for k, v in op_kwargs.items()])
        lines.append(f"        v{i} = torch.ops.{target}({call})")
    lines += [f"        return v{len(group.ops) - 1}", "", ""]
    inputs = ", ".join(_random(s) for _, s in args)
    lines += [
        "def get_inputs():",
        f"    return [{inputs}]",
        "",
        "",
        "def get_init_inputs():",
        "    return []",
        "",
    ]
    return "\n".join(lines)
