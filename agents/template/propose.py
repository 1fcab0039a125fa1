"""The template proposer: plan the op's kernels once, verify one candidate per tuning profile."""

from __future__ import annotations

from agents.session import Session
from agents.template import NoTemplate, TemplatePlan, plan_template
from agents.template.screen import screen_variants
from agents.types import STOP_EXHAUSTED, STOP_NO_TEMPLATE, CandidateResult

ORIGIN = "template"


def plan_or_explain(session: Session) -> TemplatePlan | str:
    """The plan, or a message saying why there is none (the op, or the language)."""
    request = session.request
    if request.language != "triton":
        return f"no template: the template compiler emits Triton kernels only (asked for {request.language})"
    try:
        plan = plan_template(request.reference, request.verify_options, request.trace_shape)
    except NoTemplate as e:
        return f"no template: {e}"
    for note in plan.notes:
        session.emit("note", message=note[:500])
    return plan


def submit_variants(session: Session, plan: TemplatePlan, limit: int | None = None) -> list[CandidateResult]:
    """Verify the plan's variants for the prepared device (all profiles on a GPU, one on a CPU), less
    those whose GPU builds spill when another does not (:mod:`agents.template.screen`)."""
    prepared = session.prepare()
    results = []
    for source, params in screen_variants(session, plan.variants(prepared.device, limit)):
        results.append(session.submit(source, ORIGIN, params=params, name=f"template-{params['profile']}"))
    return results


def submit_training(session: Session, plan: TemplatePlan) -> str:
    """Backward (and ``both``) mode: the op's training candidate, its forward and backward kernels in one
    ``torch.autograd.Function`` (:mod:`agents.template.training`); why there is none otherwise."""
    from agents.template.training import training_candidate

    try:
        source = training_candidate(plan)
    except NoTemplate as e:
        session.error(f"no template: {e}")
        return STOP_NO_TEMPLATE
    params = {"profile": "training", "family": plan.program.family, "kernels": plan.describe()}
    session.submit(source, ORIGIN, params=params, name="template-training")
    return STOP_EXHAUSTED


def run_template(session: Session) -> str:
    planned = plan_or_explain(session)
    if isinstance(planned, str):
        session.error(planned)
        return STOP_NO_TEMPLATE
    session.check()
    if session.request.verify_options.mode != "forward":
        return submit_training(session, planned)
    submit_variants(session, planned)
    return STOP_EXHAUSTED
