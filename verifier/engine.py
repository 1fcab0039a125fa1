"""``verify()``: one verification, from sources to a :class:`Report`.

1. Resolve the device and the strongest sandbox this host offers.
2. Run the reference in its own sandbox process (or reuse a :class:`PreparedReference`).
3. Screen the candidate's source statically.
4. Run the candidate in another sandbox process; judge every frame it sends in this process.
5. On a GPU, time an accepted candidate and compare with the reference's eager and compiled times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import torch

from verifier.candidate_run import CandidateRun
from verifier.errors import SandboxUnavailableError, VerifierInputError
from verifier.evaluation import CheckLedger
from verifier.modes import both_report
from verifier.plan_run import PlanRun
from verifier.reference_run import PreparedReference, prepare_reference, retime_eager_timing
from verifier.report import Report, Timing
from verifier.sandbox.isolation import Isolation, choose
from verifier.spec import Candidate, Reference, VerifyOptions
from verifier.speedup import implausible, speedup_interval
from verifier.static_screen import screen

Progress = Callable[[str], None]


def resolve_device(choice: str) -> str:
    if choice == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if choice == "cuda" and not available:
        raise VerifierInputError("--device cuda was asked for, but no CUDA GPU is available on this host")
    return "cuda" if available else "cpu"


def prepare(
    reference: Reference | str, options: VerifyOptions | None = None, progress: Progress | None = None
) -> PreparedReference:
    """Run the reference once; pass the result to :func:`verify` for every candidate of the same op."""
    options = options or VerifyOptions()
    ref = reference if isinstance(reference, Reference) else Reference(source=reference)
    device, isolation = _where(options)
    if options.mode == "both":
        forward = prepare_reference(ref, replace(options, mode="forward"), device, isolation, progress)
        forward.companion = prepare_reference(ref, replace(options, mode="backward"), device, isolation, progress)
        forward.mode = "both"
        return forward
    return prepare_reference(ref, options, device, isolation, progress)


def _where(options: VerifyOptions) -> tuple[str, Isolation]:
    """The device and the sandbox the options ask for (VerifierInputError when one is unusable here)."""
    device = resolve_device(options.device)
    try:
        return device, choose(options.sandbox, options.trusted_code, options.sandbox_image, device == "cuda")
    except SandboxUnavailableError as e:
        raise VerifierInputError(str(e)) from None


def verify(
    reference: Reference | PreparedReference | str,
    candidate: Candidate | str,
    options: VerifyOptions | None = None,
    progress: Progress | None = None,
) -> Report:
    """Decide whether ``candidate`` computes ``reference``'s op. Raises VerifierInputError when the
    reference or the options are unusable; every fault of the candidate is a verdict, not an error."""
    started = time.monotonic()
    options = options or VerifyOptions()
    if options.mode == "both" or (isinstance(reference, PreparedReference) and reference.mode == "both"):
        return _verify_both(reference, candidate, options, progress)
    cand = candidate if isinstance(candidate, Candidate) else Candidate(source=candidate)
    findings = screen(cand.source) if options.static_screen else []
    run: CandidateRun | PlanRun | None = None
    if isinstance(reference, PreparedReference):
        prepared = reference
        if prepared.mode != options.mode:
            raise VerifierInputError(
                f"the reference was prepared for {prepared.mode} mode; this verification asks for {options.mode} mode"
            )
    else:
        ref_spec = reference if isinstance(reference, Reference) else Reference(source=reference)
        device, isolation = _where(options)
        if not findings:  # the candidate worker imports torch, triton and the candidate meanwhile
            run = _candidate_run(cand, ref_spec, device, isolation, options)
            run.start()
        try:
            prepared = prepare_reference(ref_spec, options, device, isolation, progress)
        except BaseException:
            if run is not None:
                run.abort()
            raise
    if prepared.degenerate:
        if run is not None:
            run.abort()
        raise VerifierInputError(
            f"the reference output is degenerate ({prepared.degenerate}): a kernel returning that constant would "
            "pass, so no kernel can be verified against it (use other inputs, or allow_degenerate_reference)"
        )
    ref = prepared.reference
    device_label = prepared.environment.get("device_name", prepared.device)
    report = Report(
        verdict="rejected",
        device=f"{prepared.device} ({device_label})" + (", Triton interpreter" if prepared.device == "cpu" else ""),
        language=cand.resolved_language,
        sandbox=prepared.isolation.describe(),
        seeds=[t.seed for t in prepared.trials],
        shapes=sorted({t.shape or "as written" for t in prepared.trials}),
        environment=dict(prepared.environment),
        reference_sha256=ref.sha256,
        candidate_sha256=cand.sha256,
        reference_name=ref.name,
        candidate_name=cand.name,
        mode=prepared.mode,
    )
    ledger = CheckLedger()

    if options.static_screen:
        if findings:
            for finding in findings:
                ledger.fail("static_screen", str(finding))
            return _finish(report, ledger, 0, started)
        ledger.ok("static_screen")

    if prepared.mode == "backward" and cand.resolved_language == "cuda":
        if run is not None:
            run.abort()
        ledger.fail(
            "backward",
            "backward mode verifies Triton candidates (a torch.autograd.Function whose forward and backward launch "
            "Triton kernels); a CUDA candidate is verified in forward mode only",
        )
        return _finish(report, ledger, 0, started)

    if run is None:
        run = _candidate_run(cand, ref, prepared.device, prepared.isolation, options)
    outcome = run.drive(prepared, ledger, progress)
    report.notes = list(outcome.notes)
    report.static_profile = dict(outcome.static_profile)
    report.sandbox = {**report.sandbox, "worker_start": outcome.worker_start}
    if outcome.exit is not None:
        report.logs = {"stdout": outcome.exit.stdout_tail, "stderr": outcome.exit.stderr_tail}
    if options.compile_only and isinstance(run, PlanRun) and ledger.passed:
        report.verdict = "not_run"
        report.checks = ledger.checks(0)
        report.reasons = ["compile only: the kernels were planned and built for the GPU target, and not run"]
        report.duration_s = time.monotonic() - started
        return report

    if outcome.compile_results:
        failed = [r for r in outcome.compile_results if not r.get("ok")]
        for r in failed:
            if r.get("libraries"):
                ledger.fail("no_fallback", f"extension '{r.get('name')}' {r.get('log', '')}")
            else:
                ledger.fail("compile", f"nvcc failed for extension '{r.get('name')}':\n{r.get('log', '')[-2500:]}")
        if not failed:
            seconds = sum(float(r.get("seconds", 0)) for r in outcome.compile_results)
            archs = ", ".join(sorted({str(r.get("arch") or "sm_90") for r in outcome.compile_results}))
            ledger.ok("compile", f"{len(outcome.compile_results)} extension(s) compiled for {archs} in {seconds:.0f} s")
            report.verdict = "not_run"
            report.checks = ledger.checks(0)
            report.reasons = [
                "CUDA candidate compiled with nvcc but not run: no GPU on this host, so its "
                "correctness and speed are unverified"
            ]
            report.duration_s = time.monotonic() - started
            return report

    if ledger.passed and outcome.completed and outcome.calls_judged == 0 and not outcome.compile_results:
        ledger.fail("process", "the candidate reported no forward calls")
    if ledger.passed and outcome.timing is not None and prepared.timing is not None:
        if progress:
            progress("reference: eager baseline timed again next to the candidate")
        eager_now = retime_eager_timing(prepared, options)
        if eager_now is None:
            report.notes.append("the eager baseline could not be timed again: the speedup uses the prepare-time one")
        report.timing = _timing(outcome.timing, prepared.timing, outcome.wall_ms_per_call, eager_now=eager_now)
        if report.timing.recheck:
            report.notes.append(report.timing.recheck)
    return _finish(report, ledger, outcome.calls_judged, started)


def _verify_both(
    reference: Reference | PreparedReference | str,
    candidate: Candidate | str,
    options: VerifyOptions,
    progress: Progress | None,
) -> Report:
    """Mode ``both``: the forward verification, then (if it accepted) the backward one; one report."""
    if isinstance(reference, PreparedReference):
        if reference.mode != "both" or reference.companion is None:
            raise VerifierInputError(
                f"the reference was prepared for {reference.mode} mode; mode both needs it prepared with mode both"
            )
        prepared = reference
    else:
        prepared = prepare(reference, options, progress)
    assert prepared.companion is not None
    forward_only = replace(prepared, mode="forward", companion=None)
    forward = verify(forward_only, candidate, replace(options, mode="forward"), progress)
    if forward.verdict != "accepted":
        return both_report(forward, None)
    backward = verify(prepared.companion, candidate, replace(options, mode="backward"), progress)
    return both_report(forward, backward)


def _candidate_run(
    cand: Candidate, ref: Reference, device: str, isolation: Isolation, options: VerifyOptions
) -> CandidateRun | PlanRun:
    """Triton candidates are verified by plan, then run (no process running candidate Python holds
    data); CUDA candidates run in their own process, under the compute lock from before their import."""
    if cand.resolved_language == "triton":
        return PlanRun(cand, ref, device, isolation, options)
    return CandidateRun(cand, ref, device, isolation, options)


def _timing(
    candidate: dict,
    reference: dict,
    wall_ms: float | None,
    eager_now_ms: float | None = None,
    eager_now: dict | None = None,
) -> Timing:
    """The report's timings; the baseline timed next to the candidate (``eager_now``, its timing frame,
    or only its median ``eager_now_ms``) wins over the prepare-time eager median, which is kept as
    ``eager_prepare_ms``. torch.compile's median is the prepare-time one (compiling again per
    candidate would cost a minute each). The speedup's bounds come from the samples of the eager
    timing used and the candidate's (:func:`verifier.speedup.speedup_interval`); a speedup over 10x
    is flagged for a re-check."""
    eager_prepare_ms = float(reference["eager_ms"])
    cand_ms = float(candidate["candidate_ms"])
    if eager_now is not None and eager_now_ms is None:
        eager_now_ms = eager_now.get("eager_ms")
    now = eager_now_ms is not None and eager_now_ms > 0
    eager_ms = float(eager_now_ms) if now else eager_prepare_ms  # type: ignore[arg-type]
    eager_samples = ((eager_now or {}) if now else reference).get("times_ms") or []
    interval = None
    if eager_samples and candidate.get("times_ms") and min(candidate["times_ms"]) > 0:
        interval = speedup_interval(eager_samples, candidate["times_ms"])
    compiled_ms = reference.get("compiled_ms")
    speedup = eager_ms / cand_ms if cand_ms > 0 else float("inf")
    return Timing(
        device_name=str(candidate.get("device_name", reference.get("device_name", "cuda"))),
        candidate_ms=cand_ms,
        eager_ms=eager_ms,
        compiled_ms=compiled_ms,
        speedup_eager=speedup,
        speedup_compiled=(compiled_ms / cand_ms) if compiled_ms and cand_ms > 0 else None,
        runs=int(candidate.get("runs", 0)),
        warmup_runs=int(candidate.get("warmup_runs", 0)),
        method=str(candidate.get("method", "")),
        compile_error=reference.get("compile_error"),
        wall_ms_per_call=wall_ms,
        eager_prepare_ms=eager_prepare_ms,
        speedup_low=interval.low if interval else None,
        speedup_high=interval.high if interval else None,
        recheck=implausible(speedup),
        sm_clock_mhz={
            "candidate": candidate.get("sm_clock_mhz") or {},
            "eager": ((eager_now or {}) if now else reference).get("sm_clock_mhz") or {},
        },
        fp32_precision=dict(reference.get("fp32_precision") or {}),
    )


def _finish(report: Report, ledger: CheckLedger, calls: int, started: float) -> Report:
    report.checks = ledger.checks(calls)
    report.reasons = ledger.reasons()
    report.verdict = "accepted" if ledger.passed and calls > 0 else "rejected"
    if report.verdict == "rejected" and not report.reasons:
        report.reasons = ["no forward call was checked"]
    report.duration_s = time.monotonic() - started
    return report
