"""The assistant's index feed, written in the transaction of the change it records (the outbox pattern).

Every flush of a session that adds, changes or deletes a record the assistant indexes (projects and their
memberships, experiments, pipeline versions and ended runs, model versions and their aliases, gate decisions,
deployments, monitors, monitor windows, alerts, retrainings) adds `assistant_changes` rows on the same connection,
so they commit with the change or roll back with it: nothing is indexed for a write that did not happen. The
listener is installed on every `Database` (db.py), so no write site can forget it. What is not a row of ours (MLflow
runs, written through the experiments gateway) is noted with `note_change` by the code that wrote it.

This is the shared core, not the assistant domain: every domain writes here, and the assistant domain reads these
rows (assistant/service.py builds the documents), so putting the writer in a domain would close an import cycle.

A row says only which record changed: (project slug, kind, record id, upsert|delete). Record ids are the answer
contract's citation ids (tests/bench/assistant_score.py): run -> MLflow run id, model_version ->
"<project>/<model>/<version>", deployment -> "<project>/<name>", project -> slug, the platform's integer ids as
text for gate decisions, monitors, monitor windows, alerts and retrainings, pipeline runs by their id.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .events import version_of
from .orm import (Alert, AssistantChange, Deployment, GateDecision, Membership, ModelAlias, ModelVersion, Monitor,
                  MonitorWindow, PipelineRunRecord, PipelineVersion, Pipeline, Project, ProjectExperiment,
                  RegisteredModel, Retraining, utcnow)

log = logging.getLogger(__name__)

UPSERT, DELETE = "upsert", "delete"
# Columns whose change alone says nothing a question asks about (and that move on every served batch).
QUIET = {Monitor: {"pending_rows", "evaluated_at"}}
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}

Change = tuple[str, str, str, str]  # project, kind, record id, op


def note_change(db: Session | Connection, project: str, kind: str, record_id: str, op: str = UPSERT) -> None:
    """Add one feed row in `db`'s transaction (for records that are not our rows: MLflow runs)."""
    if op not in (UPSERT, DELETE):
        raise ValueError(f"op must be {UPSERT!r} or {DELETE!r}")
    conn = db.connection() if isinstance(db, Session) else db
    conn.execute(insert(AssistantChange).values(project=project, kind=kind, record_id=str(record_id), op=op,
                                                at=utcnow()))


def _slug(conn: Connection, project_id: int | None) -> str | None:
    if project_id is None:
        return None
    return conn.execute(select(Project.slug).where(Project.id == project_id)).scalar_one_or_none()


def _version_key(conn: Connection, version_id: int | None) -> tuple[str, str] | None:
    """(project, "<project>/<model>/<version>") of a model version id: the events outbox's lookup, as a citation id."""
    found = version_of(conn, version_id)
    return (found[0], f"{found[0]}/{found[1]}/{found[2]}") if found else None


def _monitor_slug(conn: Connection, monitor_id: int | None) -> str | None:
    if monitor_id is None:
        return None
    return conn.execute(select(Project.slug).join(Monitor, Monitor.project_id == Project.id)
                        .where(Monitor.id == monitor_id)).scalar_one_or_none()


def _pipeline_slug(conn: Connection, version_id: int | None = None, pipeline_id: int | None = None) -> str | None:
    q = select(Project.slug).join(Pipeline, Pipeline.project_id == Project.id)
    if version_id is not None:
        q = q.join(PipelineVersion, PipelineVersion.pipeline_id == Pipeline.id).where(PipelineVersion.id == version_id)
    elif pipeline_id is not None:
        q = q.where(Pipeline.id == pipeline_id)
    else:
        return None
    return conn.execute(q).scalar_one_or_none()


def _history_values(obj: Any, attr: str) -> list[Any]:
    from sqlalchemy import inspect

    hist = inspect(obj).attrs[attr].history
    return [v for v in (*hist.added, *hist.unchanged, *hist.deleted) if v is not None]


def changes_of(conn: Connection, obj: Any, op: str) -> list[Change]:
    """The feed rows one written object makes (none for a table the assistant does not index)."""
    if isinstance(obj, Project):
        return [(obj.slug, "project", obj.slug, op)]
    if isinstance(obj, Membership):  # who may open a project is asked at every question; the project's text lists
        slug = _slug(conn, obj.project_id)  # its members, so it is written again
        return [(slug, "project", slug, UPSERT)] if slug else []
    if isinstance(obj, ProjectExperiment):
        slug = _slug(conn, obj.project_id)
        return [(slug, "experiment", obj.experiment_id, op)] if slug else []
    if isinstance(obj, PipelineVersion):
        slug = _pipeline_slug(conn, pipeline_id=obj.pipeline_id)
        return [(slug, "pipeline_version", str(obj.id), op)] if slug else []
    if isinstance(obj, PipelineRunRecord):
        if op == UPSERT and obj.status not in TERMINAL_RUN:
            return []  # indexed when it ends
        slug = _pipeline_slug(conn, version_id=obj.version_id)
        return [(slug, "pipeline_run", obj.id, op)] if slug else []
    if isinstance(obj, ModelVersion):
        key = _version_key(conn, obj.id)
        return [(key[0], "model_version", key[1], op)] if key else []
    if isinstance(obj, ModelAlias):  # the alias is part of the text of the version it leaves and the one it joins
        keys = [_version_key(conn, v) for v in _history_values(obj, "version_id")]
        return [(k[0], "model_version", k[1], UPSERT) for k in keys if k]
    if isinstance(obj, GateDecision):
        key = _version_key(conn, obj.version_id)
        return [(key[0], "gate_decision", str(obj.id), op)] if key else []
    if isinstance(obj, Deployment):
        slug = _slug(conn, obj.project_id)
        return [(slug, "deployment", f"{slug}/{obj.name}", op)] if slug else []
    if isinstance(obj, Monitor):
        slug = _slug(conn, obj.project_id)
        return [(slug, "monitor", str(obj.id), op)] if slug else []
    if isinstance(obj, MonitorWindow):
        slug = _monitor_slug(conn, obj.monitor_id)
        return [(slug, "monitor_window", str(obj.id), op)] if slug else []
    if isinstance(obj, Alert):
        slug = _slug(conn, obj.project_id)
        return [(slug, "alert", str(obj.id), op)] if slug else []
    if isinstance(obj, Retraining):
        slug = _monitor_slug(conn, obj.monitor_id)
        return [(slug, "retraining", str(obj.id), op)] if slug else []
    return []


INDEXED = (Project, Membership, ProjectExperiment, PipelineVersion, PipelineRunRecord, ModelVersion, ModelAlias,
           GateDecision, Deployment, Monitor, MonitorWindow, Alert, Retraining)
_PENDING = "mlp_outbox_deleted"


def _changed(session: Session, obj: Any) -> bool:
    from sqlalchemy import inspect

    quiet = QUIET.get(type(obj), set())
    state = inspect(obj)
    return any(attr.history.has_changes() for attr in state.attrs if attr.key not in quiet) \
        and session.is_modified(obj)


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    # Deleted rows are described before the flush removes them (their parents may go in the same flush).
    deleted = [o for o in session.deleted if isinstance(o, INDEXED)]
    if deleted:
        conn = session.connection()
        session.info.setdefault(_PENDING, []).extend(c for o in deleted for c in changes_of(conn, o, DELETE))


def _after_flush(session: Session, _ctx: Any) -> None:
    rows: list[Change] = session.info.pop(_PENDING, [])
    written = [o for o in session.new if isinstance(o, INDEXED)] + \
        [o for o in session.dirty if isinstance(o, INDEXED) and _changed(session, o)]
    if not rows and not written:
        return
    conn = session.connection()
    rows += [c for o in written for c in changes_of(conn, o, UPSERT)]
    for project, kind, record_id, op in dict.fromkeys(rows):
        note_change(conn, project, kind, record_id, op)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install(sessions: Any) -> None:
    """Listen on a sessionmaker (every `Database` does this)."""
    event.listen(sessions, "before_flush", _before_flush)
    event.listen(sessions, "after_flush", _after_flush)
    event.listen(sessions, "after_soft_rollback", lambda s, _tx: _after_rollback(s))
