"""The service desk: its reference data, SLA clock projection, webhook deliveries, watermark.

Revision ID: 0003_itsm
Revises: 0007_config_history
Create Date: 2026-11-28

Written from store/tables.py (ServiceDeskConfig, SlaClockRow, ItsmDelivery, ItsmWatermark);
tests/store/test_migrations.py checks it matches the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003_itsm"
down_revision: str | Sequence[str] | None = "0007_config_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_desk_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_service_desk_config_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_desk_config")),
    )
    op.create_table(
        "sla_clock",
        sa.Column("itsm", sa.String(length=20), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("team", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_left_s", sa.Integer(), nullable=True),
        sa.Column("resolution_left_s", sa.Integer(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("itsm", "ticket_id", name=op.f("pk_sla_clock")),
    )
    op.create_index(op.f("ix_sla_clock_state"), "sla_clock", ["state"])
    op.create_index(op.f("ix_sla_clock_due_at"), "sla_clock", ["due_at"])
    op.create_table(
        "itsm_delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("itsm", sa.String(length=20), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_itsm_delivery")),
        sa.UniqueConstraint("itsm", "delivery_id", name=op.f("uq_itsm_delivery_itsm_delivery_id")),
    )
    op.create_index(op.f("ix_itsm_delivery_received_at"), "itsm_delivery", ["received_at"])
    op.create_table(
        "itsm_watermark",
        sa.Column("itsm", sa.String(length=20), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("itsm", name=op.f("pk_itsm_watermark")),
    )


def downgrade() -> None:
    op.drop_table("itsm_watermark")
    op.drop_index(op.f("ix_itsm_delivery_received_at"), table_name="itsm_delivery")
    op.drop_table("itsm_delivery")
    op.drop_index(op.f("ix_sla_clock_due_at"), table_name="sla_clock")
    op.drop_index(op.f("ix_sla_clock_state"), table_name="sla_clock")
    op.drop_table("sla_clock")
    op.drop_table("service_desk_config")
