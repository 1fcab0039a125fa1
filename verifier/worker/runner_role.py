"""Kernel runner: executes checked launch plans on the real inputs and parameters. No candidate
Python runs here: the candidate is never imported, its kernels are built from the file's text
(:mod:`verifier.plan.kernel_source`) and its launch code was recorded elsewhere, on no data
(:mod:`verifier.worker.planner_role`).

On a CPU the kernels run in Triton's interpreter (their bodies, restricted to the Triton language);
on a GPU they are compiled and launched as usual, and this process also times the plan. Its frames
are authenticated; what it reports about a call (input and parameter digests after it, outputs
sharing memory with inputs) is the verifier's own observation, not a claim.

Request: the candidate's source, the device, every plan (with its constants in the blob), each
instance's parameter layout. Commands: ``state`` (an instance's parameter values), ``call`` (a
call's inputs; run its plan; send its outputs when asked; free what no later call uses), ``time``
(GPU: time the plan on the timing input sets), ``end``.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

import torch

from verifier import codec
from verifier.hostinfo import describe_host
from verifier.plan import traffic
from verifier.plan import values as pv
from verifier.plan.execute import PlanExecutor, jit_kernel
from verifier.plan.kernel_source import KernelSourceError, extract
from verifier.reference_run import flat_tensors
from verifier.worker import no_new_processes
from verifier.worker.loading import to_device
from verifier.worker.protocol import Reporter, read_message


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(codec.tensor_bytes(t)).hexdigest()


def _storage_range(t: torch.Tensor) -> tuple[int, int]:
    storage = t.untyped_storage()
    start = storage.data_ptr()
    return start, start + storage.nbytes()


def _aliases(out: Any, inputs: list[torch.Tensor]) -> list[tuple[int, list[int]]]:
    """(output index, input indices) for outputs whose storage overlaps an input's."""
    ranges = [_storage_range(t) for t in inputs]
    found = []
    for j, leaf in enumerate(flat_tensors(out)):
        lo, hi = _storage_range(leaf)
        hit = [i for i, (a, b) in enumerate(ranges) if lo < b and a < hi and b > a]
        if hit:
            found.append((j, hit))
    return found


def _describe(out: Any) -> list[dict[str, Any]]:
    return [{"type": "torch.Tensor", "device": t.device.type} for t in flat_tensors(out)]


class _Runner:
    def __init__(self, request: dict[str, Any], reporter: Reporter, command_fd: int, blob: bytes) -> None:
        self.request = request
        self.reporter = reporter
        self.command_fd = command_fd
        self.device: str = request["device"]
        kernels = extract(request["source"])
        make_kernel = jit_kernel if self.device == "cuda" else None
        self.executor = PlanExecutor(kernels, self.device, frozenset(request.get("allowed_ops", [])), make_kernel)
        self.plans: dict[tuple[int, int], dict[str, Any]] = {
            (int(p["index"]), int(p["call"])): p["plan"] for p in request["plans"]
        }
        constants = codec.decode(request["constants"], blob) if request.get("constants") else {}
        for key, meta in request.get("constant_layout", {}).items():
            value = constants[key]
            tensor = torch.empty_strided(value.shape, tuple(meta["stride"]), dtype=value.dtype, device=meta["device"])
            tensor.copy_(value)
            self.executor.set(int(key), tensor)
        self.layouts: dict[int, list[dict[str, Any]]] = {
            int(k): list(v) for k, v in request.get("instances", {}).items()
        }
        self.state_digests: dict[int, tuple[str, str]] = {}
        self.snapshots: dict[int, torch.Tensor] = {}
        for key in request.get("constant_layout", {}):
            vid = int(key)
            self.state_digests[vid] = (
                f"a constant of the plan (value {vid}, made before the forward)",
                _digest(self.executor.values[vid]),
            )

    def state(self, command: dict[str, Any], blob: bytes) -> bool:
        index = int(command["index"])
        values = codec.decode(command["values"], blob)
        for meta in self.layouts.get(index, []):
            name, vid = meta["name"], int(meta["v"])
            value = values.get(name)
            if not isinstance(value, torch.Tensor) or list(value.shape) != list(meta["shape"]):
                self.reporter.send(
                    "error",
                    {"stage": "state", "error": f"no value of shape {meta['shape']} for {name}", "traceback": ""},
                )
                return False
            tensor = torch.empty_strided(
                tuple(meta["shape"]), tuple(meta["stride"]), dtype=pv.TORCH_DTYPES[meta["dtype"]], device=self.device
            )
            tensor.copy_(value)
            self.executor.set(vid, tensor)
            self.state_digests[vid] = (name, _digest(tensor))
        self.reporter.send("state_ready", {"index": index})
        return True

    def call(self, command: dict[str, Any], blob: bytes) -> bool:
        """One correctness call: its plan run once per run number asked (each run takes every autotuned
        launch's variant ``run mod configs``), kept values restored to their snapshots before each run,
        every run's observations (and outputs when asked) sent, then the values this call made that
        later calls use snapshotted, and what no later call uses freed."""
        index, call = int(command["index"]), int(command["call"])
        plan = self.plans[(index, call)]
        inputs = to_device(codec.decode(command["inputs"], blob), self.device, fresh=True)
        flat = flat_tensors(inputs)
        runs = [int(r) for r in command.get("runs", [command.get("seq", call)])]
        for number, run in enumerate(runs):
            if number > 0:  # a config's extra run starts from the kept state as saved, not as run 0 left it
                self.restore([int(v) for v in command.get("restore", [])])
            profile = bool(command.get("profile")) and number == 0 and self.executor.checked_memory
            counter = traffic.counting() if profile else contextlib.nullcontext()
            try:
                with torch.no_grad(), counter as counted:
                    out = self.executor.run(plan, inputs, run)
                if self.device == "cuda":
                    torch.cuda.synchronize()
            except BaseException as e:
                self._run_error(e, index, call, run)
                return False
            fields = {
                "index": index,
                "call": call,
                "run": run,
                "input_hashes": [_digest(t) for t in flat],
                "state_changed": self.changed_state(),
                "aliases": _aliases(out, [t for t in flat if t.layout == torch.strided]),
                "outputs": _describe(out),
                "variants": {k: sorted(v) for k, v in self.executor.variants_used.items()},
            }
            if profile and counted is not None:
                fields["traffic"] = counted.to_dict()
            if command.get("send") or number > 0:
                self.reporter.send("ran", fields, values=out)
            else:
                self.reporter.send("ran", fields)
            del out
        for vid in [int(v) for v in command.get("snapshot", [])]:  # for extra runs and the timed phase
            value = self.executor.values.get(vid)
            if isinstance(value, torch.Tensor):
                self.snapshots[vid] = value.detach().clone()
        released = [int(v) for v in command.get("release", [])]
        self.executor.release(released)
        for vid in released:
            self.state_digests.pop(vid, None)
            self.snapshots.pop(vid, None)
        return True

    def changed_state(self) -> list[str]:
        """Parameters, buffers and plan constants whose contents a call changed (none may change)."""
        return [
            name
            for vid, (name, before) in self.state_digests.items()
            if vid in self.executor.values and _digest(self.executor.values[vid]) != before
        ]

    def restore(self, vids: list[int]) -> None:
        """Put kept values (made by an earlier call, used by this one) back as the call that made them
        left them. Correctness calls run as the candidate would in use (state carried from call to
        call, so a kernel that goes wrong after some calls is caught); an autotune config's extra run
        and every timed run start from the saved state instead, so what one run writes into a kept
        buffer (a memo of earlier inputs' results) never reaches the next."""
        for vid in vids:
            saved = self.snapshots.get(vid)
            value = self.executor.values.get(vid)
            if saved is not None and isinstance(value, torch.Tensor):
                value.copy_(saved)

    def _run_error(self, e: BaseException, index: int, call: int, run: int) -> None:
        from verifier.plan.bounds import OutOfBounds

        chain = [e, e.__cause__, e.__context__]
        memory = next((x for x in chain if isinstance(x, OutOfBounds)), None)
        if memory is not None:
            self.reporter.send(
                "error",
                {
                    "stage": "run",
                    "class": "memory",
                    "error": str(memory),
                    "traceback": "",
                    "index": index,
                    "call": call,
                },
            )
            return
        self.reporter.error("run", e, index=index, call=call, run=run)

    def time(self, command: dict[str, Any], blob: bytes) -> bool:
        """GPU timing of one plan on the timing input sets (CUDA events around the whole plan)."""
        from verifier import precision
        from verifier.worker.timing import METHOD, CudaDevice, timed_phase

        if self.device != "cuda":
            self.reporter.send("timing_skipped", {})
            return True
        plan = self.plans[(int(command["index"]), int(command["call"]))]
        sets = [to_device(s, "cuda") for s in codec.decode(command["sets"], blob)]
        runs, warmup = int(command["runs"]), int(command["warmup_runs"])
        check = {int(i) for i in command.get("check", [])}

        def sent(i: int, out: Any) -> None:
            if i in check:
                self.reporter.send("timed_outputs", {"run": i, "set": i % len(sets)}, values=out)

        self.executor.tuning = True
        try:
            with torch.no_grad():
                phase = timed_phase(
                    lambda i: self.executor.run(plan, sets[i % len(sets)], i),
                    warmup,
                    runs,
                    CudaDevice(),
                    before_each=lambda _: self.restore(list(self.snapshots)),
                    after_each=sent,
                )
        except BaseException as e:
            self.reporter.error("timing", e)
            return False
        finally:
            self.executor.tuning = False
        self.reporter.send(
            "timing",
            {
                **phase.describe(),
                "candidate_ms": phase.median_ms,
                "runs": runs,
                "method": METHOD + "; the whole launch plan (its allocations and launches) per call",
                "device_name": torch.cuda.get_device_name(),
                "fp32_precision": precision.current(),
                "tuned": {f"{name}@{pos}": i for (pos, name), i in self.executor.tuned.items()},
            },
        )
        return True


def run(request: dict[str, Any], reporter: Reporter, scratch: Path, command_fd: int, blob: bytes) -> None:
    device = request["device"]
    reporter.send("hello", {"environment": describe_host(device)})
    try:
        runner = _Runner(request, reporter, command_fd, blob)
    except (KernelSourceError, pv.PlanError) as e:
        reporter.send("error", {"stage": "runner", "error": str(e), "traceback": ""})
        return
    except BaseException as e:
        reporter.error("runner", e)
        return
    if device == "cuda":  # the plan's torch ops (and its timing) at the eager baseline's float32 precision
        from verifier import precision

        precision.pin(precision.BASELINE)
    if device == "cuda":  # the plan's torch ops (and its timing) at the eager baseline's float32 precision
        from verifier import precision

        precision.pin(precision.BASELINE)
    problem = no_new_processes.install() if device == "cpu" else None
    reporter.send("ready", {"process_filter": problem or ("seccomp" if device == "cpu" else "GPU")})
    while True:
        command, data = read_message(command_fd)
        op = command.get("op")
        if op == "state":
            ok = runner.state(command, data)
        elif op == "call":
            ok = runner.call(command, data)
        elif op == "time":
            ok = runner.time(command, data)
        elif op == "end":
            reporter.send("done")
            return
        else:
            reporter.send("error", {"stage": "worker", "error": f"unknown command {op!r}", "traceback": ""})
            return
        if not ok:
            return
