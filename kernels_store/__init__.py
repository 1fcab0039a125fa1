"""Kernel Kiln's store: tasks, candidate kernels, verifications, best kernels and jobs.

Public API::

    from kernels_store import open_store
    store = open_store()                      # $KILN_DATABASE_URL or ~/.local/share/kernelkiln/kiln.sqlite
    task = store.put_task("softmax.rows", ref_source, family="softmax", shapes=[...]).task
    cand = store.add_candidate(task.id, src, language="triton", origin="llm", origin_detail="gpt-x").candidate
    if not store.is_verified(cand.id, environment):   # environment: describe_host() / Report.environment
        store.record_verification(cand.id, report)    # verifier.Report or its dict
    store.best_kernel(task.id, fingerprint); store.best_kernels(); store.origin_counts()
    job = store.create_job(task_id=task.id, budget=8, owner_token=token)
    job = store.claim_next_job("worker-1", lease_s=60); store.heartbeat(job.id, "worker-1")

SQLite (default) is migrated on open; PostgreSQL (``postgresql+psycopg://...``) needs ``kiln db upgrade``.
This package imports SQLAlchemy (and alembic when migrating), never torch or the verifier's engine.
"""

from kernels_store.db import DATABASE_URL_ENV, database_url, default_sqlite_path, make_engine
from kernels_store.environment import Environment
from kernels_store.errors import (
    ActiveJobLimitError,
    BundleError,
    LeaseLostError,
    NotFoundError,
    SchemaNotCurrentError,
    StoreError,
    TaskSourceChangedError,
)
from kernels_store.models import JOB_STATUSES, LANGUAGES, MODES, ORIGINS, RUN_VERDICTS, VERDICTS
from kernels_store.records import (
    BestKernel,
    CandidateAdded,
    CandidateRecord,
    JobRecord,
    OriginCount,
    Page,
    RunRecord,
    RunTaskRecord,
    StoreStats,
    TaskPut,
    TaskRecord,
    VerificationRecord,
    VerificationRecorded,
    hash_token,
)
from kernels_store.store import Store, open_store

__all__ = [
    "DATABASE_URL_ENV",
    "JOB_STATUSES",
    "LANGUAGES",
    "MODES",
    "ORIGINS",
    "RUN_VERDICTS",
    "VERDICTS",
    "ActiveJobLimitError",
    "BestKernel",
    "BundleError",
    "CandidateAdded",
    "CandidateRecord",
    "Environment",
    "JobRecord",
    "LeaseLostError",
    "NotFoundError",
    "OriginCount",
    "Page",
    "RunRecord",
    "RunTaskRecord",
    "SchemaNotCurrentError",
    "Store",
    "StoreError",
    "StoreStats",
    "TaskPut",
    "TaskRecord",
    "TaskSourceChangedError",
    "VerificationRecord",
    "VerificationRecorded",
    "database_url",
    "default_sqlite_path",
    "hash_token",
    "make_engine",
    "open_store",
]
