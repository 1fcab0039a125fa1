"""Dropping tuning variants that would spill on the GPU target, before they are verified.

Each variant is planned and its kernels built for the verifier's GPU target with
``VerifyOptions.compile_only`` (the ``gpu_compile`` check's builds, cached by content, so the
verification that follows reuses them; nothing runs, nothing counts against the budget). Variants
whose builds spill registers to local memory are dropped when another one does not spill; if every
one spills, the one that spills least is kept. Traffic (requested bytes, sectors) needs a run in the
interpreter, so it is not screened here: the verified candidate's ``static_profile`` reports it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agents.session import Session
from verifier import Candidate, VerifierInputError, verify

Variant = tuple[str, dict[str, Any]]


def spill_bytes(session: Session, source: str, name: str) -> int | None:
    """Bytes the variant's builds spill (stored plus loaded), or None when its builds say nothing
    (it did not plan or compile: the verification will say why)."""
    options = dataclasses.replace(session.request.verify_options, compile_only=True)
    try:
        report = verify(session.prepare(), Candidate(source=source, name=name, language="triton"), options)
    except VerifierInputError:  # the verification proper will say so: keep the variant
        return None
    if report.verdict != "not_run":
        return None
    found = report.static_profile.get("summary", {}).get("spill_bytes")
    return int(found) if isinstance(found, int) else None


def screen_variants(session: Session, variants: list[Variant]) -> list[Variant]:
    """The variants worth verifying (in their order); a ``note`` event names each one dropped."""
    if len(variants) < 2 or session.request.language != "triton":
        return variants
    spills = [spill_bytes(session, source, f"screen-{params['profile']}") for source, params in variants]
    known = [s for s in spills if s is not None]
    if not known:
        return variants
    floor = min(known)
    least = spills.index(floor)  # when every build spills, the first that spills least stays
    kept = []
    for i, ((source, params), spilled) in enumerate(zip(variants, spills, strict=True)):
        if spilled is None or spilled == 0 or i == least:
            kept.append((source, params))
        else:
            session.emit(
                "note",
                message=f"tuning profile {params['profile']} dropped before verification: its GPU builds spill "
                f"{spilled} B to local memory (another profile spills {floor} B)",
            )
    return kept
