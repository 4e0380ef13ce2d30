"""Outages and IT-partner triage: process reference data, outage and triage projections.

Revision ID: 0006_outages
Revises: 0005_after_hours
Create Date: 2026-11-28

Written from store/tables.py (ProcessConfig, OutageRow, TriageDecisionRow);
tests/store/test_migrations.py checks it matches the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_outages"
down_revision: str | Sequence[str] | None = "0005_after_hours"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_config",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_process_config")),
    )
    op.create_table(
        "outage",
        sa.Column("outage_id", sa.String(length=64), nullable=False),
        sa.Column("itsm", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("public_note", sa.Text(), nullable=False),
        sa.Column("problem_id", sa.String(length=64), nullable=True),
        sa.Column("owner_team", sa.String(length=200), nullable=False),
        sa.Column("planned_id", sa.String(length=64), nullable=True),
        sa.Column("linked", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("outage_id", name=op.f("pk_outage")),
    )
    op.create_index(op.f("ix_outage_status"), "outage", ["status"])
    op.create_table(
        "triage_decision",
        sa.Column("itsm", sa.String(length=20), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("department", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("group", sa.String(length=200), nullable=True),
        sa.Column("partner_id", sa.String(length=64), nullable=True),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("reassignments", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("itsm", "ticket_id", name=op.f("pk_triage_decision")),
    )
    op.create_index(op.f("ix_triage_decision_decided_at"), "triage_decision", ["decided_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_triage_decision_decided_at"), table_name="triage_decision")
    op.drop_table("triage_decision")
    op.drop_index(op.f("ix_outage_status"), table_name="outage")
    op.drop_table("outage")
    op.drop_table("process_config")
