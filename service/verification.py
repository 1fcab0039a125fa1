"""A user's own candidate verified against a task or a reference (``POST /v1/verify``), and its record.

Two steps, so that the route can run each on its own bounded pool: ``plan_verification`` (static
checks and the store lookup: a verdict already stored for this source, reference and environment is
the answer) and ``verify_and_record`` (the verification in the sandbox, then the record; a reference
the verifier refuses is refused with 422 and leaves nothing in the store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kernels_store import Store
from service.api.schemas import VerifyRequest, VerifyResponse
from service.persistence import ResolvedTask, record_candidate, register_task, resolve_task
from service.public_text import public_message
from service.refusals import Refused
from service.settings import Settings


@dataclass(frozen=True)
class Plan:
    """What to verify: the resolved task (not yet stored when it is a submitted reference)."""

    resolved: ResolvedTask
    candidate_sha256: str
    submitted: bool
    """A submitted reference (stored as ``user.<hash>`` once the verifier accepts it as a reference)."""


def plan_verification(
    store: Store, settings: Settings, body: VerifyRequest, *, device: str, environment: dict[str, Any]
) -> Plan | VerifyResponse:
    """Static checks and the store lookup: the stored verdict of ``body.mode``, or what to verify (a
    forward verdict never answers a backward request, nor the other way round)."""
    from service.api.validation import check_candidate, check_reference
    from service.task_lookup import require_task
    from verifier.spec import sha256_text

    candidate_source, task_id, reference_source = body.candidate_source, body.task_id, body.reference_source
    check_candidate(candidate_source, settings.max_source_bytes)
    if reference_source is not None:
        check_reference(reference_source, settings.max_source_bytes)
    else:
        require_task(store, task_id or "")
    resolved = resolve_task(store, task_id=task_id, reference_source=reference_source, device=device, register=False)
    candidate_sha = sha256_text(candidate_source)
    existing = store.find_candidate(resolved.task_id, candidate_sha)
    if existing is not None:
        known = store.find_verification(
            existing.id, environment, reference_sha256=sha256_text(resolved.source), mode=body.mode
        )
        if known is not None:
            return VerifyResponse(
                verdict=known.verdict,  # type: ignore[arg-type]
                mode=known.mode,
                task_id=resolved.task_id,
                candidate_id=existing.id,
                verification_id=known.id,
                cached=True,
                report=known.report,
            )
    return Plan(resolved, candidate_sha, submitted=reference_source is not None)


def verify_and_record(
    store: Store, settings: Settings, plan: Plan, body: VerifyRequest, *, device: str, executor: Any = None
) -> VerifyResponse:
    """The verification of ``body``'s candidate and its record. A reference the verifier refuses stores
    nothing (422). ``executor`` (``service.executors``): a cluster executor verifies on its workers, on
    their device."""
    from agents.session import VerifierUnavailable
    from verifier import Candidate, VerifyOptions, verify
    from verifier.errors import VerifierInputError

    resolved, candidate_source = plan.resolved, body.candidate_source
    candidate = Candidate(source=candidate_source, name="user", language=body.language)
    remote = executor is not None and executor.name != "local"
    options = VerifyOptions(
        device=(settings.device if remote else device),  # type: ignore[arg-type]
        timeout_s=settings.timeout_s,
        sandbox=settings.sandbox,  # type: ignore[arg-type]
        sandbox_image=settings.sandbox_image,
        mode=body.mode,
    )
    try:
        if remote:
            report = executor.verify_reference(resolved.reference, candidate, options)
        else:
            report = verify(resolved.reference, candidate, options)
    except VerifierInputError as e:  # its text holds the worker's traceback: the answer has the message only
        raise Refused(422, f"the reference cannot be used: {public_message(str(e))}") from None
    except VerifierUnavailable as e:  # the cluster is gone for now: nothing was verified or stored
        raise Refused(503, f"the {executor.name} executor cannot verify now: {e}", {"Retry-After": "30"}) from None
    if plan.submitted:
        register_task(store, resolved.task_id, resolved.source)
    cand_id, ver_id, _ = record_candidate(
        store, resolved.task_id, source=candidate_source, language=report.language, origin="user", report=report
    )
    return VerifyResponse(
        verdict=report.verdict,
        mode=report.mode,
        task_id=resolved.task_id,
        candidate_id=cand_id,
        verification_id=ver_id,
        cached=False,
        report=report.to_dict(),
    )
