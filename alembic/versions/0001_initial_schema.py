"""Initial schema: tasks, jobs, candidates, verifications.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 16:26:19.449612
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# kernels_store.models.UTCDateTime stores this type (timezone-aware UTC).
UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("shapes", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(op.f("ix_tasks_family"), "tasks", ["family"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner_token_hash", sa.String(length=64), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("heartbeat_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("started_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("finished_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name=op.f("ck_jobs_status")
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_jobs_task_id_tasks"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_owner_token_hash"), "jobs", ["owner_token_hash"])
    op.create_index(op.f("ix_jobs_status_created_at"), "jobs", ["status", "created_at"])
    op.create_index(op.f("ix_jobs_task_id"), "jobs", ["task_id"])

    op.create_table(
        "candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("origin_detail", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("language IN ('triton', 'cuda')", name=op.f("ck_candidates_language")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_candidates_job_id_jobs"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["candidates.id"], name=op.f("fk_candidates_parent_id_candidates"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_candidates_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidates")),
        sa.UniqueConstraint("task_id", "source_sha256", name=op.f("uq_candidates_task_id_source_sha256")),
    )
    op.create_index(op.f("ix_candidates_job_id"), "candidates", ["job_id"])
    op.create_index(op.f("ix_candidates_origin_origin_detail"), "candidates", ["origin", "origin_detail"])
    op.create_index(op.f("ix_candidates_parent_id"), "candidates", ["parent_id"])
    op.create_index(op.f("ix_candidates_task_id_created_at"), "candidates", ["task_id", "created_at"])

    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=False),
        sa.Column("reference_sha256", sa.String(length=64), nullable=False),
        sa.Column("environment_key", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("speedup_eager", sa.Float(), nullable=True),
        sa.Column("speedup_compiled", sa.Float(), nullable=True),
        sa.Column("candidate_ms", sa.Float(), nullable=True),
        sa.Column("device", sa.String(length=16), nullable=False),
        sa.Column("device_name", sa.String(length=200), nullable=False),
        sa.Column("hardware_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("python_version", sa.String(length=64), nullable=True),
        sa.Column("torch_version", sa.String(length=64), nullable=True),
        sa.Column("triton_version", sa.String(length=64), nullable=True),
        sa.Column("cuda_version", sa.String(length=64), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("verdict IN ('accepted', 'rejected', 'not_run')", name=op.f("ck_verifications_verdict")),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_verifications_candidate_id_candidates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_verifications_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
        sa.UniqueConstraint(
            "candidate_id",
            "reference_sha256",
            "environment_key",
            name=op.f("uq_verifications_candidate_id_reference_sha256_environment_key"),
        ),
    )
    op.create_index(op.f("ix_verifications_created_at"), "verifications", ["created_at"])
    op.create_index(op.f("ix_verifications_cuda_version"), "verifications", ["cuda_version"])
    op.create_index(op.f("ix_verifications_device_name"), "verifications", ["device_name"])
    op.create_index(op.f("ix_verifications_hardware_fingerprint"), "verifications", ["hardware_fingerprint"])
    op.create_index(op.f("ix_verifications_speedup_compiled"), "verifications", ["speedup_compiled"])
    op.create_index(op.f("ix_verifications_speedup_eager"), "verifications", ["speedup_eager"])
    op.create_index(
        op.f("ix_verifications_task_id_hardware_fingerprint_verdict"),
        "verifications",
        ["task_id", "hardware_fingerprint", "verdict"],
    )
    op.create_index(op.f("ix_verifications_torch_version"), "verifications", ["torch_version"])
    op.create_index(op.f("ix_verifications_triton_version"), "verifications", ["triton_version"])
    op.create_index(op.f("ix_verifications_verdict"), "verifications", ["verdict"])


def downgrade() -> None:
    # Dropping a table drops its indexes.
    op.drop_table("verifications")
    op.drop_table("candidates")
    op.drop_table("jobs")
    op.drop_table("tasks")
