"""After hours for contract partners: its reference data and the night's cases.

Revision ID: 0005_after_hours
Revises: 0004_provisioning
Create Date: 2026-11-28

Written from store/tables.py (AfterHoursConfig, AfterHoursCase); tests/store/test_migrations.py
checks it matches the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_after_hours"
down_revision: str | Sequence[str] | None = "0004_provisioning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "after_hours_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_after_hours_config_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_after_hours_config")),
    )
    op.create_table(
        "after_hours_case",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("partner", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("promise", sa.String(length=20), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_after_hours_case")),
    )
    op.create_index(op.f("ix_after_hours_case_status"), "after_hours_case", ["status"])
    op.create_index(op.f("ix_after_hours_case_opened_at"), "after_hours_case", ["opened_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_after_hours_case_opened_at"), table_name="after_hours_case")
    op.drop_index(op.f("ix_after_hours_case_status"), table_name="after_hours_case")
    op.drop_table("after_hours_case")
    op.drop_table("after_hours_config")
