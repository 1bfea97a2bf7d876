"""Runs of pipeline versions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("pipeline_versions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("dagster_run_id", sa.String(64), nullable=True, unique=True),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_pipeline_runs_version_id", "pipeline_runs", ["version_id"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_runs_version_id", "pipeline_runs")
    op.drop_table("pipeline_runs")
