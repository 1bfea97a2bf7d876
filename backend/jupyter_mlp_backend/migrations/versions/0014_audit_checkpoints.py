"""Signed audit checkpoints (issue 20 item 4): the entry count and head hash, ed25519, every N entries or M minutes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("entries", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )
    with op.batch_alter_table("audit_head") as t:
        t.add_column(sa.Column("checkpoint_seq", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as t:
        t.drop_column("checkpoint_seq")
    op.drop_table("audit_checkpoints")
