"""Platform events, written in the transaction of the change they announce (a transactional outbox).

Every flush that finishes a pipeline run, registers a version, moves an alias, decides a gate or an approval,
changes a deployment's status, fires or resolves an alert, or starts or finishes a retraining adds one `events`
row on the same connection, so it commits with the change or rolls back with it: nothing is announced for a write
that did not happen. MLflow runs are not our rows: the experiments gateway calls `note_event` when a run it
forwarded ends (experiments/run_changes.py). The relay (event_relay.py) publishes pending rows to Kafka.

Each row's `body` is a CloudEvents 1.0 JSON (structured mode): specversion, id, source (/mlp/projects/<slug>),
type (`mlp.<family>.<what>`), subject, time, datacontenttype, data, and the partitioning extension's
`partitionkey` (the project slug, the Kafka key). This is the shared core like outbox.py: every domain writes
here, so it imports no domain.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .orm import (Alert, Deployment, GateDecision, ModelAlias, ModelVersion, Monitor, Pipeline, PipelineRunRecord,
                  PipelineVersion, PlatformEvent, Project, RegisteredModel, Retraining, utcnow)

FAMILIES = ("experiments", "pipelines", "registry", "serving", "monitoring")
TYPES = {
    "mlp.experiments.run.finished": "an MLflow run ended (FINISHED, FAILED or KILLED) through the backend",
    "mlp.pipelines.run.finished": "a pipeline run succeeded",
    "mlp.pipelines.run.failed": "a pipeline run failed or was canceled",
    "mlp.registry.version.registered": "a model version was registered",
    "mlp.registry.alias.moved": "an alias (staging, champion, ...) now points at another version",
    "mlp.registry.gate.decided": "the gates decided a promotion request (passed, failed, or pending approval)",
    "mlp.registry.approval.decided": "a lead approved or rejected a pending promotion",
    "mlp.serving.deployment.status_changed": "a deployment was created or its status changed",
    "mlp.monitoring.alert.firing": "a monitor raised an alert",
    "mlp.monitoring.alert.resolved": "an alert no longer shows in the latest window",
    "mlp.monitoring.retraining.started": "a retraining launched its pipeline run",
    "mlp.monitoring.retraining.finished": "a retraining ended (deployed, gates failed, no new version, failed, ...)",
}
RETRAINING_ACTIVE = ("launching", "launched", "awaiting approval")
COMMITTED: list[Callable[[], None]] = []
"""Called after a session that wrote events committed (event_feed wakes this process's live-update streams)."""
_WROTE = "mlp_wrote_events"


def family(type_: str) -> str:
    return type_.split(".")[1]


def envelope(project: str, type_: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    if type_ not in TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": f"/mlp/projects/{project}", "type": type_,
            "subject": subject, "time": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "datacontenttype": "application/json", "partitionkey": project, "data": data}


def note_event(db: Session | Connection, project: str, type_: str, subject: str, data: dict[str, Any]) -> None:
    """Add one event row in `db`'s transaction."""
    conn = db.connection() if isinstance(db, Session) else db
    if isinstance(db, Session):
        db.info[_WROTE] = True
    body = envelope(project, type_, subject, data)
    conn.execute(insert(PlatformEvent).values(id=body["id"], project=project, type=type_,
                                              body=json.dumps(body, sort_keys=True, default=str),
                                              created_at=utcnow(), attempts=0))


def _slug(conn: Connection, project_id: int | None) -> str | None:
    if project_id is None:
        return None
    return conn.execute(select(Project.slug).where(Project.id == project_id)).scalar_one_or_none()


def version_of(conn: Connection, version_id: int | None) -> tuple[str, str, int] | None:
    """(project, model, version number) of a model version id."""
    if version_id is None:
        return None
    row = conn.execute(select(Project.slug, RegisteredModel.name, ModelVersion.version)
                       .join(RegisteredModel, RegisteredModel.project_id == Project.id)
                       .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
                       .where(ModelVersion.id == version_id)).first()
    return (row[0], row[1], row[2]) if row else None


def _changed(obj: Any, attr: str) -> tuple[bool, Any]:
    """Whether `attr` changed in this flush, and its previous value."""
    hist = inspect(obj).attrs[attr].history
    if not hist.added:
        return False, None
    return (hist.deleted[0] if hist.deleted else None) != hist.added[0], (hist.deleted[0] if hist.deleted else None)


Event = tuple[str, str, str, dict[str, Any]]  # project, type, subject, data


def events_of(conn: Connection, obj: Any, new: bool) -> list[Event]:  # noqa: C901 (one branch per record)
    if isinstance(obj, PipelineRunRecord):
        changed, _ = _changed(obj, "status")
        if not (changed or new) or obj.status not in ("SUCCESS", "FAILURE", "CANCELED"):
            return []
        row = conn.execute(select(Project.slug, Pipeline.name).join(Pipeline, Pipeline.project_id == Project.id)
                           .join(PipelineVersion, PipelineVersion.pipeline_id == Pipeline.id)
                           .where(PipelineVersion.id == obj.version_id)).first()
        if not row:
            return []
        kind = "finished" if obj.status == "SUCCESS" else "failed"
        return [(row[0], f"mlp.pipelines.run.{kind}", f"pipelines/{row[1]}/runs/{obj.id}",
                 {"pipeline": row[1], "run_id": obj.id, "status": obj.status, "mlflow_run_id": obj.mlflow_run_id,
                  "schedule_id": obj.schedule_id, "created_by": obj.created_by})]
    if isinstance(obj, ModelVersion):
        key = version_of(conn, obj.id) if new else None
        if not key:
            return []
        return [(key[0], "mlp.registry.version.registered", f"models/{key[1]}/versions/{key[2]}",
                 {"model": key[1], "version": key[2], "mlflow_run_id": obj.mlflow_run_id,
                  "pipeline_run_id": obj.pipeline_run_id, "created_by": obj.created_by})]
    if isinstance(obj, ModelAlias):
        changed, before = _changed(obj, "version_id")
        if not (changed or new):
            return []
        key, prev = version_of(conn, obj.version_id), version_of(conn, before)
        if not key:
            return []
        return [(key[0], "mlp.registry.alias.moved", f"models/{key[1]}/aliases/{obj.alias}",
                 {"model": key[1], "alias": obj.alias, "version": key[2], "previous_version": prev[2] if prev else None})]
    if isinstance(obj, GateDecision):
        changed, before = _changed(obj, "status")
        key = version_of(conn, obj.version_id)
        if not key or not (changed or new):
            return []
        data = {"decision_id": obj.id, "model": key[1], "version": key[2], "alias": obj.alias, "status": obj.status,
                "requested_by": obj.requested_by, "decided_by": obj.decided_by, "reason": obj.reason}
        type_ = "mlp.registry.approval.decided" if obj.status in ("approved", "rejected") and not new \
            else "mlp.registry.gate.decided"
        return [(key[0], type_, f"models/{key[1]}/decisions/{obj.id}", data)]
    if isinstance(obj, Deployment):
        changed, before = _changed(obj, "status")
        slug = _slug(conn, obj.project_id)
        if not slug or not (changed or new):
            return []
        ver = version_of(conn, obj.version_id)
        return [(slug, "mlp.serving.deployment.status_changed", f"deployments/{obj.name}",
                 {"deployment": obj.name, "status": obj.status, "previous_status": None if new else before,
                  "model": ver[1] if ver else None, "version": ver[2] if ver else None, "message": obj.message})]
    if isinstance(obj, Alert):
        changed, _ = _changed(obj, "state")
        slug = _slug(conn, obj.project_id)
        if not slug or not (changed or new) or obj.state not in ("firing", "resolved"):
            return []
        return [(slug, f"mlp.monitoring.alert.{obj.state}", f"alerts/{obj.id}",
                 {"alert_id": obj.id, "monitor_id": obj.monitor_id, "key": obj.key, "kind": obj.kind,
                  "severity": obj.severity, "title": obj.title})]
    if isinstance(obj, Retraining):
        changed, _ = _changed(obj, "status")
        if not (changed or new) or obj.status == "launching":
            return []
        slug = conn.execute(select(Project.slug).join(Monitor, Monitor.project_id == Project.id)
                            .where(Monitor.id == obj.monitor_id)).scalar_one_or_none()
        if not slug:
            return []
        if obj.status == "launched":
            type_ = "mlp.monitoring.retraining.started"
        elif obj.status not in RETRAINING_ACTIVE:
            type_ = "mlp.monitoring.retraining.finished"
        else:
            return []  # awaiting approval: the gate.decided event says so; finished comes with the approval
        return [(slug, type_, f"retrainings/{obj.id}",
                 {"retraining_id": obj.id, "monitor_id": obj.monitor_id, "status": obj.status,
                  "pipeline_run_id": obj.pipeline_run_id, "message": obj.message})]
    return []


WATCHED = (PipelineRunRecord, ModelVersion, ModelAlias, GateDecision, Deployment, Alert, Retraining)


def _after_flush(session: Session, _ctx: Any) -> None:
    new = [o for o in session.new if isinstance(o, WATCHED)]
    dirty = [o for o in session.dirty if isinstance(o, WATCHED) and session.is_modified(o)]
    if not new and not dirty:
        return
    conn = session.connection()
    for obj, is_new in [(o, True) for o in new] + [(o, False) for o in dirty]:
        for project, type_, subject, data in events_of(conn, obj, is_new):
            note_event(conn, project, type_, subject, data)
            session.info[_WROTE] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        for hook in COMMITTED:
            try:
                hook()
            except Exception:  # noqa: BLE001 - a wake-up must never fail a commit that happened
                pass


def _after_rollback(session: Session) -> None:
    session.info.pop(_WROTE, None)


def install(sessions: Any) -> None:
    """Listen on a sessionmaker (every `Database` does this)."""
    event.listen(sessions, "after_flush", _after_flush)
    event.listen(sessions, "after_commit", _after_commit)
    event.listen(sessions, "after_rollback", _after_rollback)
