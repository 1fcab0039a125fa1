"""Mode ``both``: one report from a forward verification and a backward one."""

from __future__ import annotations

from dataclasses import replace

from verifier.report import Check, Report

BACKWARD_PREFIX = "backward."
"""Check names of the backward verification in a ``both`` report (``backward.values``...)."""


def both_report(forward: Report, backward: Report | None) -> Report:
    """``forward``'s report with ``backward``'s checks, reasons and timing added (None: the backward was
    not run because the forward was not accepted). Accepted only if both are; ``not_run`` if either
    could not run and none was rejected."""
    merged = replace(forward, mode="both", checks=list(forward.checks), reasons=list(forward.reasons))
    merged.notes = list(forward.notes)
    if backward is None:
        merged.notes.append("backward: not verified (the forward was not accepted)")
        return merged
    merged.checks += [Check(BACKWARD_PREFIX + c.name, c.passed, c.detail) for c in backward.checks]
    merged.reasons += [f"backward {r}" for r in backward.reasons]
    merged.notes += [f"backward: {n}" for n in backward.notes]
    merged.backward_timing = backward.timing
    merged.duration_s = forward.duration_s + backward.duration_s
    verdicts = {forward.verdict, backward.verdict}
    merged.verdict = "rejected" if "rejected" in verdicts else ("not_run" if "not_run" in verdicts else "accepted")
    return merged
