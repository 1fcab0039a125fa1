"""Running one candidate in its sandbox worker, call by call, and judging what comes back.

The parent drives: it sends each trial's parameters and each call's inputs when they are due, asks
for the outputs it wants to check only after the call returned, and compares them with the
reference's here. The worker never holds a key, a future input, the number of calls left or the
set of checked calls: everything it reports is the candidate's claim (see ``verifier.channel``).

The worker is started before the reference has run (:meth:`CandidateRun.start`), so that its
imports (torch, triton, the candidate) overlap with the reference's run.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier import codec
from verifier.channel import Frame
from verifier.evaluation import (
    CheckLedger,
    ConversationEnded,
    judge_call_outputs,
    judge_claims,
    judge_locked,
    judge_timed_outputs,
    timed_call,
)
from verifier.evaluation import parameters_note as _parameters_note
from verifier.gpu_lock import timing_lock
from verifier.reference_run import PreparedReference, ReferenceTrial
from verifier.sandbox.isolation import Isolation
from verifier.sandbox.runner import WorkerExit, WorkerSession
from verifier.spec import Candidate, Reference, VerifyOptions
from verifier.worker.loading import flat_tensors

KEPT_TIMED_CALLS = 5
"""Timed calls whose outputs are checked (chosen after each call ran; the last one always)."""
CHECK_ALL_BELOW_BYTES = 64 << 20
"""Check every call's outputs when a call's outputs are at most this large; else a random subset."""
SUBSET_CHECKED = 3
PAYLOAD_BASE_MB = 4096
PAYLOAD_FACTOR = 4
"""GPU worker's host memory: torch, triton and CUDA (~4 GiB) plus 4x one call's payload (the received
frame, the decoded inputs, the outputs copied back, their encoding)."""
TIMING_TAMPER_RATIO = 0.5
"""Reject when the in-process median is under this share of the parent-observed per-call wall time."""

Progress = Callable[[str], None]


@dataclass
class CandidateOutcome:
    environment: dict[str, Any] = field(default_factory=dict)
    calls_judged: int = 0
    calls_run: int = 0
    compile_results: list[dict[str, Any]] = field(default_factory=list)
    timing: dict[str, Any] | None = None
    wall_ms_per_call: float | None = None
    exit: WorkerExit | None = None
    completed: bool = False
    notes: list[str] = field(default_factory=list)
    worker_start: str = ""
    """"warm fork" (from a pooled server, :mod:`verifier.sandbox.warm`) or "cold" (a new interpreter)."""
    static_profile: dict[str, Any] = field(default_factory=dict)
    """A Triton candidate's static GPU profile (:mod:`verifier.plan.profile`); empty for CUDA ones."""


def traceback_summary(header: dict[str, Any]) -> str:
    """The candidate's own lines of a traceback, and the error itself."""
    tb = str(header.get("traceback", ""))
    lines = tb.splitlines()
    own = [
        f"{lines[i].strip()} | {lines[i + 1].strip()}" for i in range(len(lines) - 1) if "kiln_candidate.py" in lines[i]
    ]
    where = f" (at {own[-1].split(', in ')[0].replace('File ', '').strip()})" if own else ""
    return f"{header.get('error', 'unknown error')}{where}"


def checked_calls(trial: ReferenceTrial, rng: secrets.SystemRandom) -> set[int]:
    """Which calls of ``trial`` have their outputs checked: all of them when outputs are small, else
    a random subset that always includes the last call (the worker never learns which beforehand)."""
    n = len(trial.calls)
    nbytes = sum(t.numel() * t.element_size() for t in flat_tensors(trial.calls[0].outputs))
    if nbytes <= CHECK_ALL_BELOW_BYTES or n <= SUBSET_CHECKED:
        return set(range(n))
    return {n - 1, *rng.sample(range(n - 1), k=SUBSET_CHECKED - 1)}


class CandidateRun:
    """One candidate worker: ``start`` it early, ``drive`` it once the reference is prepared."""

    def __init__(
        self,
        candidate: Candidate,
        reference: Reference,
        device: str,
        isolation: Isolation,
        options: VerifyOptions,
    ) -> None:
        self.candidate = candidate
        self.device = device
        self.options = options
        self.language = candidate.resolved_language
        self.session = WorkerSession.for_run(
            "candidate",
            isolation,
            options,
            device,
            authenticated=False,
        )
        self.request = {
            "source": candidate.source,
            "language": self.language,
            "device": device,
            "allowed_ops": sorted(reference.allowed_ops),
            "nvcc": options.nvcc,
            "compile_timeout_s": max(10.0, options.timeout_s - 20.0),
        }
        self._started = False
        self._rng = secrets.SystemRandom()
        self.no_extension = False

    def start(self) -> None:
        self.session.start(self.request)
        self._started = True

    def abort(self) -> None:
        if self._started:
            self.session.__exit__(None, None, None)

    # ---- the conversation ------------------------------------------------------------------
    def drive(
        self, prepared: PreparedReference, ledger: CheckLedger, progress: Progress | None = None
    ) -> CandidateOutcome:
        """The whole conversation; whatever the candidate's process sends, a verdict, never an exception."""
        self.outcome = CandidateOutcome()
        try:
            return self._drive(prepared, ledger, progress)
        except Exception as e:  # a malformed claim (codec, frame fields) from the candidate's process
            ledger.fail(
                "process", f"what the candidate's process sent could not be read ({type(e).__name__}: {e})"[:600]
            )
            self.abort()
            self.outcome.exit = self.session.exit
            return self.outcome

    def _drive(
        self, prepared: PreparedReference, ledger: CheckLedger, progress: Progress | None = None
    ) -> CandidateOutcome:
        outcome = self.outcome
        self.outcome, self.ledger, self.prepared = outcome, ledger, prepared
        self.session.limit_frames(max_frame_bytes(prepared), 16 << 20)
        total = sum(len(t.calls) for t in prepared.trials)
        if progress:
            progress(
                f"candidate: {len(prepared.trials)} instance(s), {total} call(s), {self.language}, "
                f"'{prepared.isolation.mechanism}' sandbox"
            )
        self._size_memory_to_payload(prepared)
        end: Frame | None = None
        with self.session:
            if not self._started:
                self.start()
            try:
                loaded = self._expect({"loaded", "cuda_compile"})
                if outcome.compile_results:
                    self._expect({"done"})
                    raise ConversationEnded(None)
                if self.device == "cpu" and loaded.kind == "loaded":
                    ledger.fail(
                        "compile",
                        "the candidate is a CUDA candidate (it imports torch.utils.cpp_extension or calls "
                        "load_inline) but built no extension when imported: on a host without a GPU nothing of it "
                        "runs; a Triton kernel must not use cpp_extension",
                    )
                    self.no_extension = True
                    raise ConversationEnded(None)
                ledger.ok("load")
                params = {trial.index: self._build(trial) for trial in prepared.trials}
                for trial in prepared.trials:
                    self._run_trial(trial, params[trial.index], progress, total)
                if ledger.passed and self.device == "cuda" and self.options.measure and prepared.timing_sets:
                    if progress:
                        progress(f"candidate: timing {self.options.timing_runs} runs on {self.device}")
                    with timing_lock():
                        self._time()
                self.session.message({"op": "end"})
                end = self._expect({"done"})
            except ConversationEnded as stop:
                end = stop.frame
            outcome.exit = self.session.close()
        outcome.worker_start = "warm fork" if self.session.started_warm else "cold"
        if self.session.warm_problem:
            outcome.worker_start += f" (no warm server: {self.session.warm_problem})"
        self._conclude(end)
        return outcome

    def _size_memory_to_payload(self, prepared: PreparedReference) -> None:
        """On a GPU the host-memory watchdog's limit grows with one call's inputs and outputs (they
        cross the pipe and sit in host memory around each call); never below the configured limit."""
        if self.device != "cuda":
            return
        per_call = max(
            (
                sum(t.numel() * t.element_size() for t in flat_tensors(c.inputs) + flat_tensors(c.outputs))
                for trial in prepared.trials
                for c in trial.calls
            ),
            default=0,
        )
        needed = PAYLOAD_BASE_MB + PAYLOAD_FACTOR * (per_call >> 20)
        if needed > self.session.memory_limit_mb:
            self.outcome.notes.append(
                f"host memory limit raised from {self.session.memory_limit_mb} to {needed} MiB for "
                f"{per_call >> 20} MiB of inputs and outputs per call"
            )
            self.session.memory_limit_mb = needed

    def _on_frame(self, frame: Frame) -> None:
        kind, h = frame.kind, frame.header
        if kind == "hello":
            self.outcome.environment = h.get("environment", {})
        elif kind == "ready":
            self.outcome.notes.append(f"process creation: {h.get('process_filter')}")
        elif kind == "violation":
            self.ledger.fail("sandbox", f"blocked {h.get('detail', h.get('event'))} at {h.get('where', '?')}")
        elif kind == "cuda_compile":
            self.outcome.compile_results = list(h.get("results", []))

    def _expect(self, kinds: set[str]) -> Frame:
        """The next frame of one of ``kinds`` (after any hello/ready/violation frames)."""
        passive = {"hello", "ready", "violation"}
        while True:
            frame = self.session.receive(kinds | passive | {"error", "tamper", "done", "cuda_compile"})
            if frame is None:
                raise ConversationEnded(None)
            if frame.kind in passive or (frame.kind == "cuda_compile" and "cuda_compile" in kinds):
                self._on_frame(frame)
                if frame.kind == "cuda_compile":
                    return frame
                continue
            if frame.kind in kinds:
                if frame.kind == "loaded" and frame.header.get("autotune"):
                    self.outcome.notes.extend(str(n) for n in frame.header["autotune"])
                return frame
            if frame.kind in ("error", "tamper", "done"):
                raise ConversationEnded(frame)
            self.ledger.fail("process", f"sent a '{frame.kind}' frame where {sorted(kinds)} was due")
            raise ConversationEnded(None)

    def _build(self, trial: ReferenceTrial) -> dict[str, Any] | None:
        """Have the worker build one instance (all are built before the first call, then compute is locked)."""
        values, blobs = codec.encode({"init": trial.init, "state": trial.state})
        self.session.message({"op": "init", "index": trial.index, "seed": trial.seed, "values": values}, blobs)
        return self._expect({"initialized"}).header.get("params")

    def _run_trial(
        self, trial: ReferenceTrial, params: dict[str, Any] | None, progress: Progress | None, total: int
    ) -> None:
        checked = checked_calls(trial, self._rng)
        poison = [t.numel() * t.element_size() for t in flat_tensors(trial.calls[0].outputs)]
        for call, input_set in enumerate(trial.calls):
            encoded, blobs = codec.encode(input_set.inputs)
            command = {"op": "call", "index": trial.index, "call": call, "inputs": encoded, "poison_nbytes": poison}
            self.session.message(command, blobs)
            called = self._expect({"called"})
            header = {**called.header, "params": params}
            if int(header.get("index", -1)) != trial.index or int(header.get("call", -1)) != call:
                self.ledger.fail("process", f"answered call {header.get('call')} where call {call} was due")
                raise ConversationEnded(None)
            if self.outcome.calls_run == 0:
                self.ledger.ok("forward", _parameters_note(params) or None)
            self.outcome.calls_run += 1
            judge_claims(self.ledger, header, trial, self.prepared)
            if call in checked:
                self.session.message({"op": "send", "index": trial.index, "call": call})
                frame = self._expect({"outputs"})
                if int(frame.header.get("call", -1)) != call:
                    self.ledger.fail("process", f"sent outputs of call {frame.header.get('call')} for call {call}")
                    raise ConversationEnded(None)
                if frame.header.get("late_write") is True:
                    self.ledger.fail(
                        "stream",
                        "the output changed after forward returned, before it was collected (a late write from a "
                        "thread, a handler or a finalizer)",
                        trial.describe(call),
                    )
                outputs = codec.decode(frame.header.get("values"), frame.blob)
                judge_call_outputs(self.ledger, header, outputs, trial, self.prepared)
                self.outcome.calls_judged += 1
            else:
                self.session.message({"op": "drop", "index": trial.index, "call": call})
            if progress:
                state = "ok" if self.ledger.passed else "FAILED"
                progress(f"candidate: call {self.outcome.calls_run}/{total} run ({state})")

    def _time(self) -> None:
        """GPU timing: the parent picks the checked timed calls after each one ran."""
        prepared, options = self.prepared, self.options
        sets = [s.inputs for s in prepared.timing_sets]
        encoded, blobs = codec.encode(sets)
        runs = options.timing_runs
        kept = {runs - 1, *self._rng.sample(range(runs - 1), k=min(KEPT_TIMED_CALLS - 1, runs - 1))}
        self.session.message({"op": "time", "runs": runs, "warmup_runs": options.warmup_runs, "sets": encoded}, blobs)
        for _ in range(runs):
            timed = self._expect({"timed", "timing_skipped"})
            if timed.kind == "timing_skipped":
                return
            run, set_index = timed_call(self.ledger, timed.header, prepared)
            keep = run in kept
            self.session.message({"op": "keep" if keep else "drop"})
            if keep:
                judge_timed_outputs(self.ledger, self._expect({"timed_outputs"}), run, set_index, prepared)
        timing = self._expect({"timing"})
        self.outcome.timing = dict(timing.header)
        sent = self.session.message({"op": "wall", "calls": runs})
        done = self._expect({"wall_done"})
        self.outcome.wall_ms_per_call = 1000.0 * (done.received_at - sent) / max(1, runs)

    def _conclude(self, end: Frame | None) -> None:
        outcome, ledger, prepared, options = self.outcome, self.ledger, self.prepared, self.options
        exit_info = outcome.exit
        assert exit_info is not None
        total = sum(len(t.calls) for t in prepared.trials)
        if outcome.compile_results or self.no_extension:
            return
        if end is None:
            if ledger.passed or not any(c == "process" for c in ledger.failures):
                how = exit_info.describe(options.timeout_s, options.memory_limit_mb)
                ledger.fail("process", f"the candidate process {how} after {outcome.calls_run} of {total} call(s)")
            return
        h = end.header
        if end.kind == "tamper":
            ledger.fail("integrity", f"after candidate {h.get('stage')}: {'; '.join(h.get('problems', []))}")
            return
        if end.kind == "error":
            stage = h.get("stage")
            locked = list(h.get("locked", []))
            trial = prepared.trials[int(h.get("index", 0))] if stage in ("init", "forward") else None
            where = trial.describe(int(h["call"])) if trial is not None and "call" in h else ""
            if judge_locked(ledger, locked, where or (trial.describe() if trial else "import")):
                return
            if stage == "import":
                ledger.fail("load", f"importing the candidate failed: {traceback_summary(h)}")
            elif stage == "init" and trial is not None:
                ledger.fail("forward", f"{trial.describe()}: ModelNew(*init_inputs) raised {traceback_summary(h)}")
            elif stage == "forward" and trial is not None:
                ledger.fail("forward", f"{where}: forward raised {traceback_summary(h)}")
            else:
                ledger.fail("process", f"the verifier's worker failed ({stage}): {h.get('error')}")
            return
        if outcome.calls_run < total:
            ledger.fail("process", f"the candidate process stopped after {outcome.calls_run} of {total} call(s)")
            return
        outcome.completed = True
        ledger.ok("process", f"ran to completion in {exit_info.wall_s:.1f} s")
        if outcome.timing is not None and outcome.wall_ms_per_call is not None:
            _judge_timing(ledger, outcome)


def max_frame_bytes(prepared: PreparedReference) -> int:
    """The most one frame of the candidate's may carry: twice a call's (or a timing set's) outputs plus
    headroom; a larger claim is refused before it is buffered."""
    largest = 0
    for trial in prepared.trials:
        for c in trial.calls:
            largest = max(largest, sum(t.numel() * t.element_size() for t in flat_tensors(c.outputs)))
    for s in prepared.timing_sets:
        largest = max(largest, sum(t.numel() * t.element_size() for t in flat_tensors(s.outputs)))
    return 2 * largest + (64 << 20)


def _judge_timing(ledger: CheckLedger, outcome: CandidateOutcome) -> None:
    assert outcome.timing is not None and outcome.wall_ms_per_call is not None
    reported = float(outcome.timing["candidate_ms"])
    wall = outcome.wall_ms_per_call
    if reported < TIMING_TAMPER_RATIO * wall:
        ledger.fail(
            "timing_consistency",
            f"in-process timing reports {reported:.4f} ms per call but back-to-back calls took {wall:.4f} ms each "
            f"by the parent's clock (timer tampering?)",
        )
    else:
        ledger.ok("timing_consistency", f"events median {reported:.4f} ms vs parent wall {wall:.4f} ms per call")
