"""Task source versions and bench runs (``kiln tasks import``, ``kiln bench``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "task_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_sources_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_sources")),
        sa.UniqueConstraint("task_id", "source_sha256", name=op.f("uq_task_sources_task_id_source_sha256")),
    )
    op.create_index(op.f("ix_task_sources_task_id"), "task_sources", ["task_id"])
    # every task's current source is its first recorded version
    op.execute(
        "INSERT INTO task_sources (task_id, source_sha256, source, revision, created_at) "
        "SELECT id, source_sha256, source, revision, updated_at FROM tasks"
    )

    op.create_table(
        "bench_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("suite", sa.String(length=300), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("proposer", sa.String(length=16), nullable=False),
        sa.Column("generator", sa.String(length=200), nullable=False),
        sa.Column("executor", sa.String(length=32), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=16), nullable=False),
        sa.Column("device_name", sa.String(length=200), nullable=False),
        sa.Column("hardware_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("finished_at", UTC_TIMESTAMP, nullable=True),
        sa.CheckConstraint("status IN ('running', 'completed', 'interrupted')", name=op.f("ck_bench_runs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bench_runs")),
    )
    op.create_index(op.f("ix_bench_runs_created_at"), "bench_runs", ["created_at"])
    op.create_index(op.f("ix_bench_runs_hardware_fingerprint"), "bench_runs", ["hardware_fingerprint"])

    op.create_table(
        "bench_run_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reference_ok", sa.Boolean(), nullable=True),
        sa.Column("shapes", sa.JSON(), nullable=False),
        sa.Column("changed_constants", sa.JSON(), nullable=False),
        sa.Column("speedup_eager", sa.Float(), nullable=True),
        sa.Column("speedup_compiled", sa.Float(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("best_candidate_id", sa.Integer(), nullable=True),
        sa.Column("verified", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'running', 'done')", name=op.f("ck_bench_run_tasks_status")),
        sa.ForeignKeyConstraint(
            ["best_candidate_id"],
            ["candidates.id"],
            name=op.f("fk_bench_run_tasks_best_candidate_id_candidates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["bench_runs.id"], name=op.f("fk_bench_run_tasks_run_id_bench_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_bench_run_tasks_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bench_run_tasks")),
        sa.UniqueConstraint("run_id", "task_id", name=op.f("uq_bench_run_tasks_run_id_task_id")),
    )
    op.create_index(op.f("ix_bench_run_tasks_run_id"), "bench_run_tasks", ["run_id"])
    op.create_index(op.f("ix_bench_run_tasks_task_id"), "bench_run_tasks", ["task_id"])


def downgrade() -> None:
    op.drop_table("bench_run_tasks")
    op.drop_table("bench_runs")
    op.drop_table("task_sources")
