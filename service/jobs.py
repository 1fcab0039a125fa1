"""Generation jobs, as the API submits and cancels them: the checks, the typed parameters, the record.

The routes (``service/api/routes_jobs.py``) only translate HTTP to these calls; the runner
(``service/runner.py``) reads a job's parameters back with ``JobParams.of``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import status

from kernels_store import ActiveJobLimitError, JobRecord, Store
from kernels_store.records import built_from
from service.api.schemas import JobCreate
from service.persistence import resolve_task
from service.refusals import Refused
from service.settings import Settings


@dataclass(frozen=True)
class JobParams:
    """What a generation job is asked beyond its task and budget (stored as the job's ``params``)."""

    language: str = "triton"
    proposer: str = "template"
    model: str | None = None
    """The LLM model; None: the server's ``KILN_LLM_MODEL`` (``Settings.llm_model``)."""
    template_seed: bool = True
    """LLM proposer: the template compiler's kernel is verified first and offered to the model."""
    mode: str = "forward"
    """What the job's candidates are verified for: ``forward``, ``backward`` (training kernels) or ``both``."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"language": self.language, "proposer": self.proposer, "mode": self.mode}
        out |= {} if self.template_seed else {"template_seed": False}
        return out | ({"model": self.model} if self.model else {})

    @classmethod
    def of(cls, job: JobRecord) -> JobParams:
        raw: Mapping[str, Any] = job.params or {}
        return cls(
            language=str(raw.get("language") or cls.language),
            proposer=str(raw.get("proposer") or cls.proposer),
            model=str(raw["model"]) if raw.get("model") else None,
            template_seed=raw.get("template_seed") is not False,
            mode=str(raw.get("mode") or cls.mode),
        )


def submit_job(store: Store, settings: Settings, body: JobCreate, *, device: str, owner: str) -> JobRecord:
    """Queue a generation job for a task (built-in or stored) or a submitted reference (``body``).

    Refused (``Refused``): a budget above ``KILN_MAX_BUDGET`` (422), the llm proposer without a model
    (422), ``KILN_MAX_ACTIVE_JOBS`` queued or running for this owner (429), a reference that is not a
    KernelBench module (422), an unknown task (404). The task is stored (a submitted reference as
    ``user.<hash>``) before the job is.
    """
    from service.api.validation import check_reference
    from service.task_lookup import require_task

    params = built_from(JobParams, body)
    budget, task_id, reference_source = body.budget, body.task_id, body.reference_source
    if budget > settings.max_budget:
        raise Refused(422, f"budget {budget} exceeds this server's cap of {settings.max_budget} (KILN_MAX_BUDGET)")
    if params.proposer == "llm" and not (params.model or settings.llm_model):
        raise Refused(422, "the llm proposer needs a model: pass 'model' or set KILN_LLM_MODEL on the server")
    limit = settings.max_active_jobs_per_owner
    active = store.list_jobs(status=["queued", "running"], owner_token=owner, limit=1).total
    if active >= limit:  # the early answer, before any parsing; create_job checks again, atomically
        raise too_many(active, limit)
    if reference_source is not None:
        check_reference(reference_source, settings.max_source_bytes)
    if task_id is not None:
        require_task(store, task_id)
    resolved = resolve_task(store, task_id=task_id, reference_source=reference_source, device=device)
    try:
        return store.create_job(
            kind="generate",
            task_id=resolved.task_id,
            params=params.to_dict(),
            budget=budget,
            owner_token=owner,
            max_active=limit,
        )
    except ActiveJobLimitError as e:
        raise too_many(e.active, limit) from None


def too_many(active: int, limit: int) -> Refused:
    return Refused(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"{active} of your jobs are queued or running; the limit is {limit} (KILN_MAX_ACTIVE_JOBS)",
        headers={"Retry-After": "30"},
    )


def cancel_job(store: Store, settings: Settings, job_id: str, owner: str) -> JobRecord:
    """Cancel a queued job now, or ask a running one to stop after its current candidate.

    Refused: no such job (404); with ``KILN_API_TOKENS`` set, a token other than the job's (403)."""
    job = store.get_job(job_id)
    if job is None:
        raise job_not_found(job_id)
    if settings.api_tokens and not job.owned_by(owner):
        raise Refused(status.HTTP_403_FORBIDDEN, "only the token that created a job may cancel it")
    return store.request_cancel(job_id)


def job_not_found(job_id: str) -> Refused:
    from service.api.strict_json import shorten

    return Refused(status.HTTP_404_NOT_FOUND, f"no job {shorten(job_id)!r}")
