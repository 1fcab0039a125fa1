"""Trace worker: records the aten ops a reference's forward dispatches, with data flow and scalars.

Runs in a sandbox like the other roles (the reference is untrusted). Tensors in the trace are
described, never sent: ``{"tensor": label, "shape": [...], "dtype": "float32"}`` where ``label``
is ``input0``, ``param:conv.weight``, ``op3.out0`` or ``const``, so a reader can follow which
op consumes what. A non-finite float argument (``masked_fill(mask, float('-inf'))``) travels as
``{"float": "-inf"}`` (the frame is strict JSON); ``OpTrace.from_frame`` makes it a float again.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from verifier.codec import dtype_name
from verifier.hostinfo import describe_host
from verifier.worker.loading import apply_overrides, as_list, load_module, seed_everything
from verifier.worker.protocol import Reporter
from verifier.worker.recorder import op_packet

MAX_OPS = 2000


class _Tracer(TorchDispatchMode):
    def __init__(self, labels: dict[int, str]) -> None:
        super().__init__()
        self.labels = labels
        self.ops: list[dict[str, Any]] = []
        self.keep: list[torch.Tensor] = []  # keeps traced tensors alive so ids stay unique

    def describe(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return {
                "tensor": self.labels.get(id(value), "const"),
                "shape": list(value.shape),
                "dtype": dtype_name(value.dtype) if value.dtype in _DTYPES else str(value.dtype),
                # sparse (CSR/COO) tensors have no strides
                "stride": list(value.stride()) if value.layout == torch.strided else None,
            }
        if isinstance(value, (list, tuple)):
            return [self.describe(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return {"float": repr(value)}  # the frame is strict JSON; ``OpTrace.from_frame`` reads it back
        if isinstance(value, (int, float, bool, str)) or value is None:
            return value
        if isinstance(value, torch.dtype):
            return str(value).removeprefix("torch.")
        return repr(value)[:80]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if len(self.ops) < MAX_OPS:
            index = len(self.ops)
            record = {
                "op": op_packet(func),
                "overload": func._overloadname,
                "args": self.describe(list(args)),
                "kwargs": {k: self.describe(v) for k, v in kwargs.items()},
            }
            outs = result if isinstance(result, (list, tuple)) else [result]
            for j, out in enumerate(outs):
                if isinstance(out, torch.Tensor):
                    self.labels[id(out)] = f"op{index}.out{j}"
                    self.keep.append(out)
            record["outputs"] = self.describe(list(outs))
            self.ops.append(record)
        return result


_DTYPES = {
    torch.float64,
    torch.float32,
    torch.float16,
    torch.bfloat16,
    torch.complex64,
    torch.complex128,
    torch.int64,
    torch.int32,
    torch.int16,
    torch.int8,
    torch.uint8,
    torch.bool,
}


def run(request: dict[str, Any], reporter: Reporter, scratch: Path) -> None:
    reporter.send("hello", {"environment": describe_host("cpu")})
    try:
        module = load_module(request["source"], "kiln_reference", scratch)
        apply_overrides(module, request.get("overrides", {}))
        seed_everything(int(request.get("seed", 0)))
        init = as_list(module.get_init_inputs())
        model = module.Model(*init).eval()
        inputs = as_list(module.get_inputs())
    except BaseException as e:
        reporter.error("load", e)
        return
    labels: dict[int, str] = {}
    for i, t in enumerate(inputs):
        if isinstance(t, torch.Tensor):
            labels[id(t)] = f"input{i}"
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        labels[id(t)] = f"param:{name}"
    tracer = _Tracer(labels)
    joint: dict[str, Any] | None = None
    try:
        if request.get("joint"):
            out, joint = _joint(model, inputs, request.get("grad_inputs"), tracer)
        else:
            with torch.no_grad(), tracer:
                out = model(*inputs)
    except BaseException as e:
        reporter.error("trace", e)
        return
    outs = out if isinstance(out, (list, tuple)) else [out]
    reporter.send(
        "trace",
        {
            **({"joint": joint} if joint is not None else {}),
            "ops": tracer.ops,
            "truncated": len(tracer.ops) >= MAX_OPS,
            "inputs": tracer.describe(inputs),
            "init_inputs": tracer.describe(init),
            "parameters": {
                name: {**tracer.describe(t), "tensor": f"param:{name}"} for name, t in model.state_dict().items()
            },
            "outputs": tracer.describe(list(outs)),
            "output_labels": [labels.get(id(o), "const") if isinstance(o, torch.Tensor) else None for o in outs],
        },
    )
    reporter.send("done")


def _joint(
    model: torch.nn.Module, inputs: list[Any], chosen: list[int] | None, tracer: _Tracer
) -> tuple[list[Any], dict[str, Any]]:
    """The joint forward/backward graph of one training call, as aten ops: ``make_fx`` traces the forward
    and ``torch.autograd.grad`` (the backward's composite ops decomposed: ``gelu_backward``,
    ``_softmax_backward_data``... become pointwise ops and reductions), then the graph runs under the
    tracer. The trace's outputs are ``[*forward outputs, *gradients]``: one gradient per input of
    ``grad_inputs`` (default: every floating-point tensor input) then per parameter that requires grad
    (``None`` where autograd calls it unused); ``grad_output{k}`` labels the k-th output's gradient."""
    from torch._decomp import core_aten_decompositions
    from torch.fx.experimental.proxy_tensor import make_fx

    table = {op: fn for op, fn in core_aten_decompositions().items() if "backward" in str(op)}
    floating = [i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor) and x.is_floating_point()]
    positions = floating if chosen is None else [i for i in chosen if i in floating]
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    with torch.no_grad():
        probe = model(*inputs)
    probe_outs = probe if isinstance(probe, (list, tuple)) else [probe]
    targets = [j for j, o in enumerate(probe_outs) if isinstance(o, torch.Tensor) and o.is_floating_point()]
    grad_outputs = [torch.randn(probe_outs[j].shape, dtype=probe_outs[j].dtype) for j in targets]
    n_in, n_p = len(inputs), len(params)

    def step(*args: Any) -> tuple[Any, ...]:
        xs, ps, gs = list(args[:n_in]), args[n_in : n_in + n_p], args[n_in + n_p :]
        out = torch.func.functional_call(model, {n: p for (n, _), p in zip(params, ps, strict=True)}, tuple(xs))
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        wrt = [xs[i] for i in positions] + list(ps)
        grads = torch.autograd.grad([outs[j] for j in targets], wrt, list(gs), allow_unused=True)
        return (*outs, *grads)

    leaves = [x.detach().requires_grad_(True) if i in positions else x for i, x in enumerate(inputs)]
    ps = [p.detach().requires_grad_(True) for _n, p in params]
    graph = make_fx(step, decomposition_table=table)(*leaves, *ps, *grad_outputs)
    for k, g in enumerate(grad_outputs):
        tracer.labels[id(g)] = f"grad_output{k}"
    with torch.no_grad(), tracer:
        results = graph(*inputs, *[p for _n, p in params], *grad_outputs)
    n_out = len(results) - len(positions) - n_p
    return list(results), {
        "outputs": n_out,
        "grad_inputs": positions,
        "parameters": [name for name, _p in params],
        "grad_targets": targets,
        "grad_outputs": tracer.describe(grad_outputs),
    }
