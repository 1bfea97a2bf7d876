"""Where each pipeline run's stages ran (docker or subprocess), and pipeline schedules (Dagster schedules).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pipeline_id", sa.Integer, sa.ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("pipeline_versions.id", ondelete="CASCADE"), nullable=True),
        sa.Column("cron", sa.String(64), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("parameters", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.add_column(sa.Column("executor", sa.String(16), nullable=True))
        batch.add_column(sa.Column("schedule_id", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.drop_column("schedule_id")
        batch.drop_column("executor")
    op.drop_table("pipeline_schedules")
