"""Monitoring: reference profiles per version, monitors per deployment, their windows, alerts, webhooks and
their deliveries, automatic retrainings.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _fk(table: str, ondelete: str = "CASCADE") -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "reference_profiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, _fk("model_versions"), nullable=False, unique=True),
        sa.Column("dataset", sa.String(64), nullable=True),
        sa.Column("snapshot_id", sa.BigInteger, nullable=True),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("window_size", sa.Integer, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("thresholds", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, _fk("projects"), nullable=False, index=True),
        sa.Column("deployment_id", sa.Integer, _fk("deployments"), nullable=False, unique=True),
        sa.Column("window_size", sa.Integer, nullable=False),
        sa.Column("window_seconds", sa.Integer, nullable=True),
        sa.Column("tolerance", sa.Text, nullable=False),
        sa.Column("retrain", sa.Boolean, nullable=False),
        sa.Column("retrain_on", sa.String(16), nullable=False),
        sa.Column("cooldown_s", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("evaluated_at", sa.DateTime, nullable=True),
        sa.Column("pending_rows", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text, nullable=True),
    )
    op.create_table(
        "monitor_windows",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("monitor_id", sa.Integer, _fk("monitors"), nullable=False, index=True),
        sa.Column("version_id", sa.Integer, _fk("model_versions"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("start_ts", sa.DateTime, nullable=False),
        sa.Column("end_ts", sa.DateTime, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("drift", sa.Text, nullable=False),
        sa.Column("labelled", sa.Integer, nullable=False),
        sa.Column("performance", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("monitor_id", "version_id", "seq", name="uq_monitor_windows_seq"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, _fk("projects"), nullable=False, index=True),
        sa.Column("monitor_id", sa.Integer, _fk("monitors"), nullable=False, index=True),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("windows", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("resolved_at", sa.DateTime, nullable=True),
        sa.Column("external", sa.Text, nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, _fk("projects"), nullable=False, index=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=True),
        sa.Column("jira_project", sa.String(32), nullable=True),
        sa.Column("jira_issue_type", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("webhook_id", sa.Integer, _fk("webhooks"), nullable=False, index=True),
        sa.Column("alert_id", sa.Integer, _fk("alerts"), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "retrainings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("monitor_id", sa.Integer, _fk("monitors"), nullable=False, index=True),
        sa.Column("alert_id", sa.Integer, _fk("alerts", "SET NULL"), nullable=True),
        sa.Column("pipeline_run_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("version_id", sa.Integer, _fk("model_versions", "SET NULL"), nullable=True),
        sa.Column("decision_id", sa.Integer, _fk("gate_decisions", "SET NULL"), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for t in ("retrainings", "webhook_deliveries", "webhooks", "alerts", "monitor_windows", "monitors",
              "reference_profiles"):
        op.drop_table(t)
