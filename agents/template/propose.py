"""The template proposer: plan the op's kernels once, verify one candidate per tuning profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.session import Session
from agents.template import NoTemplate, TemplatePlan, plan_template
from agents.template.screen import screen_variants
from agents.types import STOP_EXHAUSTED, STOP_NO_TEMPLATE, CandidateResult

if TYPE_CHECKING:
    from agents.template.training.joint import JointPlan

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


def joint_plan(session: Session, plan: TemplatePlan) -> JointPlan | NoTemplate:
    """The op's joint forward/backward plan (:mod:`agents.template.training.joint`: autograd's backward
    graph lowered like a forward), or why there is none; computed once per plan."""
    if plan.joint is None:
        from agents.template.training.joint import trace_joint

        request = session.request
        try:
            plan.joint = trace_joint(
                request.reference, request.verify_options, plan.program.input_names, request.trace_shape
            )
        except NoTemplate as e:
            plan.joint = e
    return plan.joint


def submit_training(session: Session, plan: TemplatePlan) -> list[CandidateResult]:
    """Backward (and ``both``) mode: verify the op's training candidate: its hand-written training template
    where one applies, else the lowering of autograd's joint graph (:func:`joint_plan`); none (a note says
    why) when neither applies."""
    source = training_source(plan)
    params = {"profile": "training", "family": plan.program.family, "kernels": plan.describe()}
    name = "template-training"
    if isinstance(source, NoTemplate):
        joint = joint_plan(session, plan)
        if isinstance(joint, NoTemplate):
            session.emit("note", message=f"no training template: {source}; the joint graph: {joint}"[:500])
            return []
        from agents.template.training.joint import joint_candidate
        from agents.template.tuning import profiles_for

        profile_name, profile = next(iter(profiles_for(session.prepare().device).items()))
        source = joint_candidate(joint, plan.model, profile, plan.title)
        kernels = joint.describe()
        params = {"profile": "joint", "tuning": profile_name, "family": plan.program.family, "kernels": kernels}
        name = "template-joint"
    return [session.submit(source, ORIGIN, params=params, name=name)]


def run_template(session: Session) -> str:
    planned = plan_or_explain(session)
    if isinstance(planned, str):
        session.error(planned)
        return STOP_NO_TEMPLATE
    session.check()
    if session.request.verify_options.mode != "forward":
        missing = training_source(planned)
        if isinstance(missing, NoTemplate):
            joint = joint_plan(session, planned)
            if isinstance(joint, NoTemplate):
                session.error(f"no template: {missing}; the joint graph: {joint}")
                return STOP_NO_TEMPLATE
    submit_variants(session, planned)
    return STOP_EXHAUSTED
