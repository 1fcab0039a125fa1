"""Planner worker: imports the untrusted candidate and records what its forward launches, on no data.

This process runs candidate Python and therefore holds nothing worth stealing: no input data, no
parameter values of the reference, no reference output, no key, no seed of the run. It builds each
``ModelNew`` instance from the reference's constructor arguments (tensor arguments arrive as zeros
of their shape), swaps its parameters for fake tensors and records each forward call, on fake
inputs with the call's shapes, as a launch plan (:mod:`verifier.plan.record`). Everything it sends
is a claim: the parent checks the plans and the kernel runner executes them on the real data.

The OS sandbox, the process filter (CPU) and the audit hook still apply: they keep a candidate from
the network, host files and other processes, and a blocked attempt is reported by name.

Commands (parent -> worker): ``instance`` (index, constructor arguments, a seed of its own),
``state_values`` (names of the instance's own parameters/buffers the reference has no value for),
``plan`` (index, call, the inputs' dtypes, shapes and strides; in backward mode also where the
``grad_output``s, the inputs and the parameters that take gradients are), ``end``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from verifier import codec
from verifier.hostinfo import describe_host
from verifier.worker import guard, no_new_processes
from verifier.worker.loading import load_module, seed_everything
from verifier.worker.protocol import Reporter, Send, read_message

CANDIDATE_MODULE = "kiln_candidate"


def _zeros_for_tensors(value: Any) -> Any:
    """Constructor arguments without data: each tensor becomes zeros of its dtype and shape."""
    if isinstance(value, torch.Tensor):
        return torch.zeros(value.shape, dtype=value.dtype)
    if isinstance(value, list):
        return [_zeros_for_tensors(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_zeros_for_tensors(v) for v in value)
    if isinstance(value, dict):
        return {k: _zeros_for_tensors(v) for k, v in value.items()}
    return value


def _warm_up(device: str) -> None:
    """Record one trivial forward before candidate code, so lazy imports happen on the harness's watch."""
    from verifier.plan.record import PlanRecorder

    class _Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.empty_like(x).view(-1)[:1].contiguous()

    recorder = PlanRecorder(device)
    tiny = _Tiny()
    state, _ = recorder.instance(tiny)
    recorder.record_call(tiny, state, [recorder.fake_inputs({"T": ["float32", [2], [1]]})])


HOST_DATA_ERRORS = (
    "data is not allocated",
    "Cannot access data pointer",
    "Cannot access storage",
    ".numpy() is not supported",
    "Not available for 'meta' device",
    "only available on CPU",
)
"""Fragments of the errors torch raises when code reaches for a fake tensor's data (versions differ)."""


def _forward_error(reporter: Reporter, e: BaseException, index: int, call: int) -> None:
    """A forward that cannot be recorded: say why in the user's terms."""
    from torch._subclasses.fake_tensor import DataDependentOutputException, DynamicOutputShapeException

    from verifier.plan.record import BackwardError, FallbackError, OutputTypeError, RecordingError, StreamError

    text = f"{type(e).__name__}: {e}"
    fields: dict[str, Any] = {"stage": "forward", "traceback": "", "index": index, "call": call}
    chain = [e, e.__cause__, e.__context__]
    if any(isinstance(x, (DataDependentOutputException, DynamicOutputShapeException)) for x in chain) or any(
        fragment in text for fragment in HOST_DATA_ERRORS
    ):
        fields["class"] = "host_read"
        fields["error"] = (
            f"the launch code reaches for tensor data on the host ({text[:300]}): `.item()`, `float(t)`, `.tolist()`, "
            "`.numpy()`, storage bytes or a value-dependent shape; launch code may depend on shapes, never on data"
        )
    else:
        classes = (
            (FallbackError, "fallback"),
            (OutputTypeError, "type"),
            (BackwardError, "backward"),
            (StreamError, "stream"),
            (RecordingError, "plan"),  # the base of the others: last
        )
        kind = next((name for cls, name in classes if isinstance(e, cls)), None)
        if kind is None:
            reporter.error("forward", e, index=index, call=call)
            return
        fields["class"] = kind
        fields["error"] = str(e)
    reporter.send("error", fields)


def run(request: dict[str, Any], send: Send, scratch: Path, command_fd: int) -> None:
    reporter = Reporter(send)
    device = request["device"]
    reporter.send("hello", {"environment": describe_host(device)})
    import triton
    import triton.language  # noqa: F401

    from verifier.plan.record import PlanRecorder, state_values

    candidate_path = str((scratch / f"{CANDIDATE_MODULE}.py").resolve())
    candidate_files = frozenset({candidate_path})
    guard.install_concurrency_gates()
    _warm_up(device)
    process_filter = "not installed (GPU: Triton starts its compiler tools)"
    if device == "cpu":
        problem = no_new_processes.install()
        process_filter = "seccomp: no process can be started" if problem is None else problem
    scratch_text = str(scratch)
    sys.path[:] = [p for p in sys.path if p not in ("", ".", scratch_text)]
    sys.addaudithook(guard.make_audit_hook(send, lambda: candidate_files, scratch_text, device))
    reporter.send("ready", {"process_filter": process_filter})

    try:
        module = load_module(request["source"], CANDIDATE_MODULE, scratch)
    except BaseException as e:
        reporter.error("import", e)
        return
    model_cls = getattr(module, "ModelNew", None)
    if not isinstance(model_cls, type) or not issubclass(model_cls, torch.nn.Module):
        found = "nothing" if model_cls is None else type(model_cls).__name__
        reporter.send(
            "error",
            {
                "stage": "import",
                "error": f"the candidate defines no `ModelNew` nn.Module class (found {found})",
                "traceback": "",
            },
        )
        return
    reporter.send("loaded", {})

    recorder = PlanRecorder(device)
    instances: dict[int, tuple[torch.nn.Module, dict[str, Any]]] = {}
    while True:
        command, blob = read_message(command_fd)
        op = command.get("op")
        if op == "end":
            reporter.send("done")
            return
        index = int(command.get("index", -1))
        if op == "instance":
            seed_everything(int(command["seed"]))
            try:
                init = _zeros_for_tensors(codec.decode(command["init"], blob))
                model = model_cls(*init)
                fakes, meta = recorder.instance(model)
            except BaseException as e:
                reporter.error("init", e, index=index)
                return
            instances[index] = (model, fakes)
            reporter.send("instance", {"index": index, "state": meta})
        elif op == "state_values":
            model, _ = instances[index]
            names = [str(n) for n in command.get("names", [])]
            reporter.send("state_values", {"index": index}, values=state_values(model, names))
        elif op == "plan":
            call = int(command["call"])
            model, fakes = instances[index]
            try:
                inputs = recorder.fake_inputs({"l": command["inputs"]})
                if isinstance(command.get("backward"), dict):
                    plan, constants = recorder.record_training_call(model, fakes, inputs, command["backward"])
                else:
                    plan, constants = recorder.record_call(model, fakes, inputs)
            except BaseException as e:
                _forward_error(reporter, e, index, call)
                return
            described = [
                {"v": c.vid, "device": str(c.tensor.device), "stride": list(c.tensor.stride())} for c in constants
            ]
            reporter.send(
                "plan",
                {"index": index, "call": call, "plan": plan, "constants": described},
                values=[torch.Tensor.detach(c.tensor) for c in constants],
            )
        else:
            reporter.send("error", {"stage": "worker", "error": f"unknown command {op!r}", "traceback": ""})
            return
