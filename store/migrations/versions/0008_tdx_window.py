"""TDX rate windows counted across worker processes.

Revision ID: 0008_tdx_window
Revises: 0006_outages
Create Date: 2026-11-28

Written from store/tables.py (TdxRateWindow); tests/store/test_migrations.py checks it
matches the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_tdx_window"
down_revision: str | Sequence[str] | None = "0006_outages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tdx_rate_window",
        sa.Column("method", sa.String(length=200), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=True),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("window_no", sa.Integer(), nullable=False),
        sa.Column("ends_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("method", name=op.f("pk_tdx_rate_window")),
    )


def downgrade() -> None:
    op.drop_table("tdx_rate_window")
