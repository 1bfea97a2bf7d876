"""The dataset snapshots a pipeline run pinned, so a replay reads the same rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.add_column(sa.Column("snapshots", sa.Text, nullable=True))
        batch.add_column(sa.Column("replay_of", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.drop_column("replay_of")
        batch.drop_column("snapshots")
