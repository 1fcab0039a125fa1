"""Tracing a reference op (in a sandbox) to see which aten ops it is made of.

Generators use this to recognise an op without ever running request content in their own process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from verifier.engine import resolve_device
from verifier.errors import SandboxUnavailableError, VerifierInputError
from verifier.reference_run import check_reference_source
from verifier.sandbox.isolation import choose
from verifier.sandbox.runner import WorkerSession
from verifier.spec import Reference, VerifyOptions


@dataclass
class OpTrace:
    """The forward of ``Model`` at one shape, as a sequence of aten ops.

    Each op is ``{"op": "aten.convolution", "overload": "default", "args": [...], "kwargs": {...},
    "outputs": [...]}``; tensors appear as ``{"tensor": label, "shape", "dtype", "stride"}`` with
    labels ``inputN``, ``param:<state-dict name>``, ``opK.outJ`` (output J of op K) or ``const``.
    """

    ops: list[dict[str, Any]]
    inputs: list[Any]
    init_inputs: list[Any]
    parameters: dict[str, Any]
    outputs: list[Any]
    output_labels: list[str | None]
    shape: str = ""
    truncated: bool = False
    environment: dict[str, Any] = field(default_factory=dict)
    joint: dict[str, Any] | None = None
    """With ``trace_reference(..., joint=True)``: the training call's joint forward/backward graph. Then
    ``outputs`` are ``[*forward outputs, *gradients]`` and this says how to read them: ``outputs`` (how
    many are the forward's), ``grad_inputs`` (the inputs whose gradients follow, in order),
    ``parameters`` (then the parameters'), ``grad_targets`` (the outputs that get a ``grad_output``) and
    ``grad_outputs`` (their descriptions, labelled ``grad_output{k}``)."""

    def op_names(self) -> list[str]:
        return [o["op"] for o in self.ops]

    @classmethod
    def from_frame(cls, frame: dict[str, Any], shape: str = "", environment: dict[str, Any] | None = None) -> OpTrace:
        """The trace that a trace worker's ``trace`` frame carries."""
        names = ("ops", "inputs", "init_inputs", "parameters", "outputs", "output_labels")
        fields = {name: frame[name] for name in names}
        fields["ops"] = _floats(fields["ops"])
        return cls(
            **fields,
            shape=shape,
            truncated=bool(frame.get("truncated")),
            environment=environment or {},
            joint=frame.get("joint"),
        )


_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _floats(value: Any) -> Any:
    """The trace worker's ``{"float": "-inf"}`` (a non-finite scalar argument) as the float it stands for."""
    if isinstance(value, dict):
        if len(value) == 1 and value.get("float") in _NON_FINITE:
            return _NON_FINITE[value["float"]]
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value


def trace_reference(
    reference: Reference | str,
    shape: str | None = None,
    options: VerifyOptions | None = None,
    *,
    joint: bool = False,
) -> OpTrace:
    """Trace ``reference`` on CPU at ``shape`` (a name in ``reference.shapes``; default: as written).

    ``joint=True`` traces a training call instead: the forward and its backward in one graph
    (``OpTrace.joint`` says how to read it), the gradients taken for ``reference.grad_inputs`` (default:
    every floating-point input) and every parameter."""
    options = options or VerifyOptions(device="cpu")
    ref = reference if isinstance(reference, Reference) else Reference(source=reference)
    check_reference_source(ref.source)
    if shape is not None and shape not in ref.shapes:
        raise VerifierInputError(f"unknown shape {shape!r}; the reference declares {sorted(ref.shapes)}")
    resolve_device("cpu")
    try:
        isolation = choose(options.sandbox, options.trusted_code)
    except SandboxUnavailableError as e:
        raise VerifierInputError(str(e)) from None
    request: dict[str, Any] = {
        "source": ref.source,
        "overrides": dict(ref.shapes.get(shape, {})) if shape else {},
        "seed": 0,
    }
    if joint:
        request["joint"] = True
        request["grad_inputs"] = list(ref.grad_inputs) if ref.grad_inputs is not None else None
    session = WorkerSession("trace", isolation, options.timeout_s, options.memory_limit_mb, cuda=False)
    with session:
        session.start(request)
        end = session.receive({"done", "error"})
        exit_info = session.close()
    if end is None:
        how = exit_info.describe(options.timeout_s, options.memory_limit_mb)
        raise VerifierInputError(f"tracing the reference failed: the process {how}")
    if end.kind == "error":
        raise VerifierInputError(f"tracing the reference failed: {end.header.get('error')}")
    trace = next(f.header for f in session.frames if f.kind == "trace")
    env = next((f.header.get("environment", {}) for f in session.frames if f.kind == "hello"), {})
    return OpTrace.from_frame(trace, shape or "", env)
