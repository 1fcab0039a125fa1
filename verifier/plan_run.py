"""Verifying a Triton candidate by plan, then run: no process that runs candidate Python holds data.

1. **Kernels from the text.** The candidate's ``@triton.jit`` kernels are taken from its source
   (:mod:`verifier.plan.kernel_source`); a body that is not plain Triton language is refused
   (``kernels``).
2. **Plan.** A planner worker imports the candidate, builds each instance from the reference's
   constructor arguments and records every forward call on fake tensors with the call's shapes
   (:mod:`verifier.worker.planner_role`). It gets no input data, no parameter values of the
   reference, no output, no seed of the run.
3. **Check the plans** here: allowed ops only (``no_fallback``), launches of the file's own kernels
   only, values used only after they exist, and from the second call on the same plan for the same
   shapes (``plan``); a dry run on fake tensors gives each launch's signature.
4. **Compile** every launched kernel for the GPU target (sm_90 unless the GPU says otherwise) in a
   worker of its own, before anything runs (``gpu_compile``); results are cached here by content.
5. **Run.** The kernel runner (:mod:`verifier.worker.runner_role`) executes the plans on the real
   parameters and inputs, sent call by call, and returns the outputs; it imports no candidate code.
   Outputs are compared here; on a GPU the runner times the plan.
"""

from __future__ import annotations

import collections
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from verifier import codec
from verifier.backward import BackwardLayout, in_training_terms, leaf_judging
from verifier.candidate_run import (
    KEPT_TIMED_CALLS,
    PAYLOAD_BASE_MB,
    PAYLOAD_FACTOR,
    CandidateOutcome,
    checked_calls,
    max_frame_bytes,
    traceback_summary,
)
from verifier.channel import Frame
from verifier.evaluation import (
    CheckLedger,
    ConversationEnded,
    inputs_modified,
    judge_device,
    judge_outputs,
    judge_timed_outputs,
    param_hint,
    parameters_note,
    timed_call,
)
from verifier.gpu_lock import timing_lock
from verifier.plan import values as pv
from verifier.plan.execute import Launch, PlanExecutor
from verifier.plan.kernel_source import KernelSource, KernelSourceError, extract
from verifier.plan.validate import (
    MAX_PLAN_ITEMS,
    PlanFacts,
    canonical,
    check_plan,
    digest,
    releases,
    schema_problem,
)
from verifier.reference_run import PreparedReference, ReferenceTrial, flat_tensors
from verifier.sandbox.isolation import Isolation
from verifier.sandbox.runner import WorkerSession
from verifier.spec import Candidate, Reference, VerifyOptions

Progress = Callable[[str], None]
PLANNER_FRAME_BYTES = 1 << 30
"""The most a planner frame may carry (plans with their constants, the candidate's own initial
parameter values): a larger claim is refused before it is buffered."""
PLANNER_HEADER_BYTES = 16 << 20
"""The most JSON one planner frame may carry (a plan of the step limit fits several times over)."""
MAX_CONSTANTS = 4096
"""Constants in all of one candidate's plans (each is also counted in record.MAX_CONSTANT_BYTES)."""
KNOWN_FILTER_TEXTS = frozenset(
    {
        "seccomp: no process can be started",
        "not installed (GPU: Triton starts its compiler tools)",
        "seccomp",
        "GPU",
    }
)
DEVICE_TEXT = re.compile(r"^(cpu|cuda(:[0-9]{1,2})?)$")
DEFAULT_GPU_ARCH = 90
BUILD_CACHE_SIZE = 4096


@dataclass
class _Planned:
    """What the planner reported for one instance."""

    state: list[dict[str, Any]]
    mapping: dict[str, Any]
    values: dict[str, torch.Tensor]
    plans: dict[int, dict[str, Any]] = field(default_factory=dict)
    constants: dict[int, list[tuple[dict[str, Any], torch.Tensor]]] = field(default_factory=dict)
    extra: tuple[dict[str, Any], list[tuple[dict[str, Any], torch.Tensor]]] | None = None
    """One more plan on the last call's shapes, asked for and never run: the planner cannot tell it
    from a real call, so the stability rule holds from the second call on however few calls run."""


class _BuildCache:
    """GPU build results by content key (kernel text, signature, constexprs, options, target, Triton)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, build: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = build
            self._items.move_to_end(key)
            while len(self._items) > BUILD_CACHE_SIZE:
                self._items.popitem(last=False)


BUILDS = _BuildCache()


def input_meta(value: Any) -> Any:
    """A call's inputs as the planner sees them: dtype, shape and strides of each tensor (contiguous,
    as the runner will receive them); other values as they are."""
    if isinstance(value, torch.Tensor):
        shape = list(value.shape)
        stride = list(torch.empty(0).new_empty(shape, device="meta").stride()) if shape else []
        return {"T": [codec.dtype_name(value.dtype), shape, stride]}
    if isinstance(value, list):
        return {"l": [input_meta(v) for v in value]}
    if isinstance(value, tuple):
        return {"t": [input_meta(v) for v in value]}
    encoded, _ = codec.encode(value)
    return encoded


def map_state(meta: list[dict[str, Any]], state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Which reference tensor each of the candidate's parameters/buffers takes: by name, then by a
    shape only one of each has; the rest keep the candidate's own initial values."""
    own = {m["name"]: tuple(m["shape"]) for m in meta}
    by_name = {k: k for k, v in state.items() if k in own and own[k] == tuple(v.shape)}
    ref_left = {k: tuple(v.shape) for k, v in state.items() if k not in by_name}
    own_left = {k: s for k, s in own.items() if k not in by_name}
    by_shape: dict[str, str] = {}
    for rk, shape in ref_left.items():
        ref_same = [k for k, s in ref_left.items() if s == shape]
        own_same = [k for k, s in own_left.items() if s == shape]
        if len(ref_same) == 1 and len(own_same) == 1:
            by_shape[own_same[0]] = rk
    source = {**by_name, **by_shape}
    return {
        "source": source,
        "reference_tensors": len(state),
        "loaded_by_name": sorted(by_name),
        "loaded_by_shape": sorted(f"{rk}->{ok}" for ok, rk in by_shape.items()),
        "reference_only": sorted(k for k in ref_left if k not in by_shape.values()),
        "candidate_only": sorted(k for k in own_left if k not in by_shape),
    }


class PlanRun:
    """One Triton candidate: ``start`` its planner early, ``drive`` it once the reference is prepared."""

    def __init__(
        self, candidate: Candidate, reference: Reference, device: str, isolation: Isolation, options: VerifyOptions
    ) -> None:
        self.candidate = candidate
        self.reference = reference
        self.device = device
        self.isolation = isolation
        self.options = options
        self.planner = WorkerSession.for_run(
            "planner",
            isolation,
            options,
            device,
            authenticated=False,
            max_result_bytes=PLANNER_FRAME_BYTES,
            max_header_bytes=PLANNER_HEADER_BYTES,
        )
        self.constant_count = 0
        self.constant_bytes = 0
        self.plan_budget = [MAX_PLAN_ITEMS]
        self._started = False
        self._starter: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._planner_started = threading.Event()
        self._planner_closed = threading.Event()
        self._rng = secrets.SystemRandom()
        self.kernels: KernelSource | None = None
        self.kernel_problem: str | None = None
        try:
            self.kernels = extract(candidate.source)
        except KernelSourceError as e:
            self.kernel_problem = str(e)

    def start(self) -> None:
        """Start the planner (in the background: a warm server may still be importing torch, and the
        reference's worker starts meanwhile) and the compile worker's server."""
        self._started = True
        self._starter = threading.Thread(target=self._start_planner, name="kiln-planner-start", daemon=True)
        self._starter.start()
        self._prewarm_compiler()

    def _start_planner(self) -> None:
        """Runs in its own thread, which then stays until the planner is closed: a sandbox started with
        bwrap's --die-with-parent dies when the thread that started it exits."""
        try:
            self.planner.start({"source": self.candidate.source, "device": self.device})
        except BaseException as e:  # raised where the planner is first used
            self._start_error = e
        finally:
            self._planner_started.set()
        self._planner_closed.wait()

    def _planner_ready(self) -> None:
        self._planner_started.wait()
        if self._start_error is not None:
            raise self._start_error

    def _close_planner(self) -> Any:
        """Close the planner session, then let its starting thread end."""
        try:
            return self.planner.close()
        finally:
            self._planner_closed.set()

    def _prewarm_compiler(self) -> None:
        """Have the compile worker's server start while the reference and the planner run."""
        from verifier.sandbox import warm
        from verifier.sandbox.runner import PACKAGE_DIR, SCRATCH_CAP_BYTES

        if warm.enabled(self.isolation.mechanism, self.device == "cuda"):
            warm.POOL.prewarm(
                warm.ServerSpec(self.isolation, self.device == "cuda", PACKAGE_DIR, SCRATCH_CAP_BYTES, interpret=False)
            )

    def abort(self) -> None:
        if self._started:
            self._planner_started.wait()
            self.planner.__exit__(None, None, None)
            self._planner_closed.set()

    # ---- the whole run --------------------------------------------------------------------------
    def drive(
        self, prepared: PreparedReference, ledger: CheckLedger, progress: Progress | None = None
    ) -> CandidateOutcome:
        """The whole run; whatever the candidate's workers sent, a verdict and never an exception."""
        self.prepared, self.ledger, self.outcome = prepared, ledger, CandidateOutcome()
        self._builds: list[dict[str, Any]] = []
        self._profiled: list[dict[str, Any]] = []
        try:
            return self._drive(prepared, ledger, progress)
        except Exception as e:
            ledger.fail(
                "process",
                f"the verifier could not complete the run ({type(e).__name__}: {str(e)[:300]})",
            )
            self.abort()
            return self.outcome

    def _drive(
        self, prepared: PreparedReference, ledger: CheckLedger, progress: Progress | None = None
    ) -> CandidateOutcome:
        outcome = self.outcome
        outcome.notes.append(
            "plan/run: the candidate's Python ran on tensors without data; its kernels ran in a process that "
            "imports no candidate code"
        )
        if self.kernel_problem is not None or self.kernels is None:
            self.abort()
            ledger.fail("load", f"the candidate does not parse: {self.kernel_problem}")
            return outcome
        kernels = self.kernels
        if kernels.findings:
            for finding in kernels.findings:
                ledger.fail("kernels", str(finding))
            self.abort()
            return outcome
        names = ", ".join(sorted(kernels.kernels)) or "none"
        ledger.ok("kernels", f"{len(kernels.kernels)} @triton.jit kernel(s) taken from the file's text: {names}")
        total = sum(len(t.calls) for t in prepared.trials)
        if progress:
            progress(f"planner: recording {total} forward call(s) on tensors without data")
        planned = self._plan(prepared, progress)
        outcome.worker_start = "warm fork" if self.planner.started_warm else "cold"
        if planned is None or not ledger.passed:
            return outcome
        if prepared.mode == "backward":
            ledger.ok(
                "backward",
                "every call recorded as a training step: the forward with autograd, then the backward of a fresh "
                "random grad_output on this call's tensors",
            )
        sequence = self._check_plans(prepared, planned, kernels)
        if sequence is None or not ledger.passed:
            return outcome
        launches = self._dry_run(prepared, planned, kernels)
        if launches is None or not ledger.passed:
            return outcome
        if self.options.compile_only:
            if self._compile_checked(kernels, launches, progress):
                from verifier.plan.profile import assemble

                outcome.static_profile = assemble(self._builds, [], self._arch())
            return outcome
        runner, frees = self._start_runner(prepared, planned, sequence)  # starts while the kernels compile
        try:
            compiled = self._compile_checked(kernels, launches, progress)
            if compiled:
                self._run(runner, frees, prepared, planned, sequence, progress)
        finally:
            runner.__exit__(None, None, None)  # already closed after a run; else it was sent no data
        if compiled:
            from verifier.plan.profile import assemble

            outcome.static_profile = assemble(self._builds, self._profiled, self._arch())
        return outcome

    # ---- 2. planning ------------------------------------------------------------------------------
    def _expect(self, session: WorkerSession, kinds: set[str]) -> Frame:
        passive = {"hello", "ready", "violation"}
        while True:
            frame = session.receive(kinds | passive | {"error", "tamper", "done"})
            if frame is None:
                raise ConversationEnded(None)
            if frame.kind in passive:
                self._passive(frame, session is self.planner)
                continue
            if frame.kind in kinds:
                return frame
            raise ConversationEnded(frame)

    def _passive(self, frame: Frame, from_planner: bool) -> None:
        """hello/ready/violation frames. The planner's are the candidate's claims: only known texts of
        them reach the report (its environment never does; the runner's does)."""
        h = frame.header
        if frame.kind == "hello" and not from_planner and isinstance(h.get("environment"), dict):
            self.outcome.environment = h["environment"]
        elif frame.kind == "ready" and "process_filter" in h:
            claim = h.get("process_filter")
            known = claim if claim in KNOWN_FILTER_TEXTS else "(a text the verifier does not know: not shown)"
            note = f"{'planner' if from_planner else 'kernel runner'}: process creation {known}"
            if note not in self.outcome.notes:
                self.outcome.notes.append(note)
        elif frame.kind == "violation":
            detail, where = str(h.get("detail", h.get("event")))[:300], str(h.get("where", "?"))[:200]
            self.ledger.fail("sandbox", f"blocked {detail} at {where}")

    def _plan(self, prepared: PreparedReference, progress: Progress | None) -> dict[int, _Planned] | None:
        ledger = self.ledger
        planned: dict[int, _Planned] = {}
        end: Frame | None = None
        if not self._started:
            self.start()
        self._planner_ready()
        with self.planner:
            try:
                self._expect(self.planner, {"loaded"})
                ledger.ok("load")
                for trial in prepared.trials:
                    planned[trial.index] = self._plan_trial(trial)
                self.planner.message({"op": "end"})
                end = self._expect(self.planner, {"done"})
            except ConversationEnded as stop:
                end = stop.frame
            except (codec.CodecError, pv.PlanError, KeyError, TypeError, ValueError, RecursionError) as e:
                ledger.fail("plan", f"the planner sent something malformed: {type(e).__name__}: {str(e)[:300]}")
                end = None
            exit_info = self._close_planner()
        self.outcome.exit = exit_info
        if end is not None and end.kind == "done" and len(planned) == len(prepared.trials):
            return planned
        self._planner_failed(end, exit_info, prepared)
        return None

    def _plan_trial(self, trial: ReferenceTrial) -> _Planned:
        values, blobs = codec.encode(trial.init)
        self.planner.message(
            {"op": "instance", "index": trial.index, "seed": self._rng.randrange(1, 1 << 31), "init": values}, blobs
        )
        frame = self._expect(self.planner, {"instance"})
        state = frame.header.get("state")
        if not isinstance(state, list) or not all(isinstance(m, dict) for m in state):
            raise pv.PlanError("the planner described the instance's parameters malformed")
        for m in state:
            if not (
                isinstance(m.get("name"), str)
                and isinstance(m.get("v"), int)
                and m.get("dtype") in pv.TORCH_DTYPES
                and isinstance(m.get("shape"), list)
                and isinstance(m.get("stride"), list)
                and len(m["shape"]) == len(m["stride"]) <= 16
                and all(isinstance(s, int) and 0 <= s < 1 << 40 for s in [*m["shape"], *m["stride"]])
            ):
                raise pv.PlanError(f"a malformed parameter description {str(m)[:120]}")
        mapping = map_state(state, trial.state)
        own_names = [m["name"] for m in state if m["name"] not in mapping["source"]]
        own: dict[str, torch.Tensor] = {}
        if own_names:
            self.planner.message({"op": "state_values", "index": trial.index, "names": own_names})
            frame = self._expect(self.planner, {"state_values"})
            decoded = codec.decode(frame.header.get("values"), frame.blob)
            if not isinstance(decoded, dict):
                raise pv.PlanError("the planner sent the instance's own values malformed")
            own = {k: v for k, v in decoded.items() if isinstance(v, torch.Tensor)}
        result = _Planned(state=state, mapping=mapping, values=own)
        calls = [*trial.calls, trial.calls[-1]]
        for call, input_set in enumerate(calls):
            meta = [input_meta(v) for v in input_set.inputs]
            command = {"op": "plan", "index": trial.index, "call": call, "inputs": meta}
            if input_set.backward is not None:
                command["backward"] = self._backward_command(trial, input_set.backward, mapping)
            self.planner.message(command)
            frame = self._expect(self.planner, {"plan"})
            header = frame.header
            if int(header.get("index", -1)) != trial.index or int(header.get("call", -1)) != call:
                raise pv.PlanError(f"the planner answered call {header.get('call')} where call {call} was due")
            problem = schema_problem(header.get("plan"), self.plan_budget)
            if problem is not None:
                raise pv.PlanError(f"call {call + 1}: {problem}")
            constants = codec.decode(header.get("values"), frame.blob) if header.get("values") is not None else []
            described = header.get("constants", [])
            if not isinstance(constants, list) or not isinstance(described, list) or len(constants) != len(described):
                raise pv.PlanError("the plan's constants are malformed")
            for meta_entry, value in zip(described, constants, strict=True):
                self._check_constant(meta_entry, value)
            if call == len(trial.calls):
                result.extra = (header.get("plan"), list(zip(described, constants, strict=True)))
            else:
                result.plans[call] = header.get("plan")
                result.constants[call] = list(zip(described, constants, strict=True))
        return result

    def _backward_command(self, trial: ReferenceTrial, layout: BackwardLayout, mapping: dict[str, Any]) -> dict:
        """What the planner needs to record a training call: the layout, with the reference's parameters
        named as the candidate's (a reference parameter without a counterpart ends the run: its
        gradient could not be checked)."""
        own_for = {ref: own for own, ref in mapping["source"].items()}
        missing = [name for name in layout.params if name not in own_for]
        if missing:
            self.ledger.fail(
                "backward",
                f"reference parameter(s) {missing[:4]} have no counterpart in ModelNew (by name or by a shape only "
                "one has): their gradients cannot be checked",
                trial.describe(),
            )
            raise ConversationEnded(None)
        return {**layout.to_dict(), "params": [own_for[name] for name in layout.params]}

    def _check_constant(self, meta: Any, value: Any) -> None:
        """A plan constant's description is exact and all constants stay within the budget (the
        planner's own cap runs in the candidate's process, so it is checked again here)."""
        from verifier.plan.record import MAX_CONSTANT_BYTES

        if not (
            isinstance(meta, dict)
            and set(meta) == {"v", "device", "stride"}
            and isinstance(meta["v"], int)
            and isinstance(meta["device"], str)
            and DEVICE_TEXT.match(meta["device"])
            and isinstance(value, torch.Tensor)
            and isinstance(meta["stride"], list)
            and len(meta["stride"]) == value.dim()
            and all(isinstance(x, int) and 0 <= x < 1 << 40 for x in meta["stride"])
        ):
            raise pv.PlanError(f"a malformed plan constant {str(meta)[:120]}")
        if meta["device"].startswith("cuda") and self.device != "cuda":
            raise pv.PlanError("a plan constant on a GPU where there is none")
        self.constant_count += 1
        self.constant_bytes += value.numel() * value.element_size()
        if self.constant_count > MAX_CONSTANTS or self.constant_bytes > MAX_CONSTANT_BYTES:
            raise pv.PlanError(
                f"the plans' constants exceed {MAX_CONSTANTS} tensors or {MAX_CONSTANT_BYTES >> 20} MiB in all"
            )
        span = sum((n - 1) * st for n, st in zip(value.shape, meta["stride"], strict=True) if n > 0) + 1
        if value.numel() and span > (1 << 40):
            raise pv.PlanError("a plan constant's strides reach too far")

    def _planner_failed(self, end: Frame | None, exit_info: Any, prepared: PreparedReference) -> None:
        ledger = self.ledger
        if end is None:
            if ledger.passed:
                ledger.fail(
                    "process",
                    f"the planner process {exit_info.describe(self.options.timeout_s, self.options.memory_limit_mb)}",
                )
            return
        h = end.header
        stage = h.get("stage")
        where = ""
        if isinstance(h.get("index"), int) and 0 <= h["index"] < len(prepared.trials):
            trial = prepared.trials[h["index"]]
            call = h.get("call")
            where = trial.describe(call if isinstance(call, int) and 0 <= call < len(trial.calls) else None)
        if end.kind == "tamper":
            ledger.fail("integrity", "; ".join(str(p) for p in h.get("problems", []))[:1000] or "tampering")
        elif stage == "import":
            ledger.fail("load", traceback_summary(h))
        elif stage == "init":
            ledger.fail("forward", f"ModelNew(...) failed: {traceback_summary(h)}", where)
        elif stage == "forward" and h.get("class") in ("host_read", "fallback"):
            ledger.fail("no_fallback", str(h.get("error", ""))[:600], where)
        elif stage == "forward" and h.get("class") == "backward":
            ledger.fail("backward", str(h.get("error", ""))[:600], where)
        elif stage == "forward" and h.get("class") in ("type", "stream"):
            ledger.fail(str(h["class"]), str(h.get("error", ""))[:600], where)
        elif stage == "forward" and h.get("class") == "plan":
            ledger.fail(
                "plan", f"the forward cannot be recorded as a launch plan: {str(h.get('error', ''))[:600]}", where
            )
        elif stage == "forward":
            ledger.fail("forward", traceback_summary(h), where)
        elif end.kind == "done":
            ledger.fail("process", "the planner stopped before every call was planned")
        else:
            ledger.fail("process", f"the planner failed ({stage}): {str(h.get('error', ''))[:500]}")

    # ---- 3. checking the plans ------------------------------------------------------------------
    def _check_plans(
        self, prepared: PreparedReference, planned: dict[int, _Planned], kernels: KernelSource
    ) -> list[tuple[int, int, PlanFacts]] | None:
        ledger = self.ledger
        defined: set[int] = set()
        sequence: list[tuple[int, int, PlanFacts]] = []
        for trial in prepared.trials:
            p = planned[trial.index]
            for m in p.state:
                if m["v"] in defined:
                    ledger.fail("plan", f"parameter {m['name']} reuses value {m['v']}", trial.describe())
                    return None
                defined.add(m["v"])
            groups: dict[str, list[tuple[int, str]]] = {}
            for call in range(len(trial.calls)):
                plan = p.plans.get(call)
                constants = p.constants.get(call, [])
                where = trial.describe(call)
                try:
                    constant_ids = [int(meta["v"]) for meta, _t in constants]
                except (KeyError, TypeError, ValueError):
                    ledger.fail("plan", "the plan's constants are malformed", where)
                    return None
                tensors = len(flat_tensors(trial.calls[call].inputs))
                issues, facts = check_plan(
                    plan, kernels, defined, constant_ids, tensors, prepared.reference.allowed_ops
                )
                if issues:
                    for issue in issues[:3]:
                        ledger.fail(issue.check, in_training_terms(issue.message, prepared.mode), where)
                    return None
                digests = {int(meta["v"]): digest(codec.tensor_bytes(t)) for meta, t in constants}
                text = canonical(plan, facts, digests)
                shape_key = repr([input_meta(v) for v in trial.calls[call].inputs])
                group = groups.setdefault(shape_key, [])
                group.append((call, text))
                if len(group) >= 3 and text != group[1][1]:
                    ledger.fail(
                        "plan",
                        f"the launch plan changed at call {call + 1}: from the second call on inputs of these shapes "
                        f"(call {group[1][0] + 1}) the forward must launch the same (what it does may not depend on "
                        "how many times it was called)",
                        where,
                    )
                    return None
                sequence.append((trial.index, call, facts))
            if p.extra is not None and not self._extra_is_stable(trial, p, kernels, defined, groups):
                return None
        ledger.ok("plan", self._plan_note(planned))
        ledger.ok(
            "no_fallback", "plans hold allocation, layout and data movement only; every value comes from the kernels"
        )
        return sequence

    def _extra_is_stable(
        self,
        trial: ReferenceTrial,
        p: _Planned,
        kernels: KernelSource,
        defined: set[int],
        groups: dict[str, list[tuple[int, str]]],
    ) -> bool:
        """The extra (never run) plan on the last call's shapes must be the same as that call's, from the
        second call on: what the forward launches may not depend on how many times it was called."""
        assert p.extra is not None
        plan, constants = p.extra
        call = len(trial.calls)
        where = f"{trial.describe()}, the call after the last"
        try:
            constant_ids = [int(meta["v"]) for meta, _t in constants]
        except (KeyError, TypeError, ValueError):
            self.ledger.fail("plan", "the plan's constants are malformed", where)
            return False
        inputs = trial.calls[-1].inputs
        issues, facts = check_plan(
            plan, kernels, set(defined), constant_ids, len(flat_tensors(inputs)), self.prepared.reference.allowed_ops
        )
        if issues:
            for issue in issues[:3]:
                self.ledger.fail(issue.check, in_training_terms(issue.message, self.prepared.mode), where)
            return False
        digests = {int(meta["v"]): digest(codec.tensor_bytes(t)) for meta, t in constants}
        text = canonical(plan, facts, digests)
        group = groups.get(repr([input_meta(v) for v in inputs]), [])
        reference = group[1][1] if len(group) >= 2 else None
        if reference is not None and text != reference:
            self.ledger.fail(
                "plan",
                f"the launch plan changed at call {call + 1}: from the second call on inputs of these shapes (call "
                f"{group[1][0] + 1}) the forward must launch the same (what it does may not depend on how many "
                "times it was called)",
                where,
            )
            return False
        return True

    def _plan_note(self, planned: dict[int, _Planned]) -> str:
        steps = [len(p["steps"]) for pl in planned.values() for p in pl.plans.values() if isinstance(p, dict)]
        launches = [
            sum(1 for s in p["steps"] if isinstance(s, dict) and "launch" in s)
            for pl in planned.values()
            for p in pl.plans.values()
            if isinstance(p, dict)
        ]
        return (
            f"{len(steps)} call(s) recorded on tensors without data: {max(launches, default=0)} launch(es) and "
            f"{max(steps, default=0)} step(s) a call at most; the same plan from the second call on"
        )

    # ---- dry run: signatures ------------------------------------------------------------------------
    def _dry_run(
        self, prepared: PreparedReference, planned: dict[int, _Planned], kernels: KernelSource
    ) -> list[Launch] | None:
        from torch._subclasses.fake_tensor import FakeTensorMode

        mode = FakeTensorMode(allow_non_fake_inputs=True)
        executor = PlanExecutor(kernels, prepared.device, frozenset(prepared.reference.allowed_ops), fake=True)
        try:
            return self._dry_run_all(prepared, planned, executor, mode)
        except Exception as e:  # anything the planner's claims make the dry run do: the plan's fault
            self.ledger.fail(
                "plan", f"the plan does not run on tensors without data: {type(e).__name__}: {str(e)[:400]}"
            )
            return None

    def _dry_run_all(
        self, prepared: PreparedReference, planned: dict[int, _Planned], executor: PlanExecutor, mode: Any
    ) -> list[Launch] | None:
        device = prepared.device
        for trial in prepared.trials:
            p = planned[trial.index]
            with mode:
                for m in p.state:
                    executor.set(
                        m["v"],
                        torch.empty_strided(m["shape"], m["stride"], dtype=pv.TORCH_DTYPES[m["dtype"]], device=device),
                    )
            for call in range(len(trial.calls)):
                where = trial.describe(call)
                with mode:
                    for meta, value in p.constants.get(call, []):
                        executor.set(
                            int(meta["v"]),
                            torch.empty_strided(
                                value.shape, value.stride(), dtype=value.dtype, device=str(meta.get("device", "cpu"))
                            ),
                        )
                    inputs = [
                        torch.empty(v.shape, dtype=v.dtype, device=device) if isinstance(v, torch.Tensor) else v
                        for v in trial.calls[call].inputs
                    ]
                try:
                    with mode, torch.no_grad():
                        executor.run(p.plans[call], inputs, call)
                except Exception as e:
                    self.ledger.fail("plan", f"the plan does not run: {type(e).__name__}: {str(e)[:400]}", where)
                    return None
        unique: dict[str, Launch] = {}
        for launch in executor.launches:
            unique.setdefault(_launch_key(launch), launch)
        return list(unique.values())

    # ---- 4. compiling for the GPU -----------------------------------------------------------------------
    def _compile_checked(self, kernels: KernelSource, launches: list[Launch], progress: Progress | None) -> bool:
        try:
            return self._compile(kernels, launches, progress)
        except (pv.PlanError, TypeError, ValueError, KeyError) as e:
            self.ledger.fail("plan", f"the plan's launches cannot be compiled: {str(e)[:400]}")
            return False

    def _compile(self, kernels: KernelSource, launches: list[Launch], progress: Progress | None) -> bool:
        from verifier.plan.compile import compile_jobs, run_compile_worker

        arch = self._arch()
        jobs = compile_jobs(kernels, launches, arch)
        builds: dict[str, dict[str, Any]] = {}
        missing = []
        for job in jobs:
            cached = BUILDS.get(job["key"])
            if cached is not None:
                builds[job["key"]] = cached
            else:
                missing.append(job)
        if missing:
            if progress:
                progress(f"compile: {len(missing)} kernel build(s) for sm_{arch} ({len(jobs) - len(missing)} cached)")
            found, problem = run_compile_worker(
                self.candidate.source, missing, arch, self.isolation, self.options, self.device
            )
            if problem is not None:
                self.ledger.fail("gpu_compile", problem)
                return False
            for key, build in found.items():
                if build.get("ok") or build.get("error"):
                    BUILDS.put(key, build)
                builds[key] = build
        failed = [b for b in builds.values() if not b.get("ok")]
        for build in failed[:3]:
            self.ledger.fail(
                "gpu_compile",
                f"kernel `{build.get('kernel')}` does not compile for sm_{arch}: {str(build.get('error', ''))[:1500]}",
            )
        if failed:
            return False
        summaries = sorted({str(b.get("summary") or b.get("kernel")) for b in builds.values()})
        if not builds:
            self.ledger.ok("gpu_compile", "the plans launch no kernel")
            return True
        self._builds = list(builds.values())
        too_big = _over_shared_memory(builds.values(), arch)
        warning = f"; NOT LAUNCHABLE on sm_{arch}: {too_big}" if too_big else ""
        self.ledger.ok("gpu_compile", f"{len(builds)} build(s) for sm_{arch}: " + "; ".join(summaries[:6]) + warning)
        self.outcome.notes.append(f"GPU builds (sm_{arch}): " + "; ".join(summaries[:12]))
        if too_big:
            self.outcome.notes.append(
                f"on a GPU of sm_{arch} these kernels would not launch: {too_big} (this CPU verdict is the "
                "interpreter's; a GPU run refuses them when launched)"
            )
        return True

    def _arch(self) -> int:
        if self.options.gpu_arch is not None:
            return self.options.gpu_arch
        if self.device == "cuda" and torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability()
            return major * 10 + minor
        return DEFAULT_GPU_ARCH

    # ---- 5. running ---------------------------------------------------------------------------------------
    def _start_runner(
        self, prepared: PreparedReference, planned: dict[int, _Planned], sequence: list[tuple[int, int, PlanFacts]]
    ) -> tuple[WorkerSession, list[list[int]]]:
        """Start the kernel runner with the checked plans and their constants (no data yet), and what it
        may free after each call."""
        first = prepared.trials[0]
        timed = self.device == "cuda" and self.options.measure and bool(prepared.timing_sets)
        keep: set[int] = set()
        if timed:
            last = planned[first.index].plans[len(first.calls) - 1]
            keep = {r for r in pv.refs(last["steps"]) if r not in pv.refs(last["inputs"])}
            keep |= {m["v"] for m in planned[first.index].state}
        frees = releases([facts for _i, _c, facts in sequence], keep)
        constants: dict[str, torch.Tensor] = {}
        layout: dict[str, dict[str, Any]] = {}
        for p in planned.values():
            for entries in p.constants.values():
                for meta, value in entries:
                    constants[str(int(meta["v"]))] = value
                    layout[str(int(meta["v"]))] = {
                        "stride": list(meta.get("stride") or value.stride()),
                        "device": str(meta.get("device", "cpu")),
                    }
        encoded, blobs = codec.encode(constants)
        request = {
            "source": self.candidate.source,
            "device": self.device,
            "allowed_ops": sorted(prepared.reference.allowed_ops),
            "plans": [
                {"index": t.index, "call": c, "plan": planned[t.index].plans[c]}
                for t in prepared.trials
                for c in range(len(t.calls))
            ],
            "constants": encoded,
            "constant_layout": layout,
            "instances": {str(t.index): planned[t.index].state for t in prepared.trials},
        }
        runner = WorkerSession.for_run(
            "runner",
            self.isolation,
            self.options,
            self.device,
            authenticated=True,
            max_result_bytes=_max_output_bytes(prepared),
        )
        if self.device == "cuda":  # inputs and outputs cross the pipe and sit in host memory around each call
            per_call = max(
                (
                    sum(t.numel() * t.element_size() for t in flat_tensors(c.inputs) + flat_tensors(c.outputs))
                    for trial in prepared.trials
                    for c in trial.calls
                ),
                default=0,
            )
            runner.memory_limit_mb = max(runner.memory_limit_mb, PAYLOAD_BASE_MB + PAYLOAD_FACTOR * (per_call >> 20))
        runner.start(request, blobs)
        return runner, frees

    def _run(
        self,
        runner: WorkerSession,
        frees: list[list[int]],
        prepared: PreparedReference,
        planned: dict[int, _Planned],
        sequence: list[tuple[int, int, PlanFacts]],
        progress: Progress | None,
    ) -> None:
        ledger, outcome = self.ledger, self.outcome
        timed = self.device == "cuda" and self.options.measure and bool(prepared.timing_sets)
        end: Frame | None = None
        total = len(sequence)
        schedule = call_schedule(sequence, planned)
        with runner:
            try:
                seq = 0
                for trial in prepared.trials:
                    p = planned[trial.index]
                    self._send_state(runner, trial, p)
                    checked = checked_calls(trial, self._rng)
                    for call, input_set in enumerate(trial.calls):
                        command = {"release": frees[seq], **schedule[seq]}
                        if call == 0 and trial.shape not in {c["shape"] for c in self._profiled}:
                            command["profile"] = True
                        self._run_call(runner, trial, call, input_set, call in checked, seq, command, p)
                        seq += 1
                        if progress:
                            progress(f"runner: call {seq}/{total} run ({'ok' if ledger.passed else 'FAILED'})")
                if ledger.passed and timed:
                    if progress:
                        progress(f"runner: timing {self.options.timing_runs} runs on {self.device}")
                    with timing_lock():
                        self._time(runner, prepared)
                runner.message({"op": "end"})
                end = self._expect(runner, {"done"})
            except ConversationEnded as stop:
                end = stop.frame
            except (codec.CodecError, KeyError, TypeError, ValueError, RecursionError) as e:
                ledger.fail("process", f"the runner's answer could not be read: {type(e).__name__}: {str(e)[:300]}")
            runner_exit = runner.close()
        if end is not None and end.kind == "done":
            outcome.completed = True
            ledger.ok("process", f"planner and runner ran to completion (runner {runner_exit.wall_s:.1f} s)")
            return
        if end is not None and end.kind == "error":
            h = end.header
            where = ""
            index, call = h.get("index"), h.get("call")
            if isinstance(index, int) and 0 <= index < len(prepared.trials):
                trial = prepared.trials[index]
                where = trial.describe(call if isinstance(call, int) and 0 <= call < len(trial.calls) else None)
            if h.get("class") == "memory":
                ledger.fail("memory", str(h.get("error", ""))[:800], where)
            else:
                ledger.fail("forward", f"running the plan failed: {str(h.get('error', ''))[:800]}", where)
            return
        if ledger.passed or "process" not in ledger.failures:
            how = runner_exit.describe(self.options.timeout_s, self.options.memory_limit_mb)
            ledger.fail("process", f"the kernel runner {how} after {outcome.calls_run} call(s)")
        if runner_exit.stderr_tail:
            outcome.notes.append("runner stderr: " + runner_exit.stderr_tail[-600:])

    def _send_state(self, runner: WorkerSession, trial: ReferenceTrial, p: _Planned) -> None:
        values: dict[str, torch.Tensor] = {}
        for m in p.state:
            name = m["name"]
            source = p.mapping["source"].get(name)
            value = trial.state.get(source) if source is not None else p.values.get(name)
            if value is None:
                raise pv.PlanError(f"no value for the candidate's {name}")
            values[name] = value
        encoded, blobs = codec.encode(values)
        runner.message({"op": "state", "index": trial.index, "values": encoded}, blobs)
        self._expect(runner, {"state_ready"})

    def _run_call(
        self,
        runner: WorkerSession,
        trial: ReferenceTrial,
        call: int,
        input_set: Any,
        send: bool,
        seq: int,
        schedule: dict[str, Any],
        p: _Planned,
    ) -> None:
        encoded, blobs = codec.encode(input_set.inputs)
        command = {"op": "call", "index": trial.index, "call": call, "seq": seq, "inputs": encoded, "send": send}
        runner.message({**command, **schedule}, blobs)
        runs = schedule["runs"]
        for number, run in enumerate(runs):
            frame = self._expect(runner, {"ran"})
            if int(frame.header.get("run", -1)) != run:
                raise ConversationEnded(None)
            where = trial.describe(call) + (f", autotune run {run + 1} (configs in turn)" if number > 0 else "")
            if number == 0 and schedule.get("profile") and isinstance(frame.header.get("traffic"), dict):
                self._profiled.append(_counted_call(trial, input_set, frame.header["traffic"]))
            self._judge_run(frame, trial, call, input_set, send or number > 0, where, p)
        self.outcome.calls_run += 1

    def _judge_run(
        self, frame: Frame, trial: ReferenceTrial, call: int, input_set: Any, send: bool, where: str, p: _Planned
    ) -> None:
        ledger, outcome, prepared = self.ledger, self.outcome, self.prepared
        h = frame.header
        if outcome.calls_run == 0 and "forward" not in ledger.observed:
            ledger.ok("forward", parameters_note(p.mapping) or None)
        ledger.ok("type")
        judge_device(ledger, h.get("outputs", []), prepared.device, where)
        if modified := inputs_modified(h, input_set.input_hashes):
            ledger.fail("inputs_unmodified", modified, where)
        elif h.get("state_changed"):
            names = ", ".join(str(n) for n in h["state_changed"][:4])
            ledger.fail(
                "inputs_unmodified",
                f"the call modified {names} in place (parameters, buffers and constants carry no state between calls)",
                where,
            )
        else:
            ledger.ok("inputs_unmodified")
        if h.get("aliases"):
            j, inputs = h["aliases"][0]
            ledger.fail("no_aliasing", f"output {j} shares memory with input(s) {inputs}", where)
        else:
            ledger.ok("no_aliasing")
        if send:
            outputs = codec.decode(h.get("values"), frame.blob)
            judge_outputs(
                ledger,
                where,
                outputs,
                input_set.outputs,
                prepared,
                param_hint=param_hint(p.mapping),
                leaves=leaf_judging(input_set),
            )
            outcome.calls_judged += 1
        variants = h.get("variants") or {}
        for name, used in variants.items():
            kernel = self.kernels.kernels.get(name) if self.kernels else None
            if kernel and kernel.autotune:
                note = (
                    f"@triton.autotune `{name}`: configs {sorted(int(u) + 1 for u in used)} of "
                    f"{len(kernel.autotune.configs)} run and checked (in turn, one per call; the last call runs "
                    "any left)"
                )
                outcome.notes[:] = [n for n in outcome.notes if not n.startswith(f"@triton.autotune `{name}`")]
                outcome.notes.append(note)

    def _time(self, runner: WorkerSession, prepared: PreparedReference) -> None:
        first = prepared.trials[0]
        runs = self.options.timing_runs
        kept = sorted({runs - 1, *self._rng.sample(range(max(1, runs - 1)), k=min(KEPT_TIMED_CALLS - 1, runs - 1))})
        encoded, blobs = codec.encode([s.inputs for s in prepared.timing_sets])
        runner.message(
            {
                "op": "time",
                "index": first.index,
                "call": len(first.calls) - 1,
                "runs": runs,
                "warmup_runs": self.options.warmup_runs,
                "sets": encoded,
                "check": kept,
            },
            blobs,
        )
        for _ in kept:
            frame = self._expect(runner, {"timed_outputs", "timing_skipped"})
            if frame.kind == "timing_skipped":
                return
            run, set_index = timed_call(self.ledger, frame.header, prepared)
            leaves = leaf_judging(prepared.timing_sets[set_index])
            judge_timed_outputs(self.ledger, frame, run, set_index, prepared, leaves=leaves)
        timing = self._expect(runner, {"timing"})
        self.outcome.timing = dict(timing.header)


def call_schedule(sequence: list[tuple[int, int, PlanFacts]], planned: dict[int, _Planned]) -> list[dict[str, Any]]:
    """Per call (in the order they run): ``runs``, the run numbers its plan is executed with (run r
    takes every autotuned launch's config ``r mod configs``: calls take them in turn and the last
    call runs whatever is left, so every config of every launch is run and checked); ``snapshot``,
    the values it makes that later calls use (saved once it returned); ``restore``, the kept values
    it uses (put back as saved before each run)."""
    constants = {int(meta["v"]) for p in planned.values() for entries in p.constants.values() for meta, _t in entries}
    state = {m["v"] for p in planned.values() for m in p.state}
    most = max((n for _i, _c, facts in sequence for _k, n in facts.launches), default=1)
    made_in: dict[int, int] = {}
    for i, (_index, _call, facts) in enumerate(sequence):
        for vid in facts.new:
            if vid not in constants and vid not in facts.inputs:
                made_in.setdefault(vid, i)
    used_later: set[tuple[int, int]] = set()
    for i, (_index, _call, facts) in enumerate(sequence):
        for vid in facts.used:
            if vid in made_in and made_in[vid] < i:
                used_later.add((made_in[vid], vid))
    out = []
    for i, (_index, _call, facts) in enumerate(sequence):
        runs = [i]
        if i == len(sequence) - 1 and most > len(sequence):
            runs += list(range(len(sequence), most))
        out.append(
            {
                "runs": runs,
                "snapshot": sorted(vid for made, vid in used_later if made == i),
                "restore": sorted(
                    vid for vid in facts.used if vid in made_in and made_in[vid] < i and vid not in state
                ),
            }
        )
    return out


SHARED_MEMORY_PER_BLOCK = {
    70: 98304,
    75: 65536,
    80: 166912,
    86: 101376,
    87: 166912,
    89: 101376,
    90: 232448,
    100: 232448,
}
"""Bytes of shared memory one block may use (opt-in maximum) per architecture; others are not checked."""


def _over_shared_memory(builds: Any, arch: int) -> str:
    """Which builds ask for more shared memory per block than ``arch`` has (they compile, but cannot
    launch there), as text; empty when none does or the architecture is not in the table."""
    limit = SHARED_MEMORY_PER_BLOCK.get(arch)
    if limit is None:
        return ""
    over = sorted(
        {
            f"`{b.get('kernel')}` needs {int(b['shared_bytes']):,} B of shared memory per block (at most {limit:,})"
            for b in builds
            if isinstance(b.get("shared_bytes"), int) and b["shared_bytes"] > limit
        }
    )
    return "; ".join(over[:4])


def _counted_call(trial: ReferenceTrial, input_set: Any, traffic: dict[str, Any]) -> dict[str, Any]:
    """The static profile's entry for a call whose traffic the runner counted: against the compulsory
    bytes (the call's inputs and the instance's parameters read once, its outputs written once)."""
    from verifier.plan.profile import call_entry

    tensors = flat_tensors(input_set.inputs) + list(trial.state.values()) + flat_tensors(input_set.outputs)
    compulsory = sum(t.numel() * t.element_size() for t in tensors)
    outputs = sum(t.numel() for t in flat_tensors(input_set.outputs))
    return call_entry(trial.shape, traffic, compulsory, outputs)


def _launch_key(launch: Launch) -> str:
    def describe(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return ("T", str(v.dtype))
        return repr(v)

    return repr(
        (
            launch.kernel,
            launch.variant,
            sorted((k, describe(v)) for k, v in launch.args.items()),
            sorted(launch.options.items()),
        )
    )


def _max_output_bytes(prepared: PreparedReference) -> int:
    """The most a runner frame may carry: twice the largest outputs of any call, plus headroom."""
    return max_frame_bytes(prepared)
