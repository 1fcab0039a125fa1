"""A model's forward, captured with ``torch.export``, split into kernel groups.

``capture(model, inputs)`` exports the forward (non-strict, eval mode, functional ATen ops) and
``split(exported)`` cuts its graph into groups: an *anchor* op (a convolution, a GEMM, a pooling, a
norm, a reduction, a softmax...) with the pointwise ops that follow it and read only its values or
values computed before it (bias, batch norm in eval mode, activation, residual add: the epilogues the
template compiler fuses), or a run of pointwise ops on its own. A group has one output. Views
(``view``, ``transpose``, ``split``...) are no kernel: they stay in PyTorch between groups.

A group's ``key`` hashes its op structure, its inputs' kinds, shapes and dtypes: two groups with the
same key compute the same function of their inputs, so one verified kernel serves both. The same code
runs in ``kiln compile`` (to make tasks) and in the pack's runtime (to find what a pack can replace),
so the keys agree. Needs only torch.
"""

from __future__ import annotations

import hashlib
import json
import operator
from dataclasses import dataclass, field
from typing import Any

import torch

VIEW_OPS = frozenset(
    {
        "view", "_unsafe_view", "reshape", "transpose", "permute", "t", "expand", "unsqueeze", "squeeze",
        "slice", "select", "split", "split_with_sizes", "chunk", "unbind", "alias", "flatten", "detach",
        "as_strided", "narrow", "diagonal", "unflatten", "view_as", "expand_as", "lift_fresh_copy",
    }
)  # fmt: skip
POINTWISE_OPS = frozenset(
    {
        "relu", "relu6", "hardtanh", "gelu", "silu", "sigmoid", "tanh", "add", "sub", "rsub", "mul", "div",
        "neg", "exp", "log", "pow", "sqrt", "rsqrt", "clamp", "clamp_min", "clamp_max", "where", "masked_fill",
        "eq", "ne", "lt", "gt", "le", "ge", "abs", "maximum", "minimum", "clone", "hardswish", "hardsigmoid",
        "leaky_relu", "elu", "selu", "softplus", "mish", "erf", "reciprocal", "_to_copy", "to", "batch_norm",
        "dropout", "sign", "square", "logical_not", "bitwise_not", "contiguous",
    }
)  # fmt: skip
"""Ops that join a group after its anchor (``batch_norm`` in eval mode is a per-channel affine map)."""


class CaptureError(RuntimeError):
    """The forward could not be exported."""


@dataclass(frozen=True)
class GroupInput:
    kind: str
    """``input`` (an activation), ``parameter``, ``buffer`` or ``constant`` (a tensor the forward made)."""
    shape: tuple[int, ...]
    dtype: str
    role: str = ""
    """For a parameter or buffer: the last part of its name (``weight``, ``running_var``...)."""

    def spec(self) -> list[Any]:
        return [self.kind, list(self.shape), self.dtype, self.role]


@dataclass
class Group:
    """One kernel group of a captured forward: its nodes (in order), external inputs and output."""

    nodes: list[Any]
    inputs: list[Any]
    """The external values it reads (graph nodes), in order of first use."""
    input_specs: list[GroupInput]
    ops: list[list[Any]]
    """Canonical form of each node: target and arguments, values named ``v<i>`` (own) or ``x<j>`` (input)."""
    output_shape: tuple[int, ...]
    output_dtype: str
    key: str = ""
    skip_reason: str = ""
    """Why it cannot be a kernel task (an argument kind the source writer does not know...); empty if it can."""
    fqns: list[str] = field(default_factory=list)
    """Per input: the parameter or buffer's name in the model ('' for activations)."""

    @property
    def output(self) -> Any:
        return self.nodes[-1]

    def summary(self) -> str:
        """``conv2d+batch_norm+relu``: the op names, in order (repeats once)."""
        names: list[str] = []
        for op in self.ops:
            name = op[0].split(".")[1] if op[0].startswith("aten.") else op[0]
            if not names or names[-1] != name:
                names.append(name)
        return "+".join(names)


def op_name(node: Any) -> str:
    """The ATen op's base name (``conv2d`` for ``aten.conv2d.default``), or the callable's name."""
    target = node.target
    if target is operator.getitem:
        return "getitem"
    packet = getattr(target, "_opname", None) or getattr(target, "__name__", str(target))
    return str(packet).split(".")[0]


def _is_tensor_node(node: Any) -> bool:
    return isinstance(node.meta.get("val"), torch.Tensor)


def kind_of(node: Any) -> str:
    """``view``, ``pointwise``, ``anchor`` or ``other`` (no single tensor output)."""
    name = op_name(node)
    if name == "getitem" or name in VIEW_OPS:
        return "view"
    if not _is_tensor_node(node):
        return "other"
    if name == "batch_norm" and _bn_training(node):
        return "anchor"
    if name == "dropout" and len(node.args) > 2 and node.args[2]:
        return "other"
    return "pointwise" if name in POINTWISE_OPS else "anchor"


def _bn_training(node: Any) -> bool:
    args = list(node.args)
    return bool(args[5]) if len(args) > 5 else bool(node.kwargs.get("training", False))


def capture(model: torch.nn.Module, inputs: list[Any]) -> Any:
    """``torch.export`` of ``model``'s forward on ``inputs`` (eval mode, no grad), as functional ATen ops."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            exported = torch.export.export(model, tuple(inputs), strict=False)
        functional = exported.run_decompositions({})
    except Exception as e:  # export raises many kinds of errors; all mean "not capturable"
        raise CaptureError(f"torch.export failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}") from None
    finally:
        model.train(was_training)
    _fold_batch_norms(functional.graph)
    return functional


def _fold_batch_norms(graph: Any) -> None:
    """``getitem(_native_batch_norm_legit_no_training(...), 0)`` back to one ``batch_norm`` (eval) node:
    functionalization splits it into a three-output op whose statistics outputs eval mode never reads."""
    target = torch.ops.aten._native_batch_norm_legit_no_training.default
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target is not target:
            continue
        users = list(node.users)
        if len(users) != 1 or users[0].target is not operator.getitem or users[0].args[1] != 0:
            continue
        x, weight, bias, mean, var, momentum, eps = node.args
        item = users[0]
        with graph.inserting_before(item):
            folded = graph.call_function(
                torch.ops.aten.batch_norm.default, (x, weight, bias, mean, var, False, momentum, eps, False)
            )
        folded.meta.update(item.meta)
        item.replace_all_uses_with(folded)
        graph.erase_node(item)
        graph.erase_node(node)


def _placeholder_kinds(exported: Any) -> dict[str, tuple[str, str]]:
    """Placeholder name -> (kind, fully qualified name) for parameters, buffers and constants."""
    out: dict[str, tuple[str, str]] = {}
    for spec in exported.graph_signature.input_specs:
        kind = spec.kind.name.lower()
        name = getattr(spec.arg, "name", None)
        if name is None:
            continue
        if kind == "parameter":
            out[name] = ("parameter", spec.target or "")
        elif kind == "buffer":
            out[name] = ("buffer", spec.target or "")
        elif kind in ("constant_tensor", "custom_obj"):
            out[name] = ("constant", spec.target or "")
        else:
            out[name] = ("input", "")
    return out


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def _canonical(value: Any, names: dict[Any, str]) -> Any:
    if isinstance(value, torch.fx.Node):
        return {"ref": names[value]}
    if isinstance(value, list | tuple):
        return [_canonical(v, names) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, torch.dtype):
        return {"dtype": _dtype_name(value)}
    if isinstance(value, torch.device):
        return {"device": value.type}
    if isinstance(value, torch.memory_format | torch.layout):
        return {"torch": str(value).replace("torch.", "")}
    raise TypeError(f"argument of type {type(value).__name__}")


def _descendants_of(nodes: set[Any]) -> set[Any]:
    seen: set[Any] = set()
    stack = list(nodes)
    while stack:
        for user in stack.pop().users:
            if user not in seen:
                seen.add(user)
                stack.append(user)
    return seen


def _outputs(members: list[Any]) -> list[Any]:
    inside = set(members)
    return [n for n in members if any(u not in inside for u in n.users) or not n.users]


def _grow(start: Any, order: dict[Any, int], assigned: set[Any]) -> list[Any]:
    """``start`` and the pointwise ops after it that only read its group or earlier values; the longest
    prefix (in graph order) with one output."""
    members = [start]
    inside = {start}
    frontier = sorted((u for u in start.users if u not in assigned), key=order.__getitem__)
    candidates: list[Any] = []
    pending = list(frontier)
    seen = set(pending)
    while pending:
        node = pending.pop(0)
        if kind_of(node) != "pointwise":
            continue
        candidates.append(node)
        for user in node.users:
            if user not in seen and user not in assigned:
                seen.add(user)
                pending.append(user)
        pending.sort(key=order.__getitem__)
    candidates.sort(key=order.__getitem__)
    best = list(members)
    for node in candidates:
        operands = [a for a in node.all_input_nodes]
        if not any(a in inside for a in operands):
            continue
        outside = [a for a in operands if a not in inside]
        if _descendants_of(inside) & set(outside):
            continue  # it reads a value computed from the group outside it: the group would need two outputs
        members.append(node)
        inside.add(node)
        if len(_outputs(members)) == 1 and _outputs(members)[0] is node:
            best = list(members)
    return best


def _make_group(members: list[Any], kinds: dict[str, tuple[str, str]]) -> Group:
    names: dict[Any, str] = {}
    inputs: list[Any] = []
    specs: list[GroupInput] = []
    fqns: list[str] = []
    inside = set(members)
    for node in members:
        for a in node.all_input_nodes:
            if a in inside or a in names:
                continue
            names[a] = f"x{len(inputs)}"
            inputs.append(a)
            val = a.meta.get("val")
            kind, fqn = kinds.get(a.name, ("input", "")) if a.op == "placeholder" else ("input", "")
            shape = tuple(int(s) for s in val.shape) if isinstance(val, torch.Tensor) else ()
            dtype = _dtype_name(val.dtype) if isinstance(val, torch.Tensor) else "?"
            specs.append(GroupInput(kind, shape, dtype, fqn.rsplit(".", 1)[-1] if fqn else ""))
            fqns.append(fqn)
        names[node] = f"v{members.index(node)}"
    ops: list[list[Any]] = []
    skip = ""
    for node in members:
        try:
            kwargs = {k: _canonical(v, names) for k, v in node.kwargs.items()}
            ops.append([str(node.target), _canonical(list(node.args), names), kwargs])
        except TypeError as e:
            ops.append([str(node.target), None, None])
            skip = skip or f"{op_name(node)}: {e} (no source for it)"
    if any(not isinstance(n.meta.get("val"), torch.Tensor) for n in inputs):
        skip = skip or "an input is not a tensor"
    out = members[-1].meta["val"]
    group = Group(
        nodes=members,
        inputs=inputs,
        input_specs=specs,
        ops=ops,
        output_shape=tuple(int(s) for s in out.shape),
        output_dtype=_dtype_name(out.dtype),
        skip_reason=skip,
        fqns=fqns,
    )
    group.key = group_key(group)
    return group


def group_key(group: Group) -> str:
    """sha256 of the group's op structure and its inputs' kinds, shapes and dtypes."""
    blob = json.dumps(
        {"ops": group.ops, "inputs": [s.spec() for s in group.input_specs], "out": [list(group.output_shape)]},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Split:
    """The groups of a captured forward and the ops that stayed in PyTorch (with why)."""

    exported: Any
    groups: list[Group]
    in_pytorch: list[tuple[str, str]]
    """(node name, reason) for each op that is in no group."""


def split(exported: Any) -> Split:
    """Cut the exported graph into groups (see the module docstring)."""
    graph = exported.graph
    order = {n: i for i, n in enumerate(graph.nodes)}
    kinds = _placeholder_kinds(exported)
    assigned: set[Any] = set()
    groups: list[Group] = []
    user_inputs = {n for n in graph.nodes if n.op == "placeholder" and kinds.get(n.name, ("input", ""))[0] == "input"}
    dynamic = _descendants_of(user_inputs)
    in_pytorch: list[tuple[str, str]] = []
    for node in graph.nodes:
        if node.op != "call_function" or node in assigned:
            continue
        kind = kind_of(node)
        if kind == "view":
            in_pytorch.append((node.name, f"{op_name(node)}: a view, no kernel needed"))
            continue
        if kind == "other":
            in_pytorch.append((node.name, f"{op_name(node)}: no single tensor output"))
            continue
        members = _grow(node, order, assigned)
        assigned.update(members)
        group = _make_group(members, kinds)
        if group.output not in dynamic and not group.skip_reason:
            group.skip_reason = "reads only parameters and buffers (a constant of the model): stays in PyTorch"
        groups.append(group)
    return Split(exported, groups, in_pytorch)
