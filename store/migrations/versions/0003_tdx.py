"""TDX create intents (no duplicate tickets or tasks) and batch lines read in pages.

Revision ID: 0002_tdx
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_tdx"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tdx_create_intent",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_tdx_create_intent")),
    )
    op.create_index(op.f("ix_tdx_create_intent_ticket_id"), "tdx_create_intent", ["ticket_id"])
    op.create_table(
        "batch_line",
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=255), nullable=False),
        sa.Column("row", sa.JSON(), nullable=True),
        sa.Column("refused", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batch.id"],
            name=op.f("fk_batch_line_batch_id_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "line", name=op.f("pk_batch_line")),
    )


def downgrade() -> None:
    op.drop_table("batch_line")
    op.drop_table("tdx_create_intent")
