"""Training candidates from autograd's joint graph: the backward lowered like any forward.

``verifier.trace_reference(..., joint=True)`` traces one training call of the reference in the sandbox:
``make_fx`` over the forward and ``torch.autograd.grad`` (the backward's composite ops decomposed to
pointwise ops, reductions and matrix products), run under the aten tracer. Its outputs are the forward's
output and one gradient per differentiated input and parameter.

This module relabels that trace so parameters (and buffers) are arguments of a
``torch.autograd.Function`` and each ``grad_output`` is an argument of its ``backward``, then lowers
the forward's output and every gradient with the forward's own machinery (``recognise.Lowering``,
``optimise``, ``emit._Forward``): each gradient is a program whose leaves are the saved tensors (the
Function's inputs and parameters) and the ``grad_output`` s; intermediates of the forward that a gradient
needs are recomputed by its kernels (what AOT autograd's partitioner calls rematerialisation), so only
the inputs are saved. One candidate results: ``ModelNew.forward`` applies the Function, whose
``forward`` launches the forward's kernels and whose ``backward`` launches every gradient's.

Anything a program cannot lower (an op without a template, an unused gradient: autograd's zeros are a
tensor created inside, several outputs) raises ``NoTemplate`` naming it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from agents.template.emit import _Forward, module_prelude, param_code
from agents.template.ir import Expr, Leaf, Node, NodeE, NodeRef, Program
from agents.template.lowering.common import NoTemplate, tensor_desc
from agents.template.model_source import ModelSource
from agents.template.recognise import Lowering

__all__ = ["JointPlan", "joint_candidate", "plan_joint"]

FUNCTION = "JointTraining"
_NAME = re.compile(r"[^A-Za-z0-9_]")


@dataclasses.dataclass
class JointPlan:
    forward: Program
    gradients: list[Program]
    """One per differentiated input (in order), then per parameter."""
    arg_names: list[str]
    """The Function's forward arguments: the inputs, the parameters, the buffers."""
    arg_code: list[str]
    """What ``ModelNew.forward`` passes for each (an input's name, ``self.linear.weight``...)."""
    grad_names: list[str]
    """The backward's ``grad_output`` arguments."""
    grad_args: list[int]
    """For each gradient program, the Function argument it is the gradient of."""
    inputs: int
    """How many of ``arg_names`` are the forward's inputs."""
    numbers: tuple[int, ...] = ()
    """The inputs that are numbers, not tensors (kept on ``ctx``, no gradient)."""

    def describe(self) -> str:
        grads = "; ".join(
            f"d{self.arg_names[a]}: {g.describe()}" for a, g in zip(self.grad_args, self.gradients, strict=True)
        )
        return f"forward: {self.forward.describe()}; backward: {grads}"


def _relabel(value: Any, labels: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _relabel(v, labels) for k, v in value.items()}
        if isinstance(value.get("tensor"), str) and value["tensor"] in labels:
            out["tensor"] = labels[value["tensor"]]
        return out
    if isinstance(value, list):
        return [_relabel(v, labels) for v in value]
    return value


def _param_labels(ops: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            label = value.get("tensor")
            if isinstance(label, str) and label.startswith("param:") and label not in seen:
                seen.append(label)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(ops)
    return seen


def _shift(value: Any, offset: int) -> Any:
    """``value`` with every node id moved by ``offset`` (NodeRef, NodeE; Leaves hold none)."""
    if isinstance(value, NodeRef):
        return NodeRef(value.node + offset)
    if isinstance(value, NodeE):
        return NodeE(value.node + offset)
    if isinstance(value, Leaf) or value is None or (callable(value) and not isinstance(value, Expr)):
        return value
    if isinstance(value, list):
        return [_shift(v, offset) for v in value]
    if isinstance(value, tuple):
        return tuple(_shift(v, offset) for v in value)
    if isinstance(value, dict):
        return {k: _shift(v, offset) for k, v in value.items()}
    if isinstance(value, Expr) and dataclasses.is_dataclass(value):
        changes = {f.name: _shift(getattr(value, f.name), offset) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def _renumber(program: Program, offset: int) -> None:
    """Move ``program``'s node ids by ``offset`` so programs emitted in one source do not share names."""
    if not offset:
        return
    for node in program.nodes:
        node.id += offset
        node.operands = _shift(node.operands, offset)
        node.attrs = _shift(node.attrs, offset)
        node.epilogue = _shift(node.epilogue, offset)
    program.output += offset


def plan_joint(trace: Any, input_names: list[str]) -> JointPlan:
    """Lower a joint trace (``trace.joint`` set) to a forward program and one program per gradient."""
    joint = trace.joint
    if not joint:
        raise NoTemplate("the trace holds no joint forward/backward graph")
    if trace.truncated:
        raise NoTemplate("the joint trace was truncated (too many ops)")
    n_in = len(trace.inputs)
    if any(not tensor_desc(d) and not isinstance(d, int | float) for d in trace.inputs):
        raise NoTemplate("the joint template takes tensor and number inputs only")
    if joint["outputs"] != 1:
        raise NoTemplate("the forward returns several values; the joint template returns one tensor")
    params = [f"param:{name}" for name in joint["parameters"]]
    buffers = [label for label in _param_labels(trace.ops) if label not in params]
    labels = {label: f"input{n_in + j}" for j, label in enumerate(params + buffers)}
    n_args = n_in + len(params) + len(buffers)
    labels.update({f"grad_output{k}": f"input{n_args + k}" for k in range(len(joint["grad_outputs"]))})
    described = [{**trace.parameters.get(label.split(":", 1)[1], {}), "tensor": label} for label in params + buffers]
    if any(not tensor_desc(d) or d.get("stride") is None for d in described):
        raise NoTemplate("a parameter or buffer is not a dense tensor")
    inputs = list(trace.inputs) + described + list(joint["grad_outputs"])
    ops = _relabel(trace.ops, labels)
    outputs = _relabel(trace.outputs, labels)

    arg_names = list(input_names)
    arg_code = list(input_names)
    for label in params + buffers:
        name = label.split(":", 1)[1]
        arg_names.append("p_" + _NAME.sub("_", name))
        arg_code.append(param_code(name))
    grad_names = [f"grad_out{k}" for k in range(len(joint["grad_outputs"]))]
    names = arg_names + grad_names

    def lower(output: Any, what: str, grads: bool = True) -> Program:
        if not tensor_desc(output):
            raise NoTemplate(f"{what} is not a tensor (autograd calls it unused)")
        seen = inputs if grads else inputs[:n_args]  # the forward's output takes no grad_output's dtype
        view = dataclasses.replace(trace, ops=ops, inputs=seen, parameters={}, outputs=[output], joint=None)
        try:
            return Lowering(view, names).program()
        except NoTemplate as e:
            raise NoTemplate(f"{what}: {e}") from None

    forward = lower(outputs[0], "the forward", grads=False)
    grad_args = [*joint["grad_inputs"], *range(n_in, n_in + len(params))]
    gradients = []
    for position, output in zip(grad_args, outputs[1:], strict=True):
        gradients.append(lower(output, f"the gradient of {arg_names[position]}"))
    offset = 0
    for program in [forward, *gradients]:
        _renumber(program, offset)
        offset = max((n.id for n in program.nodes), default=offset) + 1
    numbers = tuple(i for i, d in enumerate(trace.inputs) if not tensor_desc(d))
    return JointPlan(forward, gradients, arg_names, arg_code, grad_names, grad_args, n_in, numbers)


class _Gradient(_Forward):
    """A gradient's program: an elementwise output takes its argument's shape (autograd's ``expand`` of a
    ``grad_output`` is a broadcast the elementwise kernel does; the shape it broadcasts to is the
    argument's)."""

    def __init__(self, program: Program, args: list[str], profile: dict[str, dict[str, Any]], shape: str) -> None:
        super().__init__(program, args, profile)
        self.shape = shape

    def emit_node(self, node: Node, alloc: str, shape_code: str | None = None) -> None:
        if node.id == self.program.output and node.kind == "ewise" and shape_code is None:
            shape_code = self.shape
        super().emit_node(node, alloc, shape_code)


def _body(
    program: Program, args: list[str], profile: dict[str, dict[str, Any]], shape: str | None = None
) -> tuple[list[str], list[str]]:
    builder = _Forward(program, args, profile) if shape is None else _Gradient(program, args, profile, shape)
    builder.build()
    return builder.lines, builder.kernels


def joint_candidate(plan: JointPlan, model: ModelSource, profile: dict[str, dict[str, Any]], title: str) -> str:
    """The candidate's full source: the reference's ``Model`` and ``ModelNew`` applying one
    ``torch.autograd.Function`` whose forward and backward launch the programs' kernels."""
    names = plan.arg_names + plan.grad_names
    fwd_lines, kernels = _body(plan.forward, names, profile)
    bwd_lines: list[str] = []
    grads: dict[int, str] = {}
    for k, (position, program) in enumerate(zip(plan.grad_args, plan.gradients, strict=True)):
        lines, more = _body(program, names, profile, f"{plan.arg_names[position]}.shape")
        kernels += more
        assert lines[-1].startswith("return ")
        bwd_lines += [f"# the gradient of {plan.arg_names[position]}", *lines[:-1]]
        bwd_lines.append(f"g{k} = {lines[-1].removeprefix('return ')}")
        grads[position] = f"g{k}"
    args = ", ".join(plan.arg_names)
    tensors = ", ".join(n for i, n in enumerate(plan.arg_names) if i not in plan.numbers)
    numbers = ", ".join(plan.arg_names[i] for i in plan.numbers)
    returned = ", ".join(grads.get(i, "None") for i in range(len(plan.arg_names)))
    nodes = [n for p in [plan.forward, *plan.gradients] for n in p.nodes]
    function = (
        f"class {FUNCTION}(torch.autograd.Function):\n"
        "    @staticmethod\n"
        f"    def forward(ctx, {args}):\n"
        f"        ctx.save_for_backward({tensors},)\n"
        + (f"        ctx.numbers = ({numbers},)\n" if numbers else "")
        + "".join(f"        {line}\n" for line in fwd_lines)
        + "\n    @staticmethod\n"
        + f"    def backward(ctx, {', '.join(plan.grad_names)}):\n"
        + f"        {tensors}, = ctx.saved_tensors\n"
        + (f"        {numbers}, = ctx.numbers\n" if numbers else "")
        + "".join(f"        {line}\n" for line in bwd_lines)
        + f"        return {returned},\n"
    )
    header = (
        f'"""Template-compiled Triton training kernels for {title}, from autograd\'s joint graph.\n\n'
        f"Kernel Kiln's template compiler lowered the forward and each gradient: {plan.describe()}.\n"
        "ModelNew applies a torch.autograd.Function whose forward and backward only allocate, take views\n"
        'and launch the kernels below (the backward recomputes what it needs from the saved inputs).\n"""\n'
    )
    return (
        module_prelude(header, model, nodes, kernels)
        + function
        + "\n\nclass ModelNew(Model):\n"
        + '    """The reference\'s module (same constructor and parameters) with Triton forward and backward."""\n\n'
        + f"    def forward(self, {', '.join(plan.arg_names[: plan.inputs])}):\n"
        + f"        return {FUNCTION}.apply({', '.join(plan.arg_code)})\n"
    )


def trace_joint(reference: Any, options: Any, input_names: list[str], trace_shape: str | None = None) -> JointPlan:
    """Trace ``reference``'s training call in the sandbox (at ``trace_shape``) and lower it
    (:func:`plan_joint`); ``NoTemplate`` says why not."""
    from agents.template import _trace_options
    from verifier import VerifierInputError, trace_reference

    try:
        trace = trace_reference(reference, trace_shape, _trace_options(options), joint=True)
    except VerifierInputError as e:
        raise NoTemplate(f"tracing the joint forward/backward graph failed: {e}") from None
    names = input_names if len(input_names) == len(trace.inputs) else [f"x{i}" for i in range(len(trace.inputs))]
    return plan_joint(trace, names)
