"""Revocable staff sessions and disabled staff accounts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Sessions used to live only in their signed token, so signing out left the token valid for
12 hours. `staff_session` holds each session (the SHA-256 of its random id) so signing out,
a new password or a disabled account ends it at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "staff_user",
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "staff_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_staff_session")),
    )
    op.create_index(op.f("ix_staff_session_username"), "staff_session", ["username"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_session_username"), table_name="staff_session")
    op.drop_table("staff_session")
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("disabled")
