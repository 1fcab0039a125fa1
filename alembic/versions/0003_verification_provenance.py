"""Provenance of every verification: verified by this deployment, or imported from a bundle.

Rows recorded before this revision are marked ``verified`` with an empty host and version: the store
did not say where they came from (a store that imported bundles before should re-verify with
``kiln regress``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("verifications") as batch:
        batch.add_column(sa.Column("provenance", sa.String(length=16), nullable=False, server_default="verified"))
        batch.add_column(sa.Column("verified_host", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("verifier_version", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("imported_from", sa.String(length=300), nullable=False, server_default=""))
        batch.add_column(sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(op.f("ck_verifications_provenance"), "provenance IN ('verified', 'imported')")
    with op.batch_alter_table("verifications") as batch:  # the model has no server defaults
        for column in ("provenance", "verified_host", "verifier_version", "imported_from"):
            batch.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("verifications") as batch:
        batch.drop_constraint(op.f("ck_verifications_provenance"), type_="check")
        for column in ("imported_at", "imported_from", "verifier_version", "verified_host", "provenance"):
            batch.drop_column(column)
