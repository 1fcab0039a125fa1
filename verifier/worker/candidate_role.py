"""Candidate worker: imports the untrusted candidate and runs the calls the parent asks for.

What this process assumes: candidate code can read and call anything in it (frames, closures,
globals, ``sys.modules``), so nothing here may decide a verdict. The process holds no key and no
future input: the parent sends each call's inputs when the call is due, asks for the outputs it
wants to check after the call returned, and judges them itself. What the harness can do here is
make harmful actions impossible before candidate code runs, and report what it observes:

1. before candidate code: warm up, capture what the compute lock needs (:mod:`compute_lock`), ban
   new processes (CPU), gate thread starts and signal handlers, watch host reads, snapshot
   namespaces, install the audit hook;
2. build every ``ModelNew`` instance with the reference's parameters (``__init__`` may compute
   its own initial values: no input exists yet), then lock framework compute for good;
3. per call: run ``forward`` under two op recorders, then report what was observed (ops, locked
   ops attempted, host reads, aliasing, input hashes): claims that serve as tripwires, not as the
   verdict;
4. send outputs only when the parent asks for them, before any more candidate code runs.

Commands (parent -> worker, header + blob): ``init``, ``call``, ``send``, ``drop``, ``time``,
``keep``, ``wall``, ``end``.
"""

from __future__ import annotations

import gc
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from verifier import codec
from verifier.hostinfo import describe_host
from verifier.worker import compute_lock, guard, no_new_processes
from verifier.worker.cuda_compile import CudaCompileCheck
from verifier.worker.loading import flat_tensors, load_module, seed_everything, to_device
from verifier.worker.protocol import Reporter, Send, read_message
from verifier.worker.recorder import DispatchRecorder, install_host_access_watch, profiled_op_names

CANDIDATE_MODULE = "kiln_candidate"


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
    input_ranges = [_storage_range(t) for t in inputs if t.layout == torch.strided]
    described = []
    for leaf in _leaves(out):
        cls = type(leaf)
        entry: dict[str, Any] = {"type": f"{cls.__module__}.{cls.__qualname__}"}
        if cls is torch.Tensor:
            entry["device"] = leaf.device.type
            if leaf.layout == torch.strided:
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
    """Exercise the harness's own machinery once, before the lock and the snapshot, so that lazy
    initialisation (profiler, allocator, Triton's driver and launcher) happens on the harness's watch."""
    from torch.profiler import ProfilerActivity, profile

    x = torch.ones(4, device=device)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof, DispatchRecorder():
        y = x + 1
    profiled_op_names(prof)
    hashlib.sha256(codec.tensor_bytes(y)).hexdigest()
    codec.encode([y, (1, 2.5, "s"), {"k": None}])
    _warm_up_triton(device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.Event(enable_timing=True).record()
        torch.cuda.current_stream().synchronize()


def _warm_up_triton(device: str) -> None:
    """Launch a trivial Triton kernel (builds the driver and launcher stubs on a GPU)."""
    import triton
    import triton.language as tl

    @triton.jit
    def _kiln_warm_up(x_ptr, n, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(x_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + 1, mask=offs < n)

    buf = torch.zeros(8, device=device)
    _kiln_warm_up[(1,)](buf, 8, BLOCK=8)


def install_cpu_autotune() -> list[str]:
    """Under the interpreter ``@triton.autotune`` cannot benchmark ("0 active drivers"): make it pick
    the first config that survives pruning, without timing, and note it for the report."""
    notes: list[str] = []
    try:
        from triton.runtime.autotuner import Autotuner
    except ImportError:  # pragma: no cover
        return notes

    def bench_without_timing(self: Any, *args: Any, config: Any, **meta: Any) -> list[float]:
        if not notes:
            notes.append(
                "@triton.autotune: the first config was used without benchmarking (Triton interpreter, no GPU)"
            )
        return [float(self.configs.index(config)) if config in self.configs else 0.0] * 3

    Autotuner._bench = bench_without_timing  # type: ignore[method-assign]
    return notes


def _tamper_header(stage: str, problems: list[str]) -> bytes:
    escape = __import__("json").encoder.encode_basestring_ascii
    return (
        '{"kind":"tamper","stage":' + escape(stage) + ',"problems":[' + ",".join(escape(p) for p in problems) + "]}"
    ).encode()


class _Harness:
    """State of one candidate worker between the parent's commands."""

    def __init__(self, request: dict[str, Any], send: Send, scratch: Path, command_fd: int) -> None:
        self.device: str = request["device"]
        self.send = send
        self.reporter = Reporter(send)
        self.scratch = scratch
        self.command_fd = command_fd
        self.request = request
        self.model: torch.nn.Module | None = None
        self.models: dict[int, torch.nn.Module] = {}
        self.model_cls: type | None = None
        self.trial_index = -1
        self.pending: dict[int, Any] = {}
        self.first_inputs: list[Any] | None = None
        self.timed_model: torch.nn.Module = torch.nn.Module()

    # ---- set-up, before any candidate code -----------------------------------------------------
    def prepare(self) -> bool:
        request, device = self.request, self.device
        self.reporter.send("hello", {"environment": describe_host(device)})
        self.cuda_check: CudaCompileCheck | None = None
        if request["language"] == "cuda" and device == "cpu":
            self.cuda_check = CudaCompileCheck(
                self.scratch, request.get("nvcc"), float(request.get("compile_timeout_s", 170))
            )
            self.cuda_check.install()

        import triton
        import triton.language  # noqa: F401

        self.autotune_notes = install_cpu_autotune() if device == "cpu" else []
        candidate_path = str((self.scratch / f"{CANDIDATE_MODULE}.py").resolve())
        candidate_files = frozenset({candidate_path})
        self.host_access = install_host_access_watch(lambda: candidate_files, str(self.scratch))
        guard.install_concurrency_gates()
        _warm_up(device)
        self.install_lock = compute_lock.prepare()
        self.lock_attempts: Callable[[], list[str]] = list
        self.locked = False
        self.process_filter = "not installed (GPU: Triton starts its compiler tools)"
        if device == "cpu" and self.cuda_check is None:
            problem = no_new_processes.install()
            self.process_filter = "seccomp: no process can be started" if problem is None else problem
        self.depths = guard.mode_stack_depths()
        # The cyclic collector is off from each forward until its outputs are sent: a finalizer of
        # candidate garbage would otherwise run at the harness's next allocations, after forward
        # returned, outside the recorders, and could still write the outputs.
        self.gc_disable, self.gc_enable, self.gc_isenabled = gc.disable, gc.enable, gc.isenabled
        self.gc_held = False
        self.checker = guard.IntegrityChecker(
            guard.harness_modules(), [*guard.harness_classes(), DispatchRecorder], strict_prefix="verifier"
        )
        sys.addaudithook(guard.make_audit_hook(self.send, lambda: candidate_files, str(self.scratch), device))
        self.reporter.send("ready", {"process_filter": self.process_filter})
        return True

    def intact(self, stage: str) -> bool:
        problems = [f"replaced {name}" for name in self.checker.changes()[:12]]
        d = self.depths()
        if d != (0, 0):
            problems.append(f"left {d[0]} dispatch mode(s) and {d[1]} function mode(s) active")
        if self.gc_held and self.gc_isenabled():
            problems.append("re-enabled the garbage collector (finalizers would run outside the recorded forward)")
        if problems:
            self.send(_tamper_header(stage, problems), ())
            return False
        return True

    # ---- import ----------------------------------------------------------------------------
    def load(self) -> bool:
        try:
            module = load_module(self.request["source"], CANDIDATE_MODULE, self.scratch)
        except BaseException as e:
            if self.intact("import"):
                self.reporter.error("import", e, locked=self.lock_attempts())
            return False
        if not self.intact("import"):
            return False
        if self.cuda_check is not None and self.cuda_check.results:
            self.reporter.send("cuda_compile", {"results": [vars(r) for r in self.cuda_check.results]})
            return False
        model_cls = getattr(module, "ModelNew", None)
        if not isinstance(model_cls, type) or not issubclass(model_cls, torch.nn.Module):
            found = "nothing" if model_cls is None else type(model_cls).__name__
            self.reporter.send(
                "error",
                {
                    "stage": "import",
                    "error": f"the candidate defines no `ModelNew` nn.Module class (found {found})",
                    "traceback": "",
                },
            )
            return False
        self.model_cls = model_cls
        self.reporter.send("loaded", {"autotune": self.autotune_notes})
        return True

    # ---- commands ---------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            command, blob = read_message(self.command_fd)
            op = command.get("op")
            if op == "init":
                ok = self.init_trial(command, blob)
            elif op == "call":
                ok = self.call(command, blob)
            elif op in ("send", "drop"):
                ok = self.release(command, op == "send")
            elif op == "time":
                ok = self.time(command, blob)
            elif op == "wall":
                ok = self.wall(command)
            elif op == "end":
                self.reporter.send("done")
                return
            else:
                self.reporter.send("error", {"stage": "worker", "error": f"unknown command {op!r}", "traceback": ""})
                return
            if not ok:
                return

    def init_trial(self, command: dict[str, Any], blob: bytes) -> bool:
        index = int(command["index"])
        values = codec.decode(command["values"], blob)
        seed_everything(int(command["seed"]))
        try:
            model = self.model_cls(*values["init"])  # type: ignore[misc]
            params = load_reference_state(model, values["state"])
            model = model.to(self.device)
        except BaseException as e:
            if self.intact("init"):
                self.reporter.error("init", e, index=index, locked=self.lock_attempts())
            return False
        if not self.intact("init"):
            return False
        self.models[index] = model
        self.reporter.send("initialized", {"index": index, "params": params})
        return True

    def lock(self) -> bool:
        """Install the compute lock (once, before the candidate's import; there is no way back)."""
        try:
            self.lock_attempts = self.install_lock(self.request.get("allowed_ops", []))
        except RuntimeError as e:
            self.send(_tamper_header("lock", [str(e)]), ())
            return False
        self.locked = True
        return self.intact("lock")

    def call(self, command: dict[str, Any], blob: bytes) -> bool:
        index, call = int(command["index"]), int(command["call"])
        if not self.locked and not self.lock():
            return False
        if index != self.trial_index:
            self.pending.clear()
            self.model, self.trial_index = self.models.pop(index, None), index
        if self.model is None:
            self.reporter.send("error", {"stage": "worker", "error": f"no instance {index}", "traceback": ""})
            return False
        inputs = to_device(codec.decode(command["inputs"], blob), self.device, fresh=True)
        flat_inputs = flat_tensors(inputs)
        _poison_allocator([int(n) for n in command.get("poison_nbytes", [])], self.device)
        self.lock_attempts()
        self.gc_disable()
        self.gc_held = True
        outcome = _watched_call(self.model, inputs, flat_inputs, self.device, self.host_access)  # type: ignore[arg-type]
        if not self.intact("forward"):
            return False
        locked = self.lock_attempts()
        if "error" in outcome:
            self.reporter.error("forward", outcome["error"], index=index, call=call, locked=locked)
            return False
        self.pending[call] = (outcome.pop("out"), outcome.pop("digest"))
        if self.first_inputs is None:
            self.first_inputs, self.timed_model = inputs, self.model
        self.reporter.send(
            "called",
            {"index": index, "call": call, **outcome, "locked": locked, "input_hashes": input_hashes(flat_inputs)},
        )
        return True

    def release(self, command: dict[str, Any], send: bool) -> bool:
        """Send (or drop) a finished call's outputs; no candidate code ran since it returned."""
        index, call = int(command["index"]), int(command["call"])
        out, digest = self.pending.pop(call, (None, None))
        if send:
            late = _digest_outputs(out) != digest
            self.reporter.send("outputs", {"index": index, "call": call, "late_write": late}, values=out)
        if self.gc_held:
            self.gc_held = False
            self.gc_enable()
        return True

    def time(self, command: dict[str, Any], blob: bytes) -> bool:
        if self.device != "cuda" or self.first_inputs is None:
            self.reporter.send("timing_skipped", {})
            return True
        self.gc_disable()
        self.gc_held = True
        sets = [to_device(s, "cuda") for s in codec.decode(command["sets"], blob)]
        return _timed_phase(self, sets, int(command["runs"]), int(command["warmup_runs"]))

    def wall(self, command: dict[str, Any]) -> bool:
        """Back-to-back calls for the parent's wall clock (it stamps this command and the reply)."""
        model, buffers = self.timed_model, self.first_inputs
        assert buffers is not None
        with torch.no_grad():
            for _ in range(int(command["calls"])):
                model(*buffers)
        torch.cuda.synchronize()
        if not self.intact("timing"):
            return False
        self.reporter.send("wall_done", {"calls": int(command["calls"])})
        return True


def run(request: dict[str, Any], send: Send, scratch: Path, command_fd: int) -> None:
    harness = _Harness(request, send, scratch, command_fd)
    if not harness.prepare():
        return
    # The lock goes in before the candidate is imported: no candidate code (import, ``__init__``,
    # ``Module.to()``) ever runs with framework compute available (random fills stay, for ``nn.init``).
    if not harness.lock():
        return
    if not harness.load():
        harness.reporter.send("done")
        return
    harness.serve()


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
    activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA] if device == "cuda" else [ProfilerActivity.CPU]
    try:
        with torch.no_grad(), profile(activities=activities) as prof, recorder:
            out = model(*inputs)
            early = _digest_outputs(out) if device == "cuda" else None
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
    if device == "cuda":
        result["gpu_kernels"] = gpu_kernel_names(prof)
    result["digest"] = _digest_outputs(out)
    if early is not None:
        result["stream_mismatch"] = early != result["digest"]
    return result


def gpu_kernel_names(prof: Any) -> list[str]:
    """Names of the GPU kernels the profiler saw run (CUDA kernel activity), unique, sorted."""
    names: set[str] = set()
    for event in prof.events():
        for kernel in getattr(event, "kernels", None) or []:
            names.add(str(getattr(kernel, "name", kernel)))
        if str(getattr(event, "device_type", "")).endswith("CUDA"):
            names.add(str(event.name))
    return sorted(names)[:200]


def _digest_outputs(out: Any) -> list[str]:
    """Content hashes of the plain tensors in ``out`` (copied to the host: no compute op involved).

    Taken on the calling stream when forward returns, and again after a device-wide synchronise:
    a difference means work was still writing the outputs on another stream."""
    return [hashlib.sha256(codec.tensor_bytes(t)).hexdigest() for t in flat_tensors(out) if type(t) is torch.Tensor]


def _timed_phase(harness: _Harness, sets: list[list[Any]], runs: int, warmup: int) -> bool:
    """Time the candidate, every call on fresh input contents (the timing sets in turn); after each
    timed call the parent says whether it wants that call's outputs, so which calls are checked is
    never known in this process before the call ran."""
    from verifier import precision
    from verifier.worker.timing import METHOD, CudaDevice, timed_phase

    model, buffers = harness.timed_model, harness.first_inputs
    assert buffers is not None
    flat_buffers = flat_tensors(buffers)
    sources = [flat_tensors(s) for s in sets] or [flat_tensors(to_device(buffers, "cuda"))]

    def inputs_for(i: int) -> list[Any]:
        """Run ``i``'s inputs: timing set ``i mod n`` copied into the first trial's buffers, or the set
        itself when its shapes differ (inputs such as a graph's edge list change size with the seed)."""
        source = sources[i % len(sources)]
        if len(source) != len(flat_buffers) or any(
            b.shape != s.shape for b, s in zip(flat_buffers, source, strict=False)
        ):
            return sets[i % len(sets)] if sets else buffers
        for buf, src in zip(flat_buffers, source, strict=True):
            buf.copy_(src)
        return buffers

    def decide(i: int, out: Any) -> None:
        harness.reporter.send("timed", {"run": i, "set": i % len(sources)})
        decision, _ = read_message(harness.command_fd)
        if decision.get("op") == "keep":
            harness.reporter.send("timed_outputs", {"run": i, "set": i % len(sources)}, values=out)

    loaded: list[list[Any]] = [buffers]

    def load(i: int) -> None:  # before the flush: the copy into the buffers is not timed
        loaded[0] = inputs_for(i)

    try:
        with torch.no_grad():
            phase = timed_phase(
                lambda _: model(*loaded[0]), warmup, runs, CudaDevice(), before_each=load, after_each=decide
            )
    except BaseException as e:
        if harness.intact("timing"):
            harness.reporter.error("timing", e)
        return False
    if not harness.intact("timing"):
        return False
    harness.reporter.send(
        "timing",
        {
            **phase.describe(),
            "candidate_ms": phase.median_ms,
            "runs": runs,
            "method": METHOD,
            "device_name": torch.cuda.get_device_name(),
            "fp32_precision": precision.current(),
        },
    )
    return True
