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
    try:
        with torch.no_grad(), tracer:
            out = model(*inputs)
    except BaseException as e:
        reporter.error("trace", e)
        return
    outs = out if isinstance(out, (list, tuple)) else [out]
    reporter.send(
        "trace",
        {
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
