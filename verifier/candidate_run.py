"""Running one candidate in its sandbox worker and judging each frame it sends, as it arrives."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier import codec
from verifier.channel import Frame
from verifier.evaluation import CheckLedger, judge_call, judge_outputs, parameters_note
from verifier.reference_run import PreparedReference, flat_tensors
from verifier.sandbox.runner import WorkerExit, WorkerSession
from verifier.spec import Candidate, VerifyOptions

KEPT_TIMED_CALLS = 4
TIMING_TAMPER_RATIO = 0.5
"""Reject when the in-process median is under this share of the parent-observed per-call wall time."""


@dataclass
class CandidateOutcome:
    environment: dict[str, Any] = field(default_factory=dict)
    calls_judged: int = 0
    compile_results: list[dict[str, Any]] = field(default_factory=list)
    timing: dict[str, Any] | None = None
    wall_ms_per_call: float | None = None
    exit: WorkerExit | None = None
    completed: bool = False


def _traceback_summary(header: dict[str, Any]) -> str:
    """The candidate's own lines of a traceback, and the error itself."""
    tb = str(header.get("traceback", ""))
    lines = tb.splitlines()
    own = [
        f"{lines[i].strip()} | {lines[i + 1].strip()}" for i in range(len(lines) - 1) if "kiln_candidate.py" in lines[i]
    ]
    where = f" (at {own[-1].split(', in ')[0].replace('File ', '').strip()})" if own else ""
    return f"{header.get('error', 'unknown error')}{where}"


def run_candidate(
    prepared: PreparedReference,
    candidate: Candidate,
    options: VerifyOptions,
    ledger: CheckLedger,
    progress: Callable[[str], None] | None = None,
) -> CandidateOutcome:
    outcome = CandidateOutcome()
    language = candidate.resolved_language
    trials = [
        {"seed": t.seed, "init": t.init, "state": t.state, "inputs": [c.inputs for c in t.calls]}
        for t in prepared.trials
    ]
    sets = [{"inputs": t.inputs} for t in prepared.timing_sets]
    encoded, blobs = codec.encode((trials, sets))
    request = {
        "source": candidate.source,
        "language": language,
        "device": prepared.device,
        "trials": encoded["t"][0],
        "timing_sets": encoded["t"][1],
        "poison_nbytes": [t.numel() * t.element_size() for t in flat_tensors(prepared.trials[0].calls[0].outputs)],
        "nvcc": options.nvcc,
        "compile_timeout_s": max(10.0, options.timeout_s - 20.0),
    }
    kept: dict[int, int] = {}
    marks: dict[str, float] = {}
    total_calls = sum(len(t.calls) for t in prepared.trials)

    def on_frame(frame: Frame) -> None:
        kind, h = frame.kind, frame.header
        if kind == "hello":
            outcome.environment = h.get("environment", {})
        elif kind == "violation":
            ledger.fail("sandbox", f"blocked {h.get('detail', h.get('event'))} at {h.get('where', '?')}")
        elif kind == "loaded":
            ledger.ok("load")
        elif kind == "call":
            index = int(h["index"])
            if not 0 <= index < len(prepared.trials):
                ledger.fail("process", f"reported an unknown trial index {index}")
                return
            outputs = codec.decode(h.get("values"), frame.blob)
            if outcome.calls_judged == 0:
                ledger.ok("forward", parameters_note(h.get("params")) or None)
            judge_call(ledger, h, outputs, prepared.trials[index], prepared)
            outcome.calls_judged += 1
            if progress:
                state = "ok" if ledger.passed else "FAILED"
                progress(f"candidate: call {outcome.calls_judged}/{total_calls} judged ({state})")
        elif kind == "cuda_compile":
            outcome.compile_results = list(h.get("results", []))
        elif kind == "timing":
            outcome.timing = dict(h)
        elif kind == "timed_outputs":
            values = codec.decode(h.get("values"), frame.blob)
            for call, set_index, out in zip(h.get("calls", []), h.get("sets", []), values, strict=False):
                if kept.get(int(call)) != int(set_index):
                    ledger.fail("timed_outputs", f"reported timed call {call} that was not asked for")
                    continue
                judge_outputs(
                    ledger,
                    f"timed call {int(call) + 1} (timing input set {int(set_index) + 1})",
                    out,
                    prepared.timing_sets[int(set_index)].outputs,
                    prepared,
                    kind_prefix="timed_outputs",
                )
        elif kind in ("wall_start", "wall_end"):
            marks[kind] = frame.received_at
            marks["calls"] = float(h.get("calls", 0))

    session = WorkerSession(
        "candidate", prepared.isolation, options.timeout_s, options.memory_limit_mb, cuda=prepared.device == "cuda"
    )
    if progress:
        progress(
            f"candidate: {len(prepared.trials)} trial(s) x {options.calls_per_trial} call(s), {language}, "
            f"'{prepared.isolation.mechanism}' sandbox"
        )
    stops = {"trials_done", "done", "error", "tamper"}
    with session:
        session.start(request, blobs)
        end = session.receive(stops, on_frame)
        if end is not None and end.kind == "trials_done":
            command = _timing_command(prepared, options, ledger, kept)
            if command["time"] and progress:
                progress(f"candidate: timing {options.timing_runs} runs on {prepared.device}")
            session.command(command)
            end = session.receive(stops - {"trials_done"}, on_frame)
        outcome.exit = session.close()

    exit_info = outcome.exit
    if end is None:
        done_calls = f" after {outcome.calls_judged} of {total_calls} judged call(s)"
        ledger.fail(
            "process",
            f"the candidate process {exit_info.describe(options.timeout_s, options.memory_limit_mb)}{done_calls}",
        )
        return outcome
    if end.kind == "tamper":
        problems = "; ".join(end.header.get("problems", []))
        ledger.fail("integrity", f"after candidate {end.header.get('stage')}: {problems}")
        return outcome
    if end.kind == "error":
        stage, h = end.header.get("stage"), end.header
        if stage == "import":
            ledger.fail("load", f"importing the candidate failed: {_traceback_summary(h)}")
        elif stage == "init":
            trial = prepared.trials[int(h.get("index", 0))]
            ledger.fail("forward", f"{trial.describe()}: ModelNew(*init_inputs) raised {_traceback_summary(h)}")
        elif stage == "forward":
            trial = prepared.trials[int(h.get("index", 0))]
            ledger.fail(
                "forward",
                f"{trial.describe()}, call {int(h.get('call', 0)) + 1}: forward raised {_traceback_summary(h)}",
            )
        else:
            ledger.fail("process", f"the verifier's worker failed ({stage}): {h.get('error')}")
        return outcome
    outcome.completed = True
    ledger.ok("process", f"ran to completion in {exit_info.wall_s:.1f} s")
    if outcome.timing is not None and "wall_start" in marks and "wall_end" in marks and marks.get("calls"):
        outcome.wall_ms_per_call = 1000.0 * (marks["wall_end"] - marks["wall_start"]) / marks["calls"]
        _judge_timing(ledger, outcome)
    return outcome


def _timing_command(
    prepared: PreparedReference, options: VerifyOptions, ledger: CheckLedger, kept: dict[int, int]
) -> dict[str, Any]:
    """Ask for timing only for a candidate that passed everything, on a GPU."""
    if not (ledger.passed and prepared.device == "cuda" and options.measure and prepared.timing_sets):
        return {"time": False}
    runs = options.timing_runs
    rng = secrets.SystemRandom()
    chosen = [*sorted(rng.sample(range(runs - 1), k=min(KEPT_TIMED_CALLS, runs - 1))), runs - 1]
    for n, call in enumerate(chosen):
        kept[call] = n % len(prepared.timing_sets)
    return {
        "time": True,
        "runs": runs,
        "warmup_runs": options.warmup_runs,
        "keep": {str(k): v for k, v in kept.items()},
        "wall_calls": runs,
    }


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
