"""Running the reference op in its own sandbox process and keeping what candidates are judged by.

A :class:`PreparedReference` holds, per trial, the seeds, shape, constructor arguments, parameters,
inputs and reference outputs, plus (on a GPU) extra input sets for timing and the reference's own
timings. Prepare once, verify many candidates against it (the generation loop does).
"""

from __future__ import annotations

import ast
import hashlib
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from verifier import codec
from verifier.backward import BackwardLayout
from verifier.channel import Frame
from verifier.errors import VerifierInputError
from verifier.gpu_lock import timing_lock
from verifier.nondegenerate import degeneracy
from verifier.parsing import parse_or_raise
from verifier.sandbox.isolation import Isolation
from verifier.sandbox.runner import WorkerExit, WorkerSession
from verifier.spec import CALLS_PER_TRIAL_RANGE, CALLS_PER_TRIAL_RANGE_GPU, Reference, VerifyOptions
from verifier.worker.loading import flat_tensors

TIMING_SETS = 3
Progress = Callable[[str], None]


@dataclass
class InputSet:
    """One call's inputs, the reference's outputs on them, and the inputs' content hashes."""

    inputs: list[Any]
    outputs: Any
    input_hashes: list[str] = field(default_factory=list)
    backward: BackwardLayout | None = None
    """Backward mode: inputs are ``[*inputs, *grad_outputs]`` and outputs ``(outputs, input gradients,
    parameter gradients)``, as this layout says."""


@dataclass
class ReferenceTrial:
    """Fresh parameters (``seed``) and, per call, fresh inputs (``input_seeds``)."""

    index: int
    seed: int
    input_seeds: list[int]
    shape: str
    init: list[Any]
    state: dict[str, torch.Tensor]
    calls: list[InputSet]

    def describe(self, call: int | None = None) -> str:
        shape = f"shape '{self.shape}', " if self.shape else ""
        where = f"trial {self.index + 1} ({shape}parameter seed {self.seed}"
        if call is None:
            return where + ")"
        return where + f"), call {call + 1} (input seed {self.input_seeds[call]})"


@dataclass
class PreparedReference:
    reference: Reference
    device: str
    isolation: Isolation
    base_seed: int
    trials: list[ReferenceTrial]
    timing_sets: list[InputSet]
    """Extra inputs for trial 0's model, used (with reference outputs) to check timed calls."""
    environment: dict[str, Any]
    timing: dict[str, Any] | None
    degenerate: str | None
    seconds: float
    mode: str = "forward"
    """``forward`` or ``backward`` (training calls: see :class:`InputSet`); ``both`` holds the forward's
    data here and the backward's in ``companion``."""
    companion: PreparedReference | None = None


def check_reference_source(source: str) -> None:
    """Static KernelBench-format check; raises VerifierInputError with the line at fault."""
    tree = parse_or_raise(source, VerifierInputError, "the reference has a ")
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    missing = [n for n in ("Model", "get_inputs", "get_init_inputs") if n not in names]
    if missing:
        raise VerifierInputError(
            "the reference is not in KernelBench format: it defines no " + ", ".join(f"`{m}`" for m in missing)
        )


def _overrides(reference: Reference, shape: str) -> dict[str, Any]:
    """The module constants shape configuration ``shape`` assigns ("": the reference as written)."""
    return dict(reference.shapes.get(shape, {})) if shape else {}


def _trial_plan(reference: Reference, options: VerifyOptions, rng: random.Random, device: str) -> list[dict[str, Any]]:
    names = list(reference.shapes) or [""]
    count = max(options.trials_on(device), len(names))
    low, high = CALLS_PER_TRIAL_RANGE_GPU if device == "cuda" else CALLS_PER_TRIAL_RANGE
    plan = []
    for i in range(count):
        name = names[i % len(names)]
        # from the run's seed (secret unless the caller chose it; the candidate never sees it)
        calls = options.calls_per_trial or rng.randint(low, high)
        plan.append(
            {
                "seed": rng.randrange(1, 1 << 31),
                "input_seeds": [rng.randrange(1, 1 << 31) for _ in range(calls)],
                "shape": name,
                "overrides": _overrides(reference, name),
            }
        )
    return plan


def _input_set(inputs: list[Any], outputs: Any, backward: dict[str, Any] | None = None) -> InputSet:
    hashes = [hashlib.sha256(codec.tensor_bytes(t)).hexdigest() for t in flat_tensors(inputs)]
    layout = BackwardLayout.from_dict(backward) if backward is not None else None
    return InputSet(inputs=inputs, outputs=outputs, input_hashes=hashes, backward=layout)


def prepare_reference(
    reference: Reference,
    options: VerifyOptions,
    device: str,
    isolation: Isolation,
    progress: Progress | None = None,
) -> PreparedReference:
    """Run the reference's trials in a sandbox worker. Raises VerifierInputError if the reference fails."""
    check_reference_source(reference.source)
    started = time.monotonic()
    base_seed = options.seed if options.seed is not None else secrets.randbelow(1 << 31)
    rng = random.Random(base_seed)
    plan = _trial_plan(reference, options, rng, device)
    measure = device == "cuda" and options.measure
    mode = "backward" if options.mode == "backward" else "forward"
    request: dict[str, Any] = {
        "source": reference.source,
        "device": device,
        "mode": mode,
        "grad_inputs": None if reference.grad_inputs is None else list(reference.grad_inputs),
        "trials": plan,
        "timing_input_seeds": [rng.randrange(1, 1 << 31) for _ in range(TIMING_SETS)] if measure else [],
        "memory_budget_bytes": options.memory_budget_mb << 20 if options.memory_budget_mb else None,
        "timing": {
            "warmup_runs": options.warmup_runs,
            "runs": options.timing_runs,
            "compare_compile": options.compare_compile,
        }
        if measure
        else None,
    }
    if progress:
        progress(f"reference: {len(plan)} trial(s) on {device} in a '{isolation.mechanism}' sandbox")

    frames, end, exit_info = _run_worker(request, isolation, options, device, timed=measure)
    environment: dict[str, Any] = next((f.header.get("environment", {}) for f in frames if f.kind == "hello"), {})
    if end is None:
        raise VerifierInputError(
            f"the reference process {exit_info.describe(options.timeout_s, options.memory_limit_mb)}"
            + _stderr_hint(exit_info.stderr_tail)
        )
    if end.kind == "error":
        where = ""
        if "index" in end.header and end.header["index"] < len(request["trials"]):
            t = request["trials"][end.header["index"]]
            shape = t["shape"] or "as written"
            where = f" on trial {end.header['index'] + 1} (shape '{shape}', parameter seed {t['seed']})"
        raise VerifierInputError(
            f"the reference failed to {'load' if end.header.get('stage') == 'load' else 'run'}{where}: "
            f"{end.header.get('error')}\n{end.header.get('traceback', '')[-1500:]}"
        )

    trials: list[ReferenceTrial] = []
    calls: dict[int, list[InputSet]] = {}
    timing_sets: list[InputSet] = []
    for frame in frames:
        if frame.kind == "trial":
            i = int(frame.header["index"])
            values = codec.decode(frame.header["values"], frame.blob)
            spec = plan[i]
            calls[i] = []
            trials.append(
                ReferenceTrial(
                    index=i,
                    seed=spec["seed"],
                    input_seeds=spec["input_seeds"],
                    shape=spec["shape"],
                    init=values["init"],
                    state=values["state"],
                    calls=calls[i],
                )
            )
        elif frame.kind == "call":
            values = codec.decode(frame.header["values"], frame.blob)
            calls[int(frame.header["index"])].append(
                _input_set(values["inputs"], values["outputs"], frame.header.get("backward"))
            )
        elif frame.kind == "timing_set":
            values = codec.decode(frame.header["values"], frame.blob)
            timing_sets.append(_input_set(values["inputs"], values["outputs"], frame.header.get("backward")))
    budget = next((dict(f.header) for f in frames if f.kind == "budget"), None)
    if budget is not None:
        budget.pop("kind", None)
        trials, timing_sets = within_budget(trials, timing_sets, measure)
        plan = plan[: len(trials)]
        environment = {**environment, "memory_budget": {**budget, "trials_kept": len(trials)}}
    incomplete = [t.describe() for t in trials if len(t.calls) != len(t.input_seeds)]
    if incomplete or len(trials) != len(plan):
        raise VerifierInputError(f"the reference process reported incomplete trials: {incomplete or len(trials)}")
    timing = next((dict(f.header) for f in frames if f.kind == "timing"), None)
    if timing is not None:
        timing.pop("kind", None)

    return PreparedReference(
        reference=reference,
        device=device,
        isolation=isolation,
        base_seed=base_seed,
        trials=trials,
        timing_sets=timing_sets,
        environment=environment,
        timing=timing,
        degenerate=None if options.allow_degenerate_reference else _degenerate(trials),
        seconds=time.monotonic() - started,
        mode=mode,
    )


def within_budget(
    trials: list[ReferenceTrial], timing_sets: list[InputSet], measure: bool
) -> tuple[list[ReferenceTrial], list[InputSet]]:
    """The trials as the reference worker kept them under the memory budget: each trial's seeds cut to
    the calls it computed, trials without one dropped; with no timing set left, the first call's
    inputs are the timing set (timed on the same inputs every run, as KernelBench does)."""
    kept = []
    for trial in trials:
        trial.input_seeds = trial.input_seeds[: len(trial.calls)]
        if not trial.calls:
            break
        kept.append(trial)
    if measure and not timing_sets and kept:
        timing_sets = [kept[0].calls[0]]
    return kept, timing_sets


def _run_worker(
    request: dict[str, Any], isolation: Isolation, options: VerifyOptions, device: str, timed: bool
) -> tuple[list[Frame], Frame | None, WorkerExit]:
    """One reference worker from request to exit; with ``timed``, under the GPU's timing lock."""
    session = WorkerSession("reference", isolation, options.timeout_s, options.memory_limit_mb, cuda=device == "cuda")
    with timing_lock(enabled=timed), session:  # the reference's timings: one timed phase per GPU
        session.start(request)
        end = session.receive({"done", "error"})
        exit_info = session.close()
    return session.frames, end, exit_info


def retime_eager(prepared: PreparedReference, options: VerifyOptions) -> float | None:
    """The eager median of :func:`retime_eager_timing`, or None."""
    timing = retime_eager_timing(prepared, options)
    try:
        return float(timing["eager_ms"]) if timing is not None else None
    except (KeyError, TypeError, ValueError):
        return None


def retime_eager_timing(prepared: PreparedReference, options: VerifyOptions) -> dict[str, Any] | None:
    """The reference's eager median measured again now, on the first trial's model and first inputs.

    ``verify()`` calls this right after a candidate's timed phase (once the candidate's process is
    gone, so nothing of it runs on the GPU meanwhile): the speedup then compares two timings taken
    seconds apart under the same GPU conditions, not the candidate against a baseline from when the
    reference was prepared, possibly minutes earlier. None when the re-run fails (the caller keeps
    the prepared baseline and says so)."""
    if prepared.device != "cuda" or not prepared.trials:
        return None
    first = prepared.trials[0]
    request: dict[str, Any] = {
        "source": prepared.reference.source,
        "device": prepared.device,
        "mode": prepared.mode,
        "grad_inputs": None if prepared.reference.grad_inputs is None else list(prepared.reference.grad_inputs),
        "trials": [
            {
                "seed": first.seed,
                "input_seeds": first.input_seeds[:1],
                "shape": first.shape,
                "overrides": _overrides(prepared.reference, first.shape),
            }
        ],
        "timing_input_seeds": [],
        "timing": {"warmup_runs": options.warmup_runs, "runs": options.timing_runs, "compare_compile": False},
    }
    frames, end, _ = _run_worker(request, prepared.isolation, options, prepared.device, timed=True)
    if end is None or end.kind != "done":
        return None
    timing = next((dict(f.header) for f in frames if f.kind == "timing"), None)
    if timing is not None:
        timing.pop("kind", None)
    return timing


def _degenerate(trials: list[ReferenceTrial]) -> str | None:
    for trial in trials:
        for call, input_set in enumerate(trial.calls):
            for j, out in enumerate(flat_tensors(input_set.outputs)):
                why = degeneracy(out)
                if why is not None:
                    return f"{trial.describe(call)}, output {j}: {why}"
    return None


def _stderr_hint(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return ("\nlast output: " + "\n".join(lines[-8:])) if lines else ""
