"""Turning store records into API responses."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request

from kernels_store import BestKernel, CandidateRecord, JobRecord, Store
from kernels_store.records import built_from
from service.api.schemas import JobLinks, JobView, KernelView


def job_links_base(request: Request) -> str:
    """Where links in responses start: ``KILN_PUBLIC_URL`` when set, else nothing (relative links).

    Never the request's ``Host`` header, which any client can set to anything.
    """
    public_url = request.app.state.kiln.settings.public_url
    return public_url if public_url else request.scope.get("root_path", "").rstrip("/")


def job_view(job: JobRecord, request: Request, store: Store | None = None) -> JobView:
    base = f"{job_links_base(request)}/v1/jobs/{quote(job.id, safe='')}"
    best = None
    if store is not None:
        best = best_of_job(store, job)
    return built_from(
        JobView,
        job,
        language=job.params.get("language"),
        proposer=job.params.get("proposer"),
        mode=str(job.params.get("mode") or "forward"),
        progress=dict(job.progress),
        result=job.result if isinstance(job.result, dict) else None,
        best=best,
        links=JobLinks(self=base, events=f"{base}/events", cancel=f"{base}/cancel"),
    )


def best_of_job(store: Store, job: JobRecord) -> dict[str, Any] | None:
    """The job's best verified kernel so far (source and report), from its result or progress."""
    sha = None
    if isinstance(job.result, dict):
        sha = job.result.get("best_sha256")
    if sha is None and isinstance(job.progress.get("best"), dict):
        sha = job.progress["best"].get("sha256")
    if not isinstance(sha, str) or not sha or job.task_id is None:  # a store edited by hand holds anything
        return None
    candidate = store.find_candidate(job.task_id, sha)
    if candidate is None:
        return None
    mode = str((job.params or {}).get("mode") or "forward")
    verifications = store.list_verifications(candidate_id=candidate.id, verdict="accepted", mode=mode, limit=20).items
    mine = [v for v in verifications if v.verified_here]  # an imported claim only when nothing was verified here
    report = (mine or verifications)[0].report if verifications else None
    return {**candidate_fields(candidate), "report": report}


_CANDIDATE_FIELDS = {
    "candidate_id": "id",
    "sha256": "source_sha256",
    "origin": "origin",
    "origin_detail": "origin_detail",
    "language": "language",
    "source": "source",
}
"""What a response says of a stored candidate: its fields by the names the responses give them."""


def candidate_fields(candidate: CandidateRecord, *, with_source: bool = True) -> dict[str, Any]:
    """A stored candidate as the responses describe it (``_CANDIDATE_FIELDS``; no source unless ``with_source``)."""
    fields = {key: getattr(candidate, name) for key, name in _CANDIDATE_FIELDS.items()}
    return fields if with_source else fields | {"source": None}


def kernel_view(best: BestKernel, *, with_source: bool) -> KernelView:
    ver = best.verification
    return built_from(
        KernelView,
        best,
        **candidate_fields(best.candidate, with_source=with_source),
        mode=ver.mode,
        created_at=ver.created_at,
        report=ver.report if with_source else None,
    )
