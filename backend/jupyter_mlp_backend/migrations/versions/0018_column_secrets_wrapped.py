"""Column-policy secrets wrapped by the at-rest master key (issue 20 item 3): `project_column_keys` gains the wrapped
secret and the master key's id; `secret` (the secret in the clear, 0016's rows) may be empty. Rows written before
stay readable and are wrapped on their next use or by the next master key rotation (the migration cannot reach the
master key: it lives under MLP_HOME or in a KMS).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("project_column_keys") as batch:
        batch.add_column(sa.Column("master_key_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("wrapped", sa.LargeBinary, nullable=True))
        batch.alter_column("secret", existing_type=sa.String(64), nullable=True)


def downgrade() -> None:
    # A wrapped secret cannot be unwrapped here: its row goes (a new secret is made on next use, so values hashed
    # before no longer join with those hashed after).
    op.execute("DELETE FROM project_column_keys WHERE secret IS NULL")
    with op.batch_alter_table("project_column_keys") as batch:
        batch.alter_column("secret", existing_type=sa.String(64), nullable=False)
        batch.drop_column("wrapped")
        batch.drop_column("master_key_id")
