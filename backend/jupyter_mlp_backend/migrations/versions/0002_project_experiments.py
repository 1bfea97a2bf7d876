"""Map projects to the MLflow experiments the platform created for them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_experiments",
        sa.Column("experiment_id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_project_experiment_name"),
    )
    op.create_index("ix_project_experiments_project_id", "project_experiments", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_project_experiments_project_id", "project_experiments")
    op.drop_table("project_experiments")
