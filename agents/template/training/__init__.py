"""Training candidates from the template compiler: an op's forward and backward kernels in one
``torch.autograd.Function``, for backward mode (``VerifyOptions(mode="backward")``).

``training_candidate(plan)`` reads the forward's kernel program (what :func:`agents.template.plan_template`
recognised in the reference's trace) and, when it is one of the seed families' ops, emits a candidate
whose ``ModelNew`` (the reference's module, same constructor and parameters) applies that op's
``autograd.Function`` (:mod:`agents.template.training.sources`). Recognised: a single-branch depthwise
2D convolution (stride 1, 'same' padding, odd kernel, bias), a causal depthwise 1D convolution (the
flipped-weight form, bias), a long convolution with a filter input and a D skip (the FFT form), CSR
SpMM, and a linear layer with an exact GELU. Anything else raises ``NoTemplate`` naming what it saw.

These are hand-written backward templates per recognised op; any other op goes through autograd's joint
graph, its backward lowered like a forward (:mod:`agents.template.training.joint`).
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.template.emit import param_code
from agents.template.ir import Acc, Bin, Leaf, LeafE, Node, Program, Un
from agents.template.recognise import NoTemplate
from agents.template.training import sources
from agents.template.training.sources import TrainingSource

__all__ = ["TrainingMatch", "recognise_training", "training_candidate"]


@dataclass(frozen=True)
class TrainingMatch:
    source: TrainingSource
    arguments: list[str]
    """The ``apply`` call's arguments, as code in ``ModelNew.forward``."""


def _plain(leaf: object, kind: str) -> str | None:
    """The input's or parameter's name when ``leaf`` is one, read as it is (no view, no flip)."""
    if not isinstance(leaf, Leaf) or leaf.views or leaf.flip or not leaf.root.startswith(kind + ":"):
        return None
    return leaf.root.split(":", 1)[1]


def _input(program: Program, leaf: object) -> str | None:
    index = _plain(leaf, "input")
    return program.input_names[int(index)] if index is not None and index.isdigit() else None


def _param(leaf: object) -> str | None:
    name = _plain(leaf, "param")
    return param_code(name) if name is not None else None


def _dwconv2d(program: Program, n: Node) -> TrainingMatch | None:
    if n.kind != "dwconv" or n.attrs.get("spatial") != 2 or len(n.branches) != 1 or n.epilogue is not None:
        return None
    b = n.branches[0]
    x, w, bias = _input(program, n.operands.get("x")), _param(b.weight), _param(b.bias)
    shape = b.weight.shape or ()
    if None in (x, w, bias) or len(shape) != 4 or shape[1] != 1 or b.stride != (1, 1) or b.dilation != (1, 1):
        return None
    same = all(
        p == ("same", (k - 1) // 2, (k - 1) // 2) and k % 2 == 1 for p, k in zip(b.padding, shape[2:], strict=True)
    )
    return TrainingMatch(sources.DWCONV2D, [x, w, bias]) if same else None  # type: ignore[list-item]


def _causal1d(program: Program, n: Node) -> TrainingMatch | None:
    if n.kind != "dwconv" or n.attrs.get("spatial") != 1 or len(n.branches) != 1 or n.epilogue is not None:
        return None
    b = n.branches[0]
    x, bias, shape = _input(program, n.operands.get("x")), _param(b.bias), b.weight.shape or ()
    weight = b.weight
    if weight.flip != (-1,) or weight.views != (("unsqueeze", (1,)),) or not weight.root.startswith("param:"):
        return None
    if None in (x, bias) or len(shape) != 3 or b.stride != (1,) or b.dilation != (1,):
        return None
    if b.padding != (("causal", shape[2] - 1, 0),):
        return None
    return TrainingMatch(sources.CAUSAL1D, [x, param_code(weight.root.split(":", 1)[1]), bias])  # type: ignore[list-item]


def _long_conv(program: Program, n: Node) -> TrainingMatch | None:
    if n.kind != "dwconv" or n.attrs.get("spatial") != 1 or len(n.branches) != 1 or n.branches[0].bias is not None:
        return None
    b = n.branches[0]
    u, k = _input(program, n.operands.get("x")), b.weight
    if u is None or k.views or k.flip != (-1,) or not k.root.startswith("input:") or len(k.shape or ()) != 2:
        return None
    if b.padding != (("causal", (k.shape or (0, 0))[1] - 1, 0),) or b.stride != (1,) or b.dilation != (1,):
        return None
    e = n.epilogue
    if not (isinstance(e, Bin) and e.op == "add" and isinstance(e.a, Acc) and isinstance(e.b, Bin) and e.b.op == "mul"):
        return None
    skip_x, skip_d = e.b.a, e.b.b
    if not (isinstance(skip_x, LeafE) and isinstance(skip_d, LeafE)) or _input(program, skip_x.leaf) != u:
        return None
    d = skip_d.leaf
    if d.flip or d.views != (("unsqueeze", (-1,)),) or not d.root.startswith("param:"):
        return None
    filter_name = program.input_names[int(k.root.split(":", 1)[1])]
    return TrainingMatch(sources.LONGCONV, [u, filter_name, param_code(d.root.split(":", 1)[1])])


def _spmm(program: Program, n: Node) -> TrainingMatch | None:
    if n.kind != "spmm" or n.epilogue is not None:
        return None
    names = [_input(program, n.operands.get(k)) for k in ("crow", "col", "values", "x")]
    return TrainingMatch(sources.CSR, names) if None not in names else None  # type: ignore[arg-type]


def _linear_gelu(program: Program, n: Node) -> TrainingMatch | None:
    if n.kind != "matmul" or n.attrs:
        return None
    x, w = _input(program, n.operands.get("a")), n.operands.get("b")
    if x is None or not isinstance(w, Leaf) or w.flip or w.views != (("t", ()),) or not w.root.startswith("param:"):
        return None
    e = n.epilogue
    if not (isinstance(e, Un) and e.op == "gelu" and e.args == () and isinstance(e.x, Bin) and e.x.op == "add"):
        return None
    if not isinstance(e.x.a, Acc) or not isinstance(e.x.b, LeafE) or _param(e.x.b.leaf) is None:
        return None
    return TrainingMatch(sources.LINEAR_GELU, [x, param_code(w.root.split(":", 1)[1]), _param(e.x.b.leaf)])  # type: ignore[list-item]


RECOGNISERS = (_dwconv2d, _causal1d, _long_conv, _spmm, _linear_gelu)


def _dwconv2d_mismatch(program: Program, n: Node) -> str:
    """Why a depthwise 2D convolution is not of the training template's form ('' when it is not one)."""
    if n.kind != "dwconv" or n.attrs.get("spatial") != 2:
        return ""
    if len(n.branches) != 1 or n.epilogue is not None:
        return "the depthwise 2D training template takes one convolution with nothing after it"
    b = n.branches[0]
    shape = b.weight.shape or ()
    wanted = []
    if _input(program, n.operands.get("x")) is None or _param(b.weight) is None:
        wanted.append("an input and a weight parameter read as they are")
    if len(shape) != 4 or shape[1] != 1:
        wanted.append("one filter per channel")
    if _param(b.bias) is None:
        wanted.append("a bias parameter" + (" (this one has none)" if b.bias is None else ""))
    if b.stride != (1, 1) or b.dilation != (1, 1):
        wanted.append(f"stride and dilation 1 (this one: stride {b.stride}, dilation {b.dilation})")
    same = len(shape) == 4 and all(
        p == ("same", (k - 1) // 2, (k - 1) // 2) and k % 2 == 1 for p, k in zip(b.padding, shape[2:], strict=True)
    )
    if not same:
        wanted.append("an odd kernel with 'same' padding (this one: padding " + _padding_text(b.padding) + ")")
    return "the depthwise 2D training template needs " + "; ".join(wanted) if wanted else ""


def _padding_text(padding: object) -> str:
    if isinstance(padding, tuple) and all(isinstance(p, tuple) and len(p) == 3 for p in padding):
        return ", ".join(f"{lo}/{hi}" for _kind, lo, hi in padding)
    return str(padding)


MISMATCHES = (_dwconv2d_mismatch,)
"""For a recognised op not of its training template's form: why (what the template needs)."""


def recognise_training(program: Program) -> TrainingMatch:
    """The training template for ``program`` (one kernel node of a recognised op), or ``NoTemplate``."""
    if len(program.nodes) != 1:
        raise NoTemplate(f"no training template: the forward is {program.describe()} (one recognised op is needed)")
    node = program.nodes[0]
    for recognise in RECOGNISERS:
        match = recognise(program, node)
        if match is not None:
            return match
    why = next((text for mismatch in MISMATCHES if (text := mismatch(program, node))), "")
    raise NoTemplate(
        f"no training template for {program.describe()}"
        + (f": {why}" if why else "")
        + " (covered: depthwise 2D 'same' convolutions, causal "
        "depthwise 1D convolutions, FFT long convolutions with a D skip, CSR SpMM, linear + exact GELU)"
    )


def training_candidate(plan: object) -> str:
    """The training candidate's full source for a :class:`agents.template.TemplatePlan`."""
    program, model, title = plan.program, plan.model, plan.title  # type: ignore[attr-defined]
    match = recognise_training(program)
    args = ", ".join(program.input_names)
    header = (
        f'"""Template-compiled Triton training kernels for {title}: {match.source.summary}.\n\n'
        "Kernel Kiln's template compiler recognised the forward as "
        f"{program.describe()}; ModelNew applies a torch.autograd.Function\n"
        'whose forward and backward only allocate, take views and launch the kernels below.\n"""\n'
    )
    return (
        header
        + "\nimport torch\nimport torch.nn as nn\nimport triton\nimport triton.language as tl\n\n"
        + model.support
        + "\n"
        + match.source.text
        + "\n\nclass ModelNew(Model):\n"
        + '    """The reference\'s module (same constructor and parameters) with Triton forward and backward."""\n\n'
        + f"    def forward(self, {args}):\n"
        + f"        return {match.source.function}.apply({', '.join(match.arguments)})\n"
    )
