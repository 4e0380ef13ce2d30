"""Provisioning intake: its reference data, console projection, encrypted secrets, time.

Revision ID: 0004_provisioning
Revises: 0003_itsm
Create Date: 2026-11-28

Written from store/tables.py (ProvisioningConfig, ProvisioningTicket, ProvisioningSecret,
ProvisioningTime); tests/store/test_migrations.py checks it matches the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_provisioning"
down_revision: str | Sequence[str] | None = "0003_itsm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provisioning_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_provisioning_config_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_config")),
    )
    op.create_table(
        "provisioning_ticket",
        sa.Column("halo_ticket_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("subcategory", sa.String(length=4), nullable=True),
        sa.Column("analyst", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("halo_ticket_id", name=op.f("pk_provisioning_ticket")),
    )
    op.create_index(op.f("ix_provisioning_ticket_status"), "provisioning_ticket", ["status"])
    op.create_index(op.f("ix_provisioning_ticket_analyst"), "provisioning_ticket", ["analyst"])
    op.create_table(
        "provisioning_secret",
        sa.Column("halo_ticket_id", sa.String(length=64), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("halo_ticket_id", "field", name=op.f("pk_provisioning_secret")),
    )
    op.create_table(
        "provisioning_time",
        sa.Column("halo_ticket_id", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("analyst", sa.String(length=200), nullable=False),
        sa.Column("hours", sa.String(length=20), nullable=False),
        sa.Column("work_type", sa.String(length=200), nullable=False),
        sa.Column("category8", sa.Boolean(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("halo_ticket_id", "entry_id", name=op.f("pk_provisioning_time")),
    )
    op.create_index(op.f("ix_provisioning_time_at"), "provisioning_time", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_provisioning_time_at"), table_name="provisioning_time")
    op.drop_table("provisioning_time")
    op.drop_table("provisioning_secret")
    op.drop_index(op.f("ix_provisioning_ticket_analyst"), table_name="provisioning_ticket")
    op.drop_index(op.f("ix_provisioning_ticket_status"), table_name="provisioning_ticket")
    op.drop_table("provisioning_ticket")
    op.drop_table("provisioning_config")
