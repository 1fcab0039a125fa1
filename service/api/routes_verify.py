"""/v1/verify: verify a user's own candidate against a task or a reference, and store the verdict."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from service.api.auth import writer_identity
from service.api.schemas import VerifyRequest, VerifyResponse
from service.api.validation import check_candidate, check_reference
from service.persistence import record_candidate, resolve_task
from service.state import AppState, app_state

router = APIRouter(prefix="/v1", tags=["verify"])
QUEUE_WAIT_S = 10.0


@router.post("/verify", response_model=VerifyResponse)
def verify_candidate(
    body: VerifyRequest, owner: str = Depends(writer_identity), state: AppState = Depends(app_state)
) -> VerifyResponse:
    """Verify ``candidate_source`` in the sandbox (blocking until the verdict) and store the result.

    A source already verified against the same reference in this environment is answered from the store.
    """
    from verifier import Candidate, VerifyOptions, verify
    from verifier.errors import VerifierInputError
    from verifier.spec import sha256_text

    limit = state.settings.max_source_bytes
    check_candidate(body.candidate_source, limit)
    if body.reference_source is not None:
        check_reference(body.reference_source, limit)
    else:
        state.require_task(body.task_id or "")
    resolved = resolve_task(
        state.store, task_id=body.task_id, reference_source=body.reference_source, device=state.device
    )
    existing = state.store.find_candidate(resolved.task_id, sha256_text(body.candidate_source))
    if existing is not None:
        known = state.store.find_verification(
            existing.id, state.environment, reference_sha256=sha256_text(resolved.source)
        )
        if known is not None:
            return VerifyResponse(
                verdict=known.verdict,
                task_id=resolved.task_id,
                candidate_id=existing.id,  # type: ignore[arg-type]
                verification_id=known.id,
                cached=True,
                report=known.report,
            )
    if not state.verify_slots.acquire(timeout=QUEUE_WAIT_S):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"all {state.settings.verify_concurrency} verification slots are busy; retry shortly",
            headers={"Retry-After": "15"},
        )
    try:
        candidate = Candidate(source=body.candidate_source, name="user", language=body.language)
        options = VerifyOptions(device=state.device, timeout_s=state.settings.timeout_s)  # type: ignore[arg-type]
        try:
            report = verify(resolved.reference(), candidate, options)
        except VerifierInputError as e:
            raise HTTPException(422, f"the reference cannot be used: {e}") from None
    finally:
        state.verify_slots.release()
    cand_id, ver_id, _ = record_candidate(
        state.store,
        resolved.task_id,
        source=body.candidate_source,
        language=report.language,
        origin="user",
        report=report,
    )
    return VerifyResponse(
        verdict=report.verdict,
        task_id=resolved.task_id,
        candidate_id=cand_id,
        verification_id=ver_id,
        cached=False,
        report=report.to_dict(),
    )
