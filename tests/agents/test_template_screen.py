"""Tuning variants whose GPU builds spill are dropped before verification (compile-only builds)."""

from __future__ import annotations

import agents
from agents.session import Session
from agents.template import plan_template
from agents.template.emit import emit_candidate
from agents.template.screen import screen_variants
from tests.agents.template_harness import reference_source
from verifier import Reference, VerifyOptions

OPTIONS = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=600)
SOFTMAX = reference_source("torch.softmax(x, dim=-1)", "torch.randn(2, 8192)")


def test_a_variant_that_spills_is_dropped_with_a_note() -> None:
    reference = Reference(source=SOFTMAX, name="softmax_8192")
    plan = plan_template(reference, OPTIONS)
    profiles = {
        "whole_row_one_warp": {"rows": {"num_warps": 1, "row_elements": 8192}},  # 256 values a thread
        "looped": {"rows": {"num_warps": 4, "row_elements": 1024}},
    }
    variants = [
        (emit_candidate(plan.program, plan.model, profile, plan.title, name), {"profile": name})
        for name, profile in profiles.items()
    ]
    events: list[tuple[str, dict]] = []
    session = Session(agents.GenerationRequest(reference=reference, verify_options=OPTIONS))
    session.on_event = lambda event: events.append((event["type"], event))
    kept = screen_variants(session, variants)
    assert [params["profile"] for _, params in kept] == ["looped"]
    notes = [e["message"] for kind, e in events if kind == "note"]
    assert any("whole_row_one_warp dropped" in n and "spill" in n for n in notes), notes
    assert session.candidates == []  # nothing verified, nothing counted against the budget
    assert screen_variants(session, variants[1:]) == variants[1:]  # a single variant is never screened
