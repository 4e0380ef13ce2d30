"""Refresh config history: every saved version with who, when and what changed; which
config version each ticket's workflow run read.

Revision ID: 0007_config_history
Revises: 0002_tdx
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_config_history"
down_revision: str | Sequence[str] | None = "0002_tdx"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "refresh_config_version",
        sa.Column("config_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("config_id", "version", name=op.f("pk_refresh_config_version")),
    )
    op.create_table(
        "ticket_config_load",
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("config_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "ticket_id", "run_id", "version", name=op.f("pk_ticket_config_load")
        ),
    )


def downgrade() -> None:
    op.drop_table("ticket_config_load")
    op.drop_table("refresh_config_version")
