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
    those whose GPU builds spill when another does not (:mod:`agents.template.screen`). In backward and
    both modes: the op's training candidate instead (:func:`submit_training`; the LLM loop's seed too)."""
    if session.request.verify_options.mode != "forward":
        return submit_training(session, plan)
    prepared = session.prepare()
    results = []
    for source, params in screen_variants(session, plan.variants(prepared.device, limit)):
        results.append(session.submit(source, ORIGIN, params=params, name=f"template-{params['profile']}"))
    return results


def training_source(plan: TemplatePlan) -> str | NoTemplate:
    """The op's training candidate (its forward and backward kernels in one ``torch.autograd.Function``,
    :mod:`agents.template.training`), or why there is none."""
    from agents.template.training import training_candidate

    try:
        return training_candidate(plan)
    except NoTemplate as e:
        return e


def submit_training(session: Session, plan: TemplatePlan) -> list[CandidateResult]:
    """Backward (and ``both``) mode: verify the op's training candidate; none (a note says why) when the op
    has no training template."""
    source = training_source(plan)
    if isinstance(source, NoTemplate):
        session.emit("note", message=f"no training template: {source}"[:500])
        return []
    params = {"profile": "training", "family": plan.program.family, "kernels": plan.describe()}
    return [session.submit(source, ORIGIN, params=params, name="template-training")]


def run_template(session: Session) -> str:
    planned = plan_or_explain(session)
    if isinstance(planned, str):
        session.error(planned)
        return STOP_NO_TEMPLATE
    session.check()
    if session.request.verify_options.mode != "forward":
        missing = training_source(planned)
        if isinstance(missing, NoTemplate):
            session.error(f"no template: {missing}")
            return STOP_NO_TEMPLATE
    submit_variants(session, planned)
    return STOP_EXHAUSTED
