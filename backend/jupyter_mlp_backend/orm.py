"""SQLAlchemy tables of the platform's own metadata. Alembic migrations under `migrations/` create them.

Kept in one file over ~500 lines on purpose: it is declarations only (no logic), every domain's tables reference
the core's (projects, members) and each other's by foreign key, and a migration is checked against the whole
schema in one place; a domain's service imports the tables it needs from here.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Project(Base):
    """One client engagement: the unit of isolation."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="project", cascade="all, delete-orphan")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user", name="uq_membership_project_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    user: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    added_by: Mapped[str] = mapped_column(String(128), nullable=False)
    added_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    project: Mapped[Project] = relationship(back_populates="memberships")


class AuditEntry(Base):
    """One decision or change. `hash` covers every other column and the previous entry's hash."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40), nullable=False)
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    project: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    target: Mapped[str | None] = mapped_column(String(256), nullable=True)
    decision: Mapped[str] = mapped_column(String(8), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)


class AuditHead(Base):
    """The newest entry's seq and hash, updated in the same transaction as each append.

    The chain alone cannot show that its tail was cut off; the head can.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    checkpoint_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # the newest checkpoint's


class AuditCheckpoint(Base):
    """A signed checkpoint: the log's entry count and head hash, ed25519 (jupyter_mlp/auditlog.py's format)."""

    __tablename__ = "audit_checkpoints"

    entries: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    head: Mapped[str] = mapped_column(String(64), nullable=False)
    ts: Mapped[str] = mapped_column(String(40), nullable=False)
    key_id: Mapped[str] = mapped_column(String(64), nullable=False)
    signature: Mapped[str] = mapped_column(Text, nullable=False)  # base64


class ProjectExperiment(Base):
    """Which MLflow experiments belong to which project: the gateway's map, written only by the platform."""

    __tablename__ = "project_experiments"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_project_experiment_name"),)

    experiment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(256), nullable=False)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class Pipeline(Base):
    """A promoted notebook, by name within its project."""

    __tablename__ = "pipelines"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_pipeline_project_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    source_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    versions: Mapped[list[PipelineVersion]] = relationship(back_populates="pipeline", cascade="all, delete-orphan",
                                                           order_by="PipelineVersion.id")


class PipelineVersion(Base):
    """One immutable, content-hashed version; its files live under `$MLP_HOME/pipelines/<project>/<digest>`."""

    __tablename__ = "pipeline_versions"
    __table_args__ = (UniqueConstraint("pipeline_id", "digest", name="uq_pipeline_version_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    pipeline: Mapped[Pipeline] = relationship(back_populates="versions")


class PipelineRunRecord(Base):
    """One run of a pipeline version: its Dagster run, its parameters, its MLflow parent run."""

    __tablename__ = "pipeline_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # our id; also names the run folder
    version_id: Mapped[int] = mapped_column(ForeignKey("pipeline_versions.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    dagster_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    parameters: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="QUEUED")
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    stage_status: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, written when the run ends
    snapshots: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON {dataset: snapshot id} it pinned
    replay_of: Mapped[str | None] = mapped_column(String(36), nullable=True)
    executor: Mapped[str | None] = mapped_column(String(16), nullable=True)  # "docker" or "subprocess"
    schedule_id: Mapped[int | None] = mapped_column(nullable=True)  # set when a schedule launched it

    version: Mapped[PipelineVersion] = relationship()


class PipelineSchedule(Base):
    """A cron schedule of a pipeline: Dagster's daemon ticks it, the backend launches the run as its creator."""

    __tablename__ = "pipeline_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline_versions.id", ondelete="CASCADE"),
                                                   nullable=True)  # None: the latest version at each tick
    cron: Mapped[str] = mapped_column(String(64), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    parameters: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    pipeline: Mapped[Pipeline] = relationship()


class RegisteredModel(Base):
    """A model name in a project; in MLflow's registry it is `<prefix><project>.<name>`."""

    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_registered_models_project_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    mlflow_name: Mapped[str] = mapped_column(String(256), nullable=False, unique=True)
    gates: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON GateConfig
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class ModelVersion(Base):
    """One registered version: where its files are, its lineage, and the signed manifest of its files."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False,
                                          index=True)
    version: Mapped[int] = mapped_column(nullable=False)
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    source: Mapped[str] = mapped_column(String(512), nullable=False)  # mlflow-artifacts:/... resolved by us
    pipeline_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    lineage: Mapped[str] = mapped_column(Text, nullable=False)  # JSON
    statement: Mapped[str | None] = mapped_column(Text, nullable=True)  # the signed manifest (canonical JSON)
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)  # base64 ed25519
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    metrics: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    params: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    model: Mapped[RegisteredModel] = relationship()


class ModelAlias(Base):
    __tablename__ = "model_aliases"

    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(32), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class GateDecision(Base):
    """One request to move an alias to a version: what the gates found, and who decided."""

    __tablename__ = "gate_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    alias: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # passed failed pending approved rejected
    evidence: Mapped[str] = mapped_column(Text, nullable=False)  # JSON
    requested_by: Mapped[str] = mapped_column(String(128), nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)

    version: Mapped[ModelVersion] = relationship()


class Deployment(Base):
    """A stable endpoint of a project serving one model version through worker processes."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_deployments_project_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"), nullable=False)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False)
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"),
                                                            nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # deploying ready failed stopped
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    min_workers: Mapped[int] = mapped_column(nullable=False, default=1)
    max_workers: Mapped[int] = mapped_column(nullable=False, default=1)
    sla_ms: Mapped[float] = mapped_column(nullable=False, default=100.0)
    max_batch: Mapped[int] = mapped_column(nullable=False, default=64)
    max_wait_ms: Mapped[float] = mapped_column(nullable=False, default=0.0)
    log_predictions: Mapped[bool] = mapped_column(nullable=False, default=True)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)

    model: Mapped[RegisteredModel] = relationship()
    version: Mapped[ModelVersion] = relationship(foreign_keys=[version_id])


class DeploymentEvent(Base):
    """What happened to a deployment and who did it: deploy, switch, rollback, scale, restart, stop."""

    __tablename__ = "deployment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), nullable=False,
                                               index=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"),
                                                   nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    actor: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class ApiKey(Base):
    """A client system's key to a project's endpoints (or one deployment's); only its sha256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"),
                                                      nullable=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    rate_per_s: Mapped[float | None] = mapped_column(nullable=True)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class ServingClientTls(Base):
    """A project's mutual-TLS policy at the serving gateway: its client CA bundle, and whether a certificate is
    required (serving/client_tls.py)."""

    __tablename__ = "serving_client_tls"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    require_client_cert: Mapped[bool] = mapped_column(nullable=False, default=False)
    ca_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(128), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class ServingClientCert(Base):
    """A client certificate (sha256 of its DER) that goes with an API key: a client must present both."""

    __tablename__ = "serving_client_certs"
    __table_args__ = (UniqueConstraint("project_id", "fingerprint", "api_key_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    subject: Mapped[str] = mapped_column(String(512), nullable=False)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class DatasetColumnPolicy(Base):
    """What a role sees of a dataset column: allow, mask, hash or deny (datasets/policy.py)."""

    __tablename__ = "dataset_column_policies"
    __table_args__ = (UniqueConstraint("project_id", "dataset", "column", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    dataset: Mapped[str] = mapped_column(String(63), nullable=False)
    column: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    action: Mapped[str] = mapped_column(String(8), nullable=False)
    updated_by: Mapped[str] = mapped_column(String(128), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class ProjectColumnKey(Base):
    """The project's secret for `hash` column policies (HMAC-SHA256): equal values hash alike within a project only.
    Kept wrapped by the at-rest master key (`wrapped`, `master_key_id`; at_rest.column_secret); `secret` holds it in
    the clear only in a row written before migration 0018, until its next use or master key rotation wraps it."""

    __tablename__ = "project_column_keys"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    master_key_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class BatchJob(Base):
    """Scoring a table or file with a deployment's version, in chunks that survive a crash."""

    __tablename__ = "batch_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), nullable=False,
                                               index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # queued running succeeded failed
    source: Mapped[str] = mapped_column(Text, nullable=False)  # JSON
    output: Mapped[str] = mapped_column(Text, nullable=False)  # JSON
    chunk_rows: Mapped[int] = mapped_column(nullable=False)
    chunks_total: Mapped[int] = mapped_column(nullable=False, default=0)
    chunks_done: Mapped[int] = mapped_column(nullable=False, default=0)
    rows: Mapped[int] = mapped_column(nullable=False, default=0)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ProjectDataKey(Base):
    """A project's data key for encryption at rest, wrapped by a master key (at_rest.py). The row is the only copy:
    deleting it (with the project, or `mlp security shred`) leaves the project's encrypted files unreadable."""

    __tablename__ = "project_data_keys"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)  # hex, in every file's header
    master_key_id: Mapped[str] = mapped_column(String(128), nullable=False)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)  # off: new files plain, old ones readable
    updated_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    rewrapped_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ReferenceProfile(Base):
    """A version's reference for drift: its training data profiled, with one calibrated threshold per feature.
    The statistics themselves (sorted values, category counts) are files under `$MLP_HOME/monitoring/profiles/`."""

    __tablename__ = "reference_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False,
                                            unique=True)
    dataset: Mapped[str | None] = mapped_column(String(64), nullable=True)
    snapshot_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # ready failed
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    window_size: Mapped[int] = mapped_column(nullable=False)
    rows: Mapped[int] = mapped_column(nullable=False, default=0)
    features: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON: describe() per feature
    thresholds: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON {feature: threshold}
    method: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON: how they were calibrated
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class Monitor(Base):
    """Drift and performance watch over one deployment's prediction log, with its alerting and retraining."""

    __tablename__ = "monitors"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), nullable=False,
                                               unique=True)
    window_size: Mapped[int] = mapped_column(nullable=False)  # rows per window (and what thresholds expect)
    window_seconds: Mapped[int | None] = mapped_column(nullable=True)  # set: windows by time instead of count
    tolerance: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON {metric: allowed loss}
    retrain: Mapped[bool] = mapped_column(nullable=False, default=False)
    retrain_on: Mapped[str] = mapped_column(String(16), nullable=False, default="any")  # drift performance any
    cooldown_s: Mapped[int] = mapped_column(nullable=False, default=3600)
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    evaluated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    pending_rows: Mapped[int] = mapped_column(nullable=False, default=0)  # served rows not yet in a window
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class MonitorWindow(Base):
    """One window of a deployment's predictions: drift per feature (fixed once the window is full) and
    performance on the labels that have arrived so far (recomputed while labels come in)."""

    __tablename__ = "monitor_windows"
    __table_args__ = (UniqueConstraint("monitor_id", "version_id", "seq", name="uq_monitor_windows_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False)
    seq: Mapped[int] = mapped_column(nullable=False)  # the window's number among this version's predictions
    start_ts: Mapped[datetime] = mapped_column(nullable=False)
    end_ts: Mapped[datetime] = mapped_column(nullable=False)
    rows: Mapped[int] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False)  # ok drift "insufficient data" "schema changed"
    drift: Mapped[str] = mapped_column(Text, nullable=False)  # JSON WindowResult
    labelled: Mapped[int] = mapped_column(nullable=False, default=0)
    performance: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON {metrics, verdicts, status}
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class Alert(Base):
    """A condition a monitor found: firing until a later window no longer shows it, then resolved. One row per
    episode: while it fires, later windows update it instead of raising it again."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    key: Mapped[str] = mapped_column(String(256), nullable=False)  # drift:<feature> performance:<metric> data:schema
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # drift performance data
    severity: Mapped[str] = mapped_column(String(16), nullable=False)  # warning critical
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # firing resolved
    title: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    windows: Mapped[int] = mapped_column(nullable=False, default=1)  # how many windows showed it
    started_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    external: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON {hook id: issue key}


class Webhook(Base):
    """Where a project's alerts go: Slack, Jira (issue creation) or any URL (JSON signed with HMAC)."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)  # never returned by the API
    jira_project: Mapped[str | None] = mapped_column(String(32), nullable=True)
    jira_issue_type: Mapped[str] = mapped_column(String(64), nullable=False, default="Bug")
    enabled: Mapped[bool] = mapped_column(nullable=False, default=True)
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False, index=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # the alert's state it announced
    ok: Mapped[bool] = mapped_column(nullable=False)
    status_code: Mapped[int | None] = mapped_column(nullable=True)
    attempts: Mapped[int] = mapped_column(nullable=False, default=1)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class Retraining(Base):
    """One automatic retraining: the alert that asked for it, the pipeline run, the version it produced, the gate
    decision, and whether the deployment moved."""

    __tablename__ = "retrainings"

    id: Mapped[int] = mapped_column(primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False,
                                            index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True)
    pipeline_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    # launched, run failed, no new version, gates failed, awaiting approval, deployed, failed
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"),
                                                   nullable=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("gate_decisions.id", ondelete="SET NULL"),
                                                    nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class AssistantChange(Base):
    """The assistant's index feed (an outbox): one row per written record, added in the transaction that wrote it
    (outbox.py), so a change that rolled back leaves no row. The AI services process reads them in `seq` order."""

    __tablename__ = "assistant_changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    record_id: Mapped[str] = mapped_column(String(256), nullable=False)
    op: Mapped[str] = mapped_column(String(8), nullable=False)  # upsert delete
    at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class PlatformEvent(Base):
    """One platform event (a CloudEvents 1.0 JSON in `body`), added in the transaction of the change it announces
    (events.py), so a change that rolled back leaves none; the relay publishes rows in `seq` order and sets
    `sent_at` once the broker acknowledged them."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), nullable=False, unique=True)
    project: Mapped[str] = mapped_column(String(64), nullable=False)
    type: Mapped[str] = mapped_column(String(96), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0, server_default="0")
    hooks_at: Mapped[datetime | None] = mapped_column(nullable=True)  # an alert event claimed for webhooks


class AssistantConversation(Base):
    """A user's chat with the assistant about one project (or none): only its user reads it."""

    __tablename__ = "assistant_conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)


class AssistantTurn(Base):
    __tablename__ = "assistant_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("assistant_conversations.id", ondelete="CASCADE"),
                                                 nullable=False, index=True)
    question: Mapped[str] = mapped_column(Text, nullable=False)
    answer: Mapped[str] = mapped_column(Text, nullable=False)  # JSON, the answer contract
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
