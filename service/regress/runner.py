"""One regression run: re-verify each selected kernel and judge it against its recorded result.

Per kernel, in order:

1. integrity: the kernel's and the task's stored sources must still match their recorded sha256
   (checked before anything runs; a mismatch is a regression);
2. the shapes and the reference (``reference``/``shapes``); a kernel this host cannot check is skipped;
3. re-verification with the same verifier, options and trust model as generation (``verifying``);
4. correctness: not accepted any more is a regression. For a task whose reference changed since the
   kernel was verified, the message says so, with both sha256 prefixes;
5. speed, only on a GPU and only against a recorded GPU timing of the same hardware fingerprint
   (``speed.judge_speed``); on the CPU speed is never compared, and the result says so;
6. recording the re-verification (``recording``), unless disabled.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from service.regress.errors import RegressSetupError
from service.regress.recording import record_rerun
from service.regress.reference import reference_for, shape_plan
from service.regress.results import KernelResult, Recorded, RegressRun, Rerun, StoredAs, version_changes
from service.regress.speed import RecordedSpeed, SpeedJudgement, SpeedSample, judge_speed
from service.regress.targets import Target, integrity_problem
from service.regress.verifying import LocalVerifier, RepeatedVerification, Verifier
from service.text import printable

if TYPE_CHECKING:
    from kernels_store import BestKernel, Store
    from verifier import Report

Progress = Callable[[str], None]
CPU_SPEED_NOTE = "speed not checked: CPU run (Triton interpreter times say nothing about kernel speed)"
IMPORTED_SPEED_NOTE = "speed not compared: the recorded timing was imported, not verified here (no baseline)"
IMPORTED_LEAD = "the imported kernel is not accepted here: "


@dataclass(frozen=True)
class RegressOptions:
    device: str = "auto"
    """auto | cpu | cuda"""
    timeout_s: float = 180.0
    repeats: int = 3
    """Verifications per kernel on a GPU, for the speed rule (one on the CPU)."""
    trials: int = 3
    """Correctness trials per verification (the verifier's default policy)."""
    record: bool = True

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, not {self.device!r}")
        if self.repeats < 1:
            raise ValueError("repeats must be >= 1")


def resolve_device(choice: str) -> str:
    """``service.devices.resolve_device``; ``RegressSetupError`` when the device is unusable."""
    from service import devices

    try:
        return devices.resolve_device(choice)
    except devices.DeviceUnavailable as e:
        raise RegressSetupError(str(e)) from None


def run_regress(
    store: Store,
    targets: list[Target],
    options: RegressOptions,
    *,
    progress: Progress | None = None,
    verifier: Verifier | None = None,
    selection: str = "all",
) -> RegressRun:
    """Check every target; ``verifier`` defaults to the real one (tests pass a stand-in).
    Raises ``RegressSetupError`` when the device or the options are unusable."""
    from verifier import VerifyOptions

    started = time.monotonic()
    cluster_device = getattr(verifier, "device", None)  # a cluster executor verifies on its workers' device
    if callable(cluster_device):
        try:
            device = str(cluster_device()) if options.device == "auto" else options.device
        except Exception as e:
            raise RegressSetupError(f"the executor cannot verify: {e}") from None
    else:
        device = resolve_device(options.device)
    try:
        verify_options = VerifyOptions(
            device=device,  # type: ignore[arg-type]
            timeout_s=options.timeout_s,
            trials=options.trials,
        )
    except ValueError as e:
        raise RegressSetupError(str(e)) from None
    verification = RepeatedVerification(verifier or LocalVerifier(), verify_options, device, options.repeats)
    say = progress or (lambda _message: None)
    results = []
    for index, target in enumerate(targets, start=1):
        best = target.best
        say(
            f"[{index}/{len(targets)}] {printable(best.task_id)} on "
            f"{printable(best.device_name or best.hardware_fingerprint)}: "
            f"kernel #{best.candidate.id} ({printable(best.candidate.origin)})"
        )
        kernel_started = time.monotonic()
        result = check_kernel(store, target, verification, record=options.record, progress=progress)
        result = replace(result, duration_s=time.monotonic() - kernel_started)
        say(f"    -> {result.outcome.replace('_', ' ')}: {printable(result.reason)} ({result.duration_s:.1f} s)")
        results.append(result)
    run = RegressRun(
        results=results,
        device=device,
        database=store.url,
        selection=selection,
        record=options.record,
        duration_s=time.monotonic() - started,
    )
    if device == "cpu":
        run.notes.append(CPU_SPEED_NOTE)
    return run


def check_kernel(
    store: Store,
    target: Target,
    verification: RepeatedVerification,
    *,
    record: bool,
    progress: Progress | None = None,
) -> KernelResult:
    """Steps 1-6 of this module's docstring for one kernel."""
    from verifier import Candidate, VerifierError

    best, task = target.best, target.task
    recorded = Recorded.of(best.verification)
    result = partial(KernelResult, **_identity(target), recorded=recorded, stale_reference=target.stale)

    problem = integrity_problem(target)
    if problem is not None:
        return result(outcome="regressed", reason=problem)
    if best.candidate.language == "cuda" and verification.device == "cpu":
        return result(
            outcome="skipped", reason="CUDA kernel: it runs only on a GPU runner (a CPU host can only compile it)"
        )
    plan = shape_plan(task, recorded.shapes, verification.device)
    if plan.skip_reason:
        return result(outcome="skipped", reason=plan.skip_reason)
    changed = _reference_change(target)
    notes = [plan.note] if plan.note else []
    language: Any = best.candidate.language
    candidate = Candidate(source=best.candidate.source, name=f"candidate-{best.candidate.id}", language=language)
    indented = (lambda message: progress(f"      {message}")) if progress is not None else None
    try:
        reports = verification.run(reference_for(task, plan), candidate, indented, mode=best.mode)
    except VerifierError as e:
        first, detail = _first_line(str(e))
        return result(
            outcome="could_not_run", reason=f"{changed}could not verify: {first}", notes=tuple(notes), detail=detail
        )
    except Exception as e:  # a bug or an environment fault: reported, never a pass
        first, detail = _first_line(f"{type(e).__name__}: {e}")
        return result(
            outcome="could_not_run", reason=f"{changed}the verifier failed: {first}", notes=tuple(notes), detail=detail
        )

    kept, rerun = _report_to_keep(reports), _rerun(reports)
    notes += _context_notes(best, recorded, rerun)
    stored_as: StoredAs = "not recorded"
    if record:
        try:
            stored_as = record_rerun(store, best.candidate.id, kept)
        except Exception as e:  # the verdict stands; the write failure is reported
            notes.append(f"could not record the re-verification: {type(e).__name__}: {e}")
    result = partial(result, rerun=rerun, stored_as=stored_as)

    if kept.verdict == "not_run":
        first, detail = _first_line(kept.reasons[0] if kept.reasons else "the verifier did not run the kernel")
        return result(outcome="could_not_run", reason=changed + first, notes=tuple(notes), detail=detail)
    if not kept.accepted:
        lead = changed + "the kernel no longer passes: " if changed else "no longer accepted: "
        reason, detail = _rejection(IMPORTED_LEAD if target.imported and not changed else lead, kept.reasons)
        return result(outcome="regressed", reason=reason, notes=tuple(notes), detail=detail)
    judgement, speed_note = _judge_speed(best, recorded, reports, verification.device)
    if judgement is not None and judgement.regressed:
        return result(
            outcome="regressed",
            reason=changed + judgement.summary,
            notes=tuple(notes),
            speed=judgement,
            speed_checked=True,
        )
    notes.append(judgement.summary if judgement is not None else speed_note)
    holds = changed + "the kernel holds against the new reference" if changed else "still accepted by the verifier"
    if target.imported and not changed:
        holds = "imported kernel accepted by this deployment's verifier"
    return result(
        outcome="holds", reason=holds, notes=tuple(notes), speed=judgement, speed_checked=judgement is not None
    )


def _identity(target: Target) -> dict[str, Any]:
    """The fields that name the kernel in a ``KernelResult``."""
    best = target.best
    return {
        "task_id": best.task_id,
        "hardware_fingerprint": best.hardware_fingerprint,
        "device_name": best.device_name,
        "candidate_id": best.candidate.id,
        "candidate_sha256": best.candidate.source_sha256,
        "language": best.candidate.language,
        "origin": best.candidate.origin,
        "origin_detail": best.candidate.origin_detail,
        "mode": best.mode,
    }


def _context_notes(best: BestKernel, recorded: Recorded, rerun: Rerun) -> list[str]:
    """What changed since the recorded verification: library versions, hardware."""
    notes = []
    moved = version_changes(recorded.versions, rerun.versions)
    if moved:
        notes.append(f"since the recorded verification: {moved}")
    if rerun.hardware_fingerprint != best.hardware_fingerprint:
        notes.append(f"recorded on {best.device_name or best.hardware_fingerprint}, re-run on {rerun.device}")
    return notes


def _reference_change(target: Target) -> str:
    """The message prefix for a kernel verified against an older reference source ("" when current)."""
    if not target.stale:
        return ""
    before, after = target.best.verification.reference_sha256, target.task.source_sha256
    return (
        f"task {target.task.id}'s reference changed since this kernel was verified "
        f"(sha {before[:10]}… → {after[:10]}…): "
    )


def _first_line(text: str) -> tuple[str, str]:
    """A message's first line (for the reason), and the whole text when it has more (for ``detail``)."""
    lines = text.strip().splitlines() or [""]
    return lines[0], text.strip() if len(lines) > 1 else ""


def _rejection(lead: str, reasons: list[str]) -> tuple[str, str]:
    """The reason (``lead``, then the first line of the verifier's first reason) and, when there is
    more, all reasons."""
    first, _ = _first_line(reasons[0] if reasons else "rejected without a reason")
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    full = "\n".join(reasons)
    return lead + first + more, full if full.strip() != first else ""


def _samples(reports: list[Report]) -> list[SpeedSample]:
    """GPU timings of accepted runs; CPU reports never carry one (the verifier does not time on CPU)."""
    return [
        SpeedSample(r.timing.candidate_ms, r.timing.eager_ms)
        for r in reports
        if r.accepted and r.timing is not None and r.device.startswith("cuda")
    ]


def _report_to_keep(reports: list[Report]) -> Report:
    """The report to record and show: the failing run, else the run with the median candidate time."""
    last = reports[-1]
    timed = [r for r in reports if r.timing is not None]
    if not last.accepted or not timed:
        return last
    ordered = sorted(timed, key=lambda r: r.timing.candidate_ms if r.timing else 0.0)
    return ordered[(len(ordered) - 1) // 2]


def _rerun(reports: list[Report]) -> Rerun:
    kept = _report_to_keep(reports)
    samples = _samples(reports)
    env = kept.environment
    return Rerun(
        verdict=kept.verdict,
        reasons=list(kept.reasons),
        device=kept.device,
        hardware_fingerprint=str(env.get("hardware_fingerprint") or ""),
        shapes=list(kept.shapes),
        versions={key: (None if env.get(key) is None else str(env.get(key))) for key in ("torch", "triton", "cuda")},
        runs=len(reports),
        speedup_eager=statistics.median(s.speedup_eager for s in samples) if samples else None,
        candidate_ms=statistics.median(s.candidate_ms for s in samples) if samples else None,
        duration_s=sum(r.duration_s for r in reports),
    )


def _judge_speed(
    best: BestKernel, recorded: Recorded, reports: list[Report], device: str
) -> tuple[SpeedJudgement | None, str]:
    """The speed judgement, or None and a note saying why speed was not compared."""
    if device != "cuda":
        return None, CPU_SPEED_NOTE
    if not best.verification.verified_here:
        return None, IMPORTED_SPEED_NOTE
    fingerprint = str(reports[-1].environment.get("hardware_fingerprint") or "")
    if fingerprint != best.hardware_fingerprint:
        return None, (
            f"speed not compared: recorded on other hardware ({best.device_name or best.hardware_fingerprint}); "
            f"this host's fingerprint is {fingerprint}"
        )
    if not recorded.candidate_ms or not recorded.speedup_eager:
        return None, "speed not compared: the recorded verification has no GPU timing"
    samples = _samples(reports)
    if not samples:
        return None, "speed not checked: the verifier did not time the new runs"
    return judge_speed(RecordedSpeed(recorded.candidate_ms, recorded.speedup_eager), samples), ""
