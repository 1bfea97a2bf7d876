"""Webhooks consume the events outbox: `hooks_at` says an alert event was claimed for the project's webhooks.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as t:
        t.add_column(sa.Column("hooks_at", sa.DateTime, nullable=True))
    # Alerts before this revision were delivered by the monitor's evaluation itself: not again.
    op.execute("UPDATE events SET hooks_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("events") as t:
        t.drop_column("hooks_at")
