"""The mode of every verification: ``forward``, ``backward`` (a training step) or ``both``.

The mode joins the verification's key (candidate, reference source, environment), so a candidate's
forward and backward verdicts in one environment are two rows and neither answers for the other.
Rows recorded before this revision are ``forward`` unless their stored report says otherwise (backward
mode landed in the verifier before the store knew of it: a report's ``mode`` field is the truth).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 18:00:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEY = "uq_verifications_candidate_id_reference_sha256_environment_key"
NEW_KEY = "uq_verifications_key_mode"
MODES = ("forward", "backward", "both")


def upgrade() -> None:
    with op.batch_alter_table("verifications") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=16), nullable=False, server_default="forward"))
    _modes_from_reports()
    with op.batch_alter_table("verifications") as batch:  # the model has no server default
        batch.alter_column("mode", server_default=None)
        batch.create_check_constraint(op.f("ck_verifications_mode"), "mode IN ('forward', 'backward', 'both')")
        batch.drop_constraint(op.f(OLD_KEY), type_="unique")
        batch.create_unique_constraint(op.f(NEW_KEY), ["candidate_id", "reference_sha256", "environment_key", "mode"])
    op.create_index(op.f("ix_verifications_mode"), "verifications", ["mode"])


def _modes_from_reports() -> None:
    """Rows whose stored report names another mode than ``forward`` get that mode (read in Python: the
    report is JSON text on SQLite and ``json`` on PostgreSQL)."""
    bind = op.get_bind()
    table = sa.table("verifications", sa.column("id", sa.Integer), sa.column("report", sa.JSON), sa.column("mode"))
    like = sa.cast(table.c.report, sa.Text).like('%"mode"%')
    for row_id, report in bind.execute(sa.select(table.c.id, table.c.report).where(like)).all():
        data = json.loads(report) if isinstance(report, str) else report
        mode = data.get("mode") if isinstance(data, dict) else None
        if mode in MODES and mode != "forward":
            bind.execute(sa.update(table).where(table.c.id == row_id).values(mode=mode))


def downgrade() -> None:
    """Backward and ``both`` verdicts are dropped: the older key cannot hold two modes of one candidate."""
    op.execute("DELETE FROM verifications WHERE mode <> 'forward'")
    op.drop_index(op.f("ix_verifications_mode"), table_name="verifications")
    with op.batch_alter_table("verifications") as batch:
        batch.drop_constraint(op.f(NEW_KEY), type_="unique")
        batch.create_unique_constraint(op.f(OLD_KEY), ["candidate_id", "reference_sha256", "environment_key"])
        batch.drop_constraint(op.f("ck_verifications_mode"), type_="check")
        batch.drop_column("mode")
