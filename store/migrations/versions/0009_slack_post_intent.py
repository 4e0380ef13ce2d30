"""Slack post intents: a post whose answer was lost is found, not made twice.

Revision ID: 0009_slack_post_intent
Revises: 0008_tdx_window
Create Date: 2026-11-28

Written from store/tables.py (SlackPostIntent); tests/store/test_migrations.py checks it
matches the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_slack_post_intent"
down_revision: str | Sequence[str] | None = "0008_tdx_window"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_post_intent",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_slack_post_intent")),
    )
    op.create_index(op.f("ix_slack_post_intent_ticket_id"), "slack_post_intent", ["ticket_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_slack_post_intent_ticket_id"), table_name="slack_post_intent")
    op.drop_table("slack_post_intent")
