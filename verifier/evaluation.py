"""Judging what a candidate worker reported, in the trusted parent, on plain data.

Checks are aggregated by kind over every call of every trial: a check passes only if it held on
all of them; its detail names the first input it failed on and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from verifier import codec
from verifier.allowlist import SCALAR_READS, fallback_ops, scalar_reads
from verifier.channel import Frame
from verifier.native_libraries import library_kernels
from verifier.reference_run import PreparedReference, ReferenceTrial
from verifier.report import Check
from verifier.tolerance import compare, tolerance_for

CHECK_ORDER = (
    "static_screen",
    "sandbox",
    "integrity",
    "process",
    "load",
    "kernels",
    "compile",
    "plan",
    "backward",
    "gpu_compile",
    "forward",
    "structure",
    "type",
    "device",
    "dtype",
    "shape",
    "values",
    "inputs_unmodified",
    "memory",
    "no_aliasing",
    "no_fallback",
    "recorders_agree",
    "stream",
    "timed_outputs",
    "timing_consistency",
)
CHECK_MEANING = {
    "static_screen": "source free of introspection, patching, escapes and host computation",
    "sandbox": "no network, process, file or introspection attempts",
    "integrity": "harness, torch and stdlib namespaces unmodified; no dispatch/function modes left active",
    "process": "candidate process ran to completion and reported every result",
    "load": "candidate imports and defines ModelNew",
    "kernels": "kernels taken from the file's text: top-level @triton.jit functions in the Triton language only",
    "compile": "CUDA sources compile with nvcc",
    "plan": "the forward's launch plan (recorded on tensors without data) launches only the file's own kernels "
    "and is the same from the second call on",
    "gpu_compile": "every launched kernel compiles for the GPU target (sm_90 unless the GPU says otherwise)",
    "forward": "ModelNew constructs and its forward returns on every input",
    "structure": "output structure (tensor / tuple) matches the reference",
    "type": "outputs are exactly torch.Tensor (no subclasses, no other objects)",
    "device": "outputs on the reference's device",
    "dtype": "output dtypes match",
    "shape": "output shapes match",
    "values": "every element within tolerance, finite where the reference is",
    "inputs_unmodified": "inputs unchanged after every call",
    "memory": "kernels read and write only the tensors passed to them (every access checked in the interpreter)",
    "no_aliasing": "no output shares memory with an input",
    "no_fallback": "forward dispatches no framework compute ops and does no host-side computation",
    "backward": "backward mode: the forward's outputs reach the inputs and parameters through the candidate's "
    "autograd.Function, and every checked gradient has a counterpart",
    "recorders_agree": "dispatch-mode and profiler op records are consistent",
    "stream": "outputs ready on the calling stream when forward returns",
    "timed_outputs": "outputs of timed calls within tolerance",
    "timing_consistency": "in-process timings agree with the parent's wall clock",
}
MAX_REASONS_PER_CHECK = 3


@dataclass
class CheckLedger:
    """Accumulates pass/fail observations per check kind."""

    observed: dict[str, int] = field(default_factory=dict)
    failures: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """kind -> message -> the inputs ("trial 2 (...), call 1") it was seen on."""
    notes: dict[str, str] = field(default_factory=dict)

    def ok(self, kind: str, note: str | None = None) -> None:
        self.observed[kind] = self.observed.get(kind, 0) + 1
        if note and kind not in self.notes:
            self.notes[kind] = note

    def fail(self, kind: str, message: str, where: str = "") -> None:
        self.observed[kind] = self.observed.get(kind, 0) + 1
        self.failures.setdefault(kind, {}).setdefault(message, []).append(where)

    def _render(self, kind: str) -> list[str]:
        out = []
        for message, wheres in self.failures.get(kind, {}).items():
            place = f"{wheres[0]}: " if wheres[0] else ""
            more = f" (same on {len(wheres) - 1} more call(s))" if len(wheres) > 1 else ""
            out.append(f"{place}{message}{more}")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures

    def checks(self, calls_observed: int) -> list[Check]:
        out = []
        for kind in [k for k in CHECK_ORDER if k in self.observed] + sorted(set(self.observed) - set(CHECK_ORDER)):
            fails = self._render(kind)
            if fails:
                more = f" (+{len(fails) - 1} more)" if len(fails) > 1 else ""
                wrong = min(calls_observed, sum(len(wheres) for wheres in self.failures[kind].values()))
                per_call = kind in _PER_CALL and calls_observed
                scope = f" [failed on {wrong} of {calls_observed} call(s)]" if per_call else ""
                out.append(Check(kind, False, fails[0] + more + scope))
            else:
                note = self.notes.get(kind) or CHECK_MEANING.get(kind, "")
                scope = f" [{calls_observed} call(s)]" if kind in _PER_CALL and calls_observed else ""
                out.append(Check(kind, True, note + scope))
        return out

    def reasons(self) -> list[str]:
        out = []
        for kind in [k for k in CHECK_ORDER if k in self.failures] + sorted(set(self.failures) - set(CHECK_ORDER)):
            for message in self._render(kind)[:MAX_REASONS_PER_CHECK]:
                out.append(f"{kind}: {message}")
        return out


_PER_CALL = frozenset(CHECK_ORDER[CHECK_ORDER.index("structure") : CHECK_ORDER.index("stream") + 1])
"""The checks made on every forward call (structure through stream, in ``CHECK_ORDER``)."""


def _structure(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "tensor"
    if isinstance(value, codec.Opaque):
        return value.description
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__}[{', '.join(_structure(v) for v in value)}]"
    return type(value).__name__


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _leaves(v)]
    return [value]


def judge_outputs(
    ledger: CheckLedger,
    where: str,
    outputs: Any,
    reference: Any,
    prepared: PreparedReference,
    kind_prefix: str = "",
    param_hint: str = "",
    leaves: tuple[list[str], list[int]] | None = None,
) -> None:
    """Structure, dtype, shape and value checks of one call's outputs against the reference's.
    ``leaves`` (backward mode): each leaf's name (``gradient of parameter `weight```) and reduction
    length, which widens its tolerance (:func:`verifier.backward.gradient_tolerance`)."""
    values_kind = kind_prefix or "values"
    names = leaves[0] if leaves is not None and len(leaves[0]) == len(_leaves(reference)) else None
    if _structure(outputs) != _structure(reference):
        ref_s, got_s = _structure(reference), _structure(outputs)
        opaque = [leaf for leaf in _leaves(outputs) if isinstance(leaf, codec.Opaque)]
        got_leaves = _leaves(outputs)
        if opaque and all(isinstance(leaf, (torch.Tensor, codec.Opaque)) for leaf in got_leaves):
            ledger.fail("type", f"returned {opaque[0].description}, not a plain torch.Tensor", where)
        elif names is not None and len(got_leaves) == len(names):
            pairs = zip(got_leaves, _leaves(reference), strict=True)
            j = next((j for j, (g, r) in enumerate(pairs) if _structure(g) != _structure(r)), None)
            if j is None:
                ledger.fail("structure", f"returned {got_s}, the reference returns {ref_s}", where)
            else:
                ledger.fail("structure", f"{names[j]}: returned {_structure(got_leaves[j])}, expected a tensor", where)
        else:
            ledger.fail("structure", f"returned {got_s}, the reference returns {ref_s}", where)
        return
    ledger.ok("structure")
    for j, (got, ref) in enumerate(zip(_leaves(outputs), _leaves(reference), strict=True)):
        if not isinstance(ref, torch.Tensor):
            continue
        if names is not None:
            label = f"{where}, {names[j]}"
        else:
            label = f"{where}, output {j}" if len(_leaves(reference)) > 1 else where
        if got.dtype != ref.dtype:
            got_name, ref_name = str(got.dtype).removeprefix("torch."), str(ref.dtype).removeprefix("torch.")
            ledger.fail("dtype", f"dtype {got_name}, expected {ref_name}", label)
            continue
        ledger.ok("dtype")
        if tuple(got.shape) != tuple(ref.shape):
            ledger.fail("shape", f"shape {list(got.shape)}, expected {list(ref.shape)}", label)
            continue
        ledger.ok("shape")
        tol = tolerance_for(ref.dtype, prepared.reference.tolerances)
        if leaves is not None and names is not None:
            from verifier.backward import gradient_tolerance

            tol = gradient_tolerance(tol, leaves[1][j])
        result = compare(got, ref, tol)
        if result.passed:
            ledger.ok(values_kind, result.detail if not kind_prefix else None)
        else:
            ledger.fail(values_kind, f"{result.detail}{param_hint}", label)


class ConversationEnded(Exception):
    """The conversation with a worker ended (its error frame, or None for EOF, timeout, a fault or an
    unexpected frame)."""

    def __init__(self, frame: Frame | None) -> None:
        super().__init__()
        self.frame = frame


def timed_call(ledger: CheckLedger, header: dict[str, Any], prepared: PreparedReference) -> tuple[int, int]:
    """A timed call's run number and timing input set, from the worker's frame; a failed
    ``timed_outputs`` and :class:`ConversationEnded` when the set is unknown."""
    run, set_index = int(header.get("run", -1)), int(header.get("set", -1))
    if not 0 <= set_index < len(prepared.timing_sets):
        ledger.fail("timed_outputs", f"timed call {run + 1} names an unknown timing input set")
        raise ConversationEnded(None)
    return run, set_index


def judge_timed_outputs(
    ledger: CheckLedger, frame: Frame, run: int, set_index: int, prepared: PreparedReference, **kwargs: Any
) -> None:
    """A kept timed call's outputs (``frame``'s values) against its timing input set's reference outputs."""
    judge_outputs(
        ledger,
        f"timed call {run + 1} (timing input set {set_index + 1})",
        codec.decode(frame.header.get("values"), frame.blob),
        prepared.timing_sets[set_index].outputs,
        prepared,
        kind_prefix="timed_outputs",
        **kwargs,
    )


def judge_call(
    ledger: CheckLedger,
    header: dict[str, Any],
    outputs: Any,
    trial: ReferenceTrial,
    prepared: PreparedReference,
) -> None:
    """Every per-call check for one forward call: the worker's observations, then the outputs."""
    judge_claims(ledger, header, trial, prepared)
    call = int(header.get("call", 0))
    if 0 <= call < len(trial.calls):
        judge_call_outputs(ledger, header, outputs, trial, prepared)


def judge_call_outputs(
    ledger: CheckLedger, header: dict[str, Any], outputs: Any, trial: ReferenceTrial, prepared: PreparedReference
) -> None:
    """The decisive check of one call: its outputs, compared here with the reference's."""
    call = int(header.get("call", 0))
    judge_outputs(
        ledger,
        trial.describe(call),
        outputs,
        trial.calls[call].outputs,
        prepared,
        param_hint=param_hint(header.get("params")),
    )


def judge_locked(ledger: CheckLedger, locked: list[str], where: str) -> bool:
    """A locked framework op was called (the lock made it fail): a fallback, named. True if any."""
    if not locked:
        return False
    ops = sorted(set(locked))
    reads = [op for op in ops if op in SCALAR_READS]
    compute = [op for op in ops if op not in SCALAR_READS]
    if compute:
        ledger.fail(
            "no_fallback",
            f"called framework compute op(s) {', '.join(compute[:8])}, which are locked in the candidate "
            "process (a fallback to PyTorch)",
            where,
        )
    if reads:
        ledger.fail(
            "no_fallback",
            f"read tensor elements on the host ({', '.join(reads)}: `.item()`, `float(t)`...; host computation)",
            where,
        )
    return True


def judge_device(ledger: CheckLedger, outputs: list[dict[str, Any]], device: str, where: str) -> None:
    """The ``device`` check: every output the worker described is on the inputs' ``device``."""
    wrong_device = [d.get("device") for d in outputs if d.get("device") not in (None, device)]
    if wrong_device:
        ledger.fail("device", f"output on {wrong_device[0]}, the inputs are on {device}", where)
    else:
        ledger.ok("device")


def inputs_modified(header: dict[str, Any], expected_hashes: list[str]) -> str | None:
    """Why a call's inputs are not what they were (the hashes the worker sent differ), or None."""
    hashes = header.get("input_hashes", [])
    changed = [i for i, (a, b) in enumerate(zip(hashes, expected_hashes, strict=False)) if a != b]
    if changed or len(hashes) != len(expected_hashes):
        return f"the call modified input(s) {changed or 'list'} in place"
    return None


def judge_claims(
    ledger: CheckLedger,
    header: dict[str, Any],
    trial: ReferenceTrial,
    prepared: PreparedReference,
) -> None:
    """Checks of what the candidate worker observed during one call. These are tripwires: the worker
    shares its process with candidate code, so they can only reject, and never replace the output
    comparison (:func:`judge_call_outputs`)."""
    call = int(header.get("call", 0))
    if not 0 <= call < len(trial.calls):
        ledger.fail("process", f"reported an unknown call index {call}", trial.describe())
        return
    expected = trial.calls[call]
    where = trial.describe(call)
    described = header.get("outputs", [])
    bad_types = [d["type"] for d in described if d.get("type") != "torch.Tensor"]
    if bad_types:
        ledger.fail("type", f"returned {bad_types[0]} where a plain torch.Tensor is required", where)
    else:
        ledger.ok("type")
    judge_device(ledger, described, prepared.device, where)
    aliased = [(j, d["aliases"]) for j, d in enumerate(described) if d.get("aliases")]
    if aliased:
        j, inputs = aliased[0]
        ledger.fail("no_aliasing", f"output {j} shares memory with input(s) {inputs}", where)
    else:
        ledger.ok("no_aliasing")

    if modified := inputs_modified(header, expected.input_hashes):
        ledger.fail("inputs_unmodified", modified, where)
    else:
        ledger.ok("inputs_unmodified")

    allowed = prepared.reference.allowed_ops
    ops, profiled = set(header.get("ops", [])), set(header.get("profiled_ops", []))
    compute = fallback_ops(ops | profiled, allowed)
    host = list(header.get("host_copies", [])) + list(header.get("host_access", []))
    reads = scalar_reads(ops | profiled)
    library = library_kernels(header.get("gpu_kernels", []))
    if judge_locked(ledger, list(header.get("locked", [])), where):
        pass
    elif library:
        ledger.fail(
            "no_fallback", f"forward ran vendor library kernel(s) {', '.join(library[:4])} (framework compute)", where
        )
    elif reads:
        ledger.fail("no_fallback", "forward read tensor elements on the host (`.item()`, `float(t)`...)", where)
    elif compute:
        hidden = [op for op in compute if op not in ops]
        how = " (hidden from the dispatch mode, seen by the profiler)" if hidden and len(hidden) == len(compute) else ""
        allowed_note = f"; the task allows only {sorted(allowed)}" if allowed else ""
        ledger.fail(
            "no_fallback", f"forward ran framework compute op(s) {', '.join(compute[:8])}{how}{allowed_note}", where
        )
    elif host:
        ledger.fail("no_fallback", f"forward computed on the host ({', '.join(sorted(set(host))[:4])})", where)
    else:
        ledger.ok("no_fallback")
    unseen = sorted(op for op in ops if op not in profiled)
    if unseen:
        ledger.fail(
            "recorders_agree",
            f"ops {unseen[:5]} reached the dispatch mode but not the profiler "
            "(profiling was disabled by candidate code)",
            where,
        )
    else:
        ledger.ok("recorders_agree")
    if header.get("late_write") is True:
        ledger.fail(
            "stream",
            "the output changed after forward returned, before it was collected (a late write from a thread, "
            "a handler or a finalizer)",
            where,
        )
    if header.get("stream_mismatch") is True:
        ledger.fail(
            "stream",
            "the output changed after forward returned (work left on another stream without "
            "synchronising with the caller's stream)",
            where,
        )
    elif "stream_mismatch" in header:
        ledger.ok("stream")


def param_hint(params: dict[str, Any] | None) -> str:
    if not params or not params.get("reference_only"):
        return ""
    return (
        f" (note: reference parameters {params['reference_only'][:4]} have no counterpart in ModelNew "
        f"{params.get('candidate_only', [])[:4]}; ModelNew's own initialisation was used)"
    )


def parameters_note(params: dict[str, Any] | None) -> str:
    if not params:
        return ""
    loaded = len(params.get("loaded_by_name", [])) + len(params.get("loaded_by_shape", []))
    text = f"loaded {loaded} of {params.get('reference_tensors', 0)} reference parameter/buffer tensor(s)"
    if params.get("loaded_by_shape"):
        text += f" (matched by shape: {', '.join(params['loaded_by_shape'][:4])})"
    return text
