"""Candidate worker: imports the untrusted candidate and runs it under watch.

Order matters. Everything the harness needs later (torch, triton, the recorder, the profiler, the
channel) is imported and warmed up first; then the integrity snapshot is taken and the audit
hook installed; only then is candidate code imported. After every step that ran candidate code the
harness checks its own integrity before trusting anything it computes. Outputs leave as bytes;
the parent, in another process, decides whether they are right.
"""

from __future__ import annotations

import gc
import hashlib
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from verifier import codec
from verifier.hostinfo import describe_host
from verifier.worker import guard
from verifier.worker.cuda_compile import CudaCompileCheck
from verifier.worker.loading import load_module, seed_everything, to_device
from verifier.worker.protocol import Reporter, Send, read_command
from verifier.worker.recorder import DispatchRecorder, install_host_access_watch, profiled_op_names

CANDIDATE_MODULE = "kiln_candidate"


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _storage_range(t: torch.Tensor) -> tuple[int, int]:
    storage = torch._C.TensorBase.untyped_storage(t)
    start = storage.data_ptr()
    return start, start + storage.nbytes()


def describe_outputs(out: Any, inputs: list[torch.Tensor]) -> list[dict[str, Any]]:
    """Per output leaf: exact type, device, and which inputs its storage overlaps."""
    input_ranges = [_storage_range(t) for t in inputs]
    described = []
    for leaf in _leaves(out):
        cls = type(leaf)
        entry: dict[str, Any] = {"type": f"{cls.__module__}.{cls.__qualname__}"}
        if cls is torch.Tensor:
            entry["device"] = leaf.device.type
            lo, hi = _storage_range(leaf)
            entry["aliases"] = [i for i, (a, b) in enumerate(input_ranges) if lo < b and a < hi]
        elif isinstance(leaf, torch.Tensor):
            entry["subclass"] = True
        described.append(entry)
    return described


def input_hashes(inputs: list[torch.Tensor]) -> list[str]:
    return [hashlib.sha256(codec.tensor_bytes(t)).hexdigest() for t in inputs]


def load_reference_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Copy the reference's parameters/buffers into the candidate: by name, then by unique shape."""
    own = model.state_dict()
    by_name = {k: v for k, v in state.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    ref_left = {k: v for k, v in state.items() if k not in by_name}
    own_left = {k: v for k, v in own.items() if k not in by_name}
    by_shape: dict[str, str] = {}
    for rk, rv in ref_left.items():
        ref_same = [k for k, v in ref_left.items() if tuple(v.shape) == tuple(rv.shape)]
        own_same = [k for k, v in own_left.items() if tuple(v.shape) == tuple(rv.shape)]
        if len(ref_same) == 1 and len(own_same) == 1:
            by_shape[own_same[0]] = rk
    to_load = {**by_name, **{ok: state[rk] for ok, rk in by_shape.items()}}
    if to_load:
        model.load_state_dict(to_load, strict=False)
    return {
        "reference_tensors": len(state),
        "loaded_by_name": sorted(by_name),
        "loaded_by_shape": sorted(f"{rk}->{ok}" for ok, rk in by_shape.items()),
        "reference_only": sorted(k for k in ref_left if k not in by_shape.values()),
        "candidate_only": sorted(k for k in own_left if k not in by_shape),
    }


def _warm_up(device: str) -> None:
    """Exercise the harness's own machinery once so lazy initialisation happens before the snapshot."""
    from torch.profiler import ProfilerActivity, profile

    x = torch.ones(4, device=device)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof, DispatchRecorder():
        y = x + 1
    profiled_op_names(prof)
    hashlib.sha256(codec.tensor_bytes(y)).hexdigest()
    codec.encode([y, (1, 2.5, "s"), {"k": None}])
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.Event(enable_timing=True).record()
        torch.cuda.current_stream().synchronize()


def _tamper_header(stage: str, problems: list[str]) -> bytes:
    escape = __import__("json").encoder.encode_basestring_ascii
    return (
        '{"kind":"tamper","stage":' + escape(stage) + ',"problems":[' + ",".join(escape(p) for p in problems) + "]}"
    ).encode()


def run(request: dict[str, Any], blob: bytes, send: Send, scratch: Path, command_fd: int) -> None:
    device: str = request["device"]
    reporter = Reporter(send)
    reporter.send("hello", {"environment": describe_host(device)})
    trials: list[dict[str, Any]] = codec.decode(request["trials"], blob)
    timing_sets: list[dict[str, Any]] = codec.decode(request.get("timing_sets", {"l": []}), blob)

    cuda_check: CudaCompileCheck | None = None
    if request["language"] == "cuda" and device == "cpu":
        cuda_check = CudaCompileCheck(scratch, request.get("nvcc"), float(request.get("compile_timeout_s", 170)))
        cuda_check.install()

    import triton
    import triton.language  # noqa: F401

    candidate_path = str((scratch / f"{CANDIDATE_MODULE}.py").resolve())
    candidate_files = frozenset({candidate_path})
    host_access = install_host_access_watch(lambda: candidate_files, str(scratch))
    guard.install_concurrency_gates()
    _warm_up(device)

    depths = guard.mode_stack_depths()
    # The cyclic collector is off from each forward until its outputs are sent (and through the timed
    # phase): a finalizer (__del__, weakref callback) of candidate garbage would otherwise run at the
    # harness's next allocations, after forward returned, outside the recorders, and could still
    # write the outputs. gc's functions are captured here and gc is in the integrity snapshot.
    gc_disable, gc_enable, gc_isenabled = gc.disable, gc.enable, gc.isenabled
    gc_held = [False]
    checker = guard.IntegrityChecker(
        guard.harness_modules(), [*guard.harness_classes(), DispatchRecorder], strict_prefix="verifier"
    )
    sys.addaudithook(guard.make_audit_hook(send, lambda: candidate_files, str(scratch)))

    def intact(stage: str) -> bool:
        problems = [f"replaced {name}" for name in checker.changes()[:12]]
        d = depths()
        if d != (0, 0):
            problems.append(f"left {d[0]} dispatch mode(s) and {d[1]} function mode(s) active")
        if gc_held[0] and gc_isenabled():
            problems.append("re-enabled the garbage collector (finalizers would run outside the recorded forward)")
        if problems:
            send(_tamper_header(stage, problems), ())
            return False
        return True

    # ---- import ------------------------------------------------------------------------------
    try:
        module = load_module(request["source"], CANDIDATE_MODULE, scratch)
    except BaseException as e:
        if intact("import"):
            reporter.error("import", e)
        return
    if not intact("import"):
        return
    if cuda_check is not None and cuda_check.results:
        reporter.send("cuda_compile", {"results": [vars(r) for r in cuda_check.results]})
        reporter.send("done")
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
    reporter.send("loaded")

    # ---- correctness trials ------------------------------------------------------------------
    poison = [int(n) for n in request.get("poison_nbytes", [])]
    first: tuple[torch.nn.Module, list[Any]] | None = None
    for index, trial in enumerate(trials):
        seed_everything(int(trial["seed"]))
        try:
            model = model_cls(*trial["init"])
            params = load_reference_state(model, trial["state"])
            model = model.to(device)
        except BaseException as e:
            if intact("init"):
                reporter.error("init", e, index=index)
            return
        if not intact("init"):
            return
        for call, call_inputs in enumerate(trial["inputs"]):
            inputs = to_device(call_inputs, device)
            flat_inputs = _tensors(inputs)
            _poison_allocator(poison, device)
            gc_disable()
            gc_held[0] = True
            outcome = _watched_call(model, inputs, flat_inputs, device, host_access)
            if not intact("forward"):
                return
            if "error" in outcome:
                reporter.error("forward", outcome["error"], index=index, call=call)
                return
            out = outcome.pop("out")
            reporter.send(
                "call",
                {"index": index, "call": call, "params": params, **outcome, "input_hashes": input_hashes(flat_inputs)},
                values=out,
            )
            gc_held[0] = False
            gc_enable()
            if first is None:
                first = (model, inputs)

    reporter.send("trials_done")
    command = read_command(command_fd)
    if command.get("time") and device == "cuda" and first is not None:
        gc_disable()
        gc_held[0] = True
        _timed_phase(first[0], first[1], timing_sets, command, reporter, intact)
    reporter.send("done")


def _poison_allocator(nbytes: list[int], device: str) -> None:
    """Leave NaN-filled blocks in the caching allocator so unwritten output memory is not stale data."""
    if device != "cuda":
        return
    for n in nbytes:
        torch.empty(max(n, 4) // 4, dtype=torch.float32, device="cuda").fill_(float("nan"))


def _watched_call(
    model: torch.nn.Module,
    inputs: list[Any],
    flat_inputs: list[torch.Tensor],
    device: str,
    host_access: Callable[[], list[str]],
) -> dict[str, Any]:
    from torch.profiler import ProfilerActivity, profile

    recorder = DispatchRecorder()
    host_access()  # clear
    try:
        with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof, recorder:
            out = model(*inputs)
            early = _snapshot_on_current_stream(out) if device == "cuda" else None
        if device == "cuda":
            torch.cuda.synchronize()
    except BaseException as e:
        return {"error": e}
    result: dict[str, Any] = {
        "out": out,
        "outputs": describe_outputs(out, flat_inputs),
        "ops": sorted(set(recorder.ops)),
        "profiled_ops": sorted(set(profiled_op_names(prof))),
        "host_copies": sorted(set(recorder.host_copies)),
        "host_access": sorted(set(host_access())),
    }
    if early is not None:
        result["stream_mismatch"] = _differs(early, out)
    return result


def _snapshot_on_current_stream(out: Any) -> Any:
    if type(out) is torch.Tensor:
        return out.detach().clone()
    if type(out) in (tuple, list):
        return [_snapshot_on_current_stream(v) for v in out]
    return None


def _differs(early: Any, final: Any) -> bool:
    """Did the output change after the call returned (work still running on another stream)?"""
    if isinstance(early, torch.Tensor) and type(final) is torch.Tensor:
        return (
            not torch.equal(torch.nan_to_num(early, nan=0.0), torch.nan_to_num(final.detach(), nan=0.0))
            if early.is_floating_point()
            else not torch.equal(early, final)
        )
    if isinstance(early, list) and type(final) in (tuple, list):
        return any(_differs(e, f) for e, f in zip(early, final, strict=False))
    return False


def _timed_phase(
    model: torch.nn.Module,
    first_inputs: list[Any],
    timing_sets: list[dict[str, Any]],
    command: dict[str, Any],
    reporter: Reporter,
    intact: Callable[[str], bool],
) -> None:
    """Time the candidate with fresh input contents on every call; keep the outputs the parent asked for."""
    from verifier.worker.timing import METHOD, time_calls

    runs, warmup = int(command["runs"]), int(command["warmup_runs"])
    keep: dict[int, int] = {int(k): int(v) for k, v in command["keep"].items()}  # call index -> timing set
    buffers = to_device(first_inputs, "cuda")
    flat_buffers = _tensors(buffers)
    sources = [_tensors(to_device(s["inputs"], "cuda")) for s in timing_sets] or [_tensors(buffers)]

    def refill(i: int) -> None:
        """Give call ``i`` new input contents: a kept timing set, or a fresh permutation of one."""
        if i in keep:
            for buf, src in zip(flat_buffers, sources[keep[i]], strict=True):
                buf.copy_(src)
            return
        for buf, src in zip(flat_buffers, sources[i % len(sources)], strict=True):
            if buf.is_floating_point():
                flat = src.reshape(-1)
                buf.copy_(flat[torch.randperm(flat.numel(), device="cuda")].reshape(buf.shape))
            else:
                buf.copy_(src)

    def call() -> Any:
        return model(*buffers)

    with torch.no_grad():
        for w in range(warmup):
            refill(runs + w)
            call()
    times, kept = time_calls(call, 0, runs, frozenset(keep), before_each=refill)
    if not intact("timing"):
        return
    reporter.send(
        "timing",
        {
            "candidate_ms": statistics.median(times),
            "times_ms": times,
            "runs": runs,
            "warmup_runs": warmup,
            "method": METHOD,
            "device_name": torch.cuda.get_device_name(),
        },
    )
    order = sorted(kept)
    reporter.send("timed_outputs", {"calls": order, "sets": [keep[i] for i in order]}, values=[kept[i] for i in order])
    wall_calls = int(command.get("wall_calls", runs))
    reporter.send("wall_start", {"calls": wall_calls})
    with torch.no_grad():
        for _ in range(wall_calls):
            call()
    torch.cuda.synchronize()
    reporter.send("wall_end", {"calls": wall_calls})
