"""/v1/verify: verify a user's own candidate against a task or a reference, and store the verdict.

No request thread is held while a verification runs: the static checks run on the parse pool and
the verification on the verify pool (``service.workpool``), and the handler only awaits them. The
verify pool is bounded: ``KILN_VERIFY_CONCURRENCY`` verifications run, ``KILN_VERIFY_QUEUE`` more
wait, and one token may have ``KILN_VERIFY_PER_TOKEN`` waiting or running. Beyond that the answer
is immediate: 503 (server busy) or 429 (this token busy), both with ``Retry-After``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from service.api.auth import writer_identity
from service.api.schemas import VerifyRequest, VerifyResponse
from service.state import AppState, app_state
from service.verification import Plan, plan_verification, verify_and_record
from service.workpool import ClientGone, OwnerBusy, PoolFull

router = APIRouter(prefix="/v1", tags=["verify"])
RETRY_AFTER_S = 15
CLIENT_GONE = 499
"""Status logged for a verification dropped because its client disconnected (nobody reads it)."""
BUSY_RESPONSES: dict[int | str, dict] = {
    429: {"description": "this token already has KILN_VERIFY_PER_TOKEN verifications waiting or running"},
    503: {"description": "every verification slot is busy and the queue is full; retry after Retry-After"},
}


def busy(state: AppState, pool_name: str) -> HTTPException:
    s = state.settings
    detail = (
        f"the server is busy: {s.verify_concurrency} verifications are running and {s.verify_queue} waiting "
        "(KILN_VERIFY_CONCURRENCY, KILN_VERIFY_QUEUE); retry later"
        if pool_name == "verify"
        else "the server is busy checking other submissions; retry later"
    )
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail, headers={"Retry-After": str(RETRY_AFTER_S)})


def _plan(body: VerifyRequest, state: AppState) -> Plan | VerifyResponse:
    """``service.verification.plan_verification`` (parse pool): the stored verdict, or what to verify."""
    return plan_verification(state.store, state.settings, body, device=state.device, environment=state.environment)


def _verify(plan: Plan, body: VerifyRequest, state: AppState) -> VerifyResponse:
    """``service.verification.verify_and_record`` (verify pool)."""
    executor = state.runner.executor if state.runner is not None else None
    return verify_and_record(state.store, state.settings, plan, body, device=state.device, executor=executor)


@router.post("/verify", response_model=VerifyResponse, responses=BUSY_RESPONSES)
async def verify_candidate(
    body: VerifyRequest,
    request: Request,
    owner: str = Depends(writer_identity),
    state: AppState = Depends(app_state),
) -> VerifyResponse | Response:
    """Verify ``candidate_source`` in the sandbox and store the result; the answer comes with the verdict.

    A source already verified against the same reference in this environment and ``mode`` is answered
    from the store (a forward verdict never answers a backward request).
    When every verification slot is busy and the queue is full the answer is 503 at once (429 when this
    token already has ``KILN_VERIFY_PER_TOKEN`` verifications waiting or running), with ``Retry-After``.
    """
    try:  # a place in the verify pool first: a full pool or a busy token is answered before any work
        place = state.verify_pool.reserve(owner)
    except PoolFull:
        raise busy(state, "verify") from None
    except OwnerBusy as e:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"{e.args[0]} of your verifications are waiting or running; the limit is "
            f"{state.settings.verify_per_owner} (KILN_VERIFY_PER_TOKEN)",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    try:
        plan = await state.parse_pool.run(_plan, body, state, request=request)
        if isinstance(plan, VerifyResponse):
            return plan
        return await place.run(_verify, plan, body, state, request=request)
    except PoolFull:
        raise busy(state, "parse") from None
    except ClientGone:
        return Response(status_code=CLIENT_GONE)
    finally:
        place.release()  # a no-op once the verification was handed to the pool
