"""The documents of the assistant's index feed: for a (project, kind, record id) of the outbox, a short
plain-language text of the record as it is now, `{id, project, kind, title, text, fields}`, or None when it is gone
(the feed then says delete).

Texts are data for retrieval, never instructions: they are built from the record's own fields and shortened.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jupyter_mlp.projects import project_of
from jupyter_mlp.settings import Settings

from ..experiments.projects import user_name
from ..orm import (Alert, Deployment, GateDecision, Membership, ModelAlias, ModelVersion, Monitor, MonitorWindow,
                   Pipeline, PipelineRunRecord, PipelineVersion, Project, ProjectExperiment, RegisteredModel,
                   Retraining)

MAX_TEXT = 2000
Doc = dict[str, Any]


def _json(raw: str | None) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def _pairs(d: Any, limit: int = 30) -> str:
    if not isinstance(d, dict):
        return ""
    items = [f"{k}={_short(v)}" for k, v in list(d.items())[:limit]]
    return " ".join(items)


def _short(v: Any, n: int = 80) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str, separators=(",", ":"))
    return s if len(s) <= n else s[:n - 1] + "…"


def doc(record_id: str, project: str, kind: str, title: str, text: str, **fields: Any) -> Doc:
    return {"id": record_id, "project": project, "kind": kind, "title": title[:200], "text": text[:MAX_TEXT],
            "fields": {k: v for k, v in fields.items() if v is not None}}


def _project(db: Session, slug: str) -> Project | None:
    return db.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none()


def project_doc(db: Session, slug: str, record_id: str) -> Doc | None:
    p = _project(db, slug)
    if p is None or record_id != slug:
        return None
    members = db.execute(select(Membership.user, Membership.role).where(Membership.project_id == p.id)
                         .order_by(Membership.user)).all()
    text = f"project {slug} ({p.name}): {p.description or 'no description'}. members: " + \
        ", ".join(f"{u} ({r})" for u, r in members)
    return doc(slug, slug, "project", p.name, text, name=p.name)


def experiment_doc(db: Session, slug: str, record_id: str, settings: Settings) -> Doc | None:
    row = db.execute(select(ProjectExperiment).join(Project, Project.id == ProjectExperiment.project_id)
                     .where(Project.slug == slug, ProjectExperiment.experiment_id == record_id)).scalar_one_or_none()
    if row is None:
        return None
    name = user_name(settings, slug, row.name)
    return doc(record_id, slug, "experiment", name, f"experiment {name} of project {slug}, created by {row.created_by}",
               name=name)


def _version(db: Session, slug: str, record_id: str) -> tuple[ModelVersion, RegisteredModel] | None:
    try:
        s, model, v = record_id.split("/")
        number = int(v)
    except ValueError:
        return None
    if s != slug:
        return None
    row = db.execute(select(ModelVersion, RegisteredModel).join(RegisteredModel,
                                                                RegisteredModel.id == ModelVersion.model_id)
                     .join(Project, Project.id == RegisteredModel.project_id)
                     .where(Project.slug == slug, RegisteredModel.name == model, ModelVersion.version == number)).first()
    return (row[0], row[1]) if row else None


def model_version_doc(db: Session, slug: str, record_id: str) -> Doc | None:
    found = _version(db, slug, record_id)
    if found is None:
        return None
    v, m = found
    aliases = list(db.execute(select(ModelAlias.alias).where(ModelAlias.version_id == v.id)).scalars())
    lineage = _json(v.lineage)
    digests = {k: val for k, val in lineage.items() if "digest" in k or "snapshot" in k} if isinstance(lineage, dict) \
        else {}
    text = (f"model {m.name} version {v.version} of project {slug}"
            f"{' (aliases ' + ', '.join(aliases) + ')' if aliases else ''}, registered by {v.created_by}"
            f"{' from run ' + v.mlflow_run_id if v.mlflow_run_id else ''}: metrics {_pairs(_json(v.metrics))}; "
            f"params {_pairs(_json(v.params))}; lineage {_pairs(digests)}")
    return doc(record_id, slug, "model_version", f"{m.name} v{v.version}", text, model=m.name, version=v.version,
               aliases=aliases, run_id=v.mlflow_run_id)


def gate_decision_doc(db: Session, slug: str, record_id: str) -> Doc | None:
    if not record_id.isdigit():
        return None
    row = db.execute(select(GateDecision, ModelVersion, RegisteredModel)
                     .join(ModelVersion, ModelVersion.id == GateDecision.version_id)
                     .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
                     .join(Project, Project.id == RegisteredModel.project_id)
                     .where(Project.slug == slug, GateDecision.id == int(record_id))).first()
    if row is None:
        return None
    d, v, m = row
    text = (f"gate decision {d.id} on model {m.name} version {v.version} of project {slug} for alias {d.alias}: "
            f"{d.status}, requested by {d.requested_by}"
            f"{', decided by ' + d.decided_by if d.decided_by else ''}{': ' + d.reason if d.reason else ''}. "
            f"evidence {_short(_json(d.evidence), 600)}")
    return doc(record_id, slug, "gate_decision", f"{m.name} v{v.version} → {d.alias}: {d.status}", text,
               status=d.status, alias=d.alias, model=m.name, version=v.version)


def deployment_doc(db: Session, slug: str, record_id: str) -> Doc | None:
    s, _, name = record_id.partition("/")
    if s != slug or not name:
        return None
    row = db.execute(select(Deployment, RegisteredModel, ModelVersion)
                     .join(RegisteredModel, RegisteredModel.id == Deployment.model_id)
                     .join(ModelVersion, ModelVersion.id == Deployment.version_id)
                     .join(Project, Project.id == Deployment.project_id)
                     .where(Project.slug == slug, Deployment.name == name)).first()
    if row is None:
        return None
    d, m, v = row
    text = (f"deployment {name} of project {slug}: serves model {m.name} version {v.version}, status {d.status}, "
            f"SLA {d.sla_ms} ms, workers {d.min_workers}-{d.max_workers}{'; ' + d.message if d.message else ''}")
    return doc(record_id, slug, "deployment", name, text, status=d.status, model=m.name, version=v.version,
               sla_ms=d.sla_ms)


def _monitor_row(db: Session, slug: str, monitor_id: int) -> tuple[Monitor, Deployment] | None:
    row = db.execute(select(Monitor, Deployment).join(Deployment, Deployment.id == Monitor.deployment_id)
                     .join(Project, Project.id == Monitor.project_id)
                     .where(Project.slug == slug, Monitor.id == monitor_id)).first()
    return (row[0], row[1]) if row else None


def monitor_doc(db: Session, slug: str, record_id: str) -> Doc | None:
    found = _monitor_row(db, slug, int(record_id)) if record_id.isdigit() else None
    if found is None:
        return None
    mon, dep = found
    text = (f"monitor {mon.id} of deployment {dep.name} in project {slug}: windows of {mon.window_size} rows, "
            f"{'retrains on ' + mon.retrain_on if mon.retrain else 'no automatic retraining'}, "
            f"{'enabled' if mon.enabled else 'disabled'}")
    return doc(record_id, slug, "monitor", f"monitor of {dep.name}", text, deployment=dep.name)


def monitor_window_doc(db: Session, slug: str, record_id: str) -> Doc | None:
    if not record_id.isdigit():
        return None
    w = db.get(MonitorWindow, int(record_id))
    found = _monitor_row(db, slug, w.monitor_id) if w else None
    if found is None:
        return None
    _, dep = found
    drift = _json(w.drift)
    feats = drift.get("features") if isinstance(drift, dict) else None
    drifted = [f.get("name") for f in feats if isinstance(f, dict) and f.get("drift")] if isinstance(feats, list) \
        else []
    text = (f"monitor window {w.id} (number {w.seq}) of deployment {dep.name} in project {slug}: "
            f"{w.start_ts:%Y-%m-%d %H:%M} to {w.end_ts:%Y-%m-%d %H:%M}, {w.rows} rows, status {w.status}"
            f"{'; drifted features ' + ', '.join(map(str, drifted)) if drifted else ''}")
    return doc(record_id, slug, "monitor_window", f"{dep.name} window {w.seq}", text, deployment=dep.name,
               status=w.status)


def alert_doc(db: Session, slug: str, record_id: str) -> Doc | None:
    if not record_id.isdigit():
        return None
    row = db.execute(select(Alert).join(Project, Project.id == Alert.project_id)
                     .where(Project.slug == slug, Alert.id == int(record_id))).scalar_one_or_none()
    if row is None:
        return None
    text = (f"alert {row.id} in project {slug}: {row.title} ({row.kind}, {row.severity}, {row.state}, "
            f"seen in {row.windows} windows)")
    return doc(record_id, slug, "alert", row.title, text, state=row.state, severity=row.severity)


def retraining_doc(db: Session, slug: str, record_id: str) -> Doc | None:
    if not record_id.isdigit():
        return None
    r = db.get(Retraining, int(record_id))
    found = _monitor_row(db, slug, r.monitor_id) if r else None
    if found is None:
        return None
    _, dep = found
    text = (f"retraining {r.id} of deployment {dep.name} in project {slug}: {r.status}"
            f"{'; ' + r.message if r.message else ''}"
            f"{'; pipeline run ' + r.pipeline_run_id if r.pipeline_run_id else ''}")
    return doc(record_id, slug, "retraining", f"retraining of {dep.name}: {r.status}", text, status=r.status,
               deployment=dep.name)


def _pipeline_of_version(db: Session, slug: str, version_id: int) -> tuple[PipelineVersion, Pipeline] | None:
    row = db.execute(select(PipelineVersion, Pipeline).join(Pipeline, Pipeline.id == PipelineVersion.pipeline_id)
                     .join(Project, Project.id == Pipeline.project_id)
                     .where(Project.slug == slug, PipelineVersion.id == version_id)).first()
    return (row[0], row[1]) if row else None


def pipeline_version_doc(db: Session, slug: str, record_id: str) -> Doc | None:
    found = _pipeline_of_version(db, slug, int(record_id)) if record_id.isdigit() else None
    if found is None:
        return None
    v, p = found
    text = f"pipeline {p.name} version {v.id} of project {slug} ({p.source_path}): {v.description}"
    return doc(record_id, slug, "pipeline_version", f"{p.name} version {v.id}", text, pipeline=p.name)


def _stage_error(home: Path | None, slug: str, run_id: str, stage: str) -> str | None:
    """The failing cell and error the stage runner recorded for a stage (`<stage>.error.json` in the run's folder,
    where the pipeline API reads them too: a run's end stores the stages' status without their errors)."""
    if home is None or not stage.replace("-", "").replace("_", "").isalnum():
        return None
    try:
        e = json.loads((home / "pipeline-runs" / slug / run_id / f"{stage}.error.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(e, dict) or not e.get("error"):
        return None
    return (f"cell {e['cell']}: " if e.get("cell") is not None else "") + str(e["error"])


def pipeline_run_doc(db: Session, slug: str, record_id: str, home: Path | None = None) -> Doc | None:
    """A pipeline run: status, who, parameters and each stage's status, with a failed stage's cell and error
    (`home`: the platform's folder, where the stage runner writes them)."""
    r = db.get(PipelineRunRecord, record_id)
    found = _pipeline_of_version(db, slug, r.version_id) if r else None
    if found is None:
        return None
    _, p = found
    stages = _json(r.stage_status)
    parts = []
    for name, st in (stages.items() if isinstance(stages, dict) else []):
        if isinstance(st, dict):
            err = st.get("error") or st.get("message") or _stage_error(home, slug, r.id, str(name))
            parts.append(f"{name} {st.get('status', '')}{' (' + _short(err, 200) + ')' if err else ''}")
    text = (f"pipeline run {r.id} of pipeline {p.name} in project {slug}: {r.status}, started by {r.created_by}; "
            f"parameters {_pairs(_json(r.parameters))}; stages {'; '.join(parts)}")
    return doc(record_id, slug, "pipeline_run", f"{p.name} run {r.id[:8]}: {r.status}", text, status=r.status,
               pipeline=p.name)


BUILDERS = {
    "project": project_doc, "model_version": model_version_doc, "gate_decision": gate_decision_doc,
    "deployment": deployment_doc, "monitor": monitor_doc, "monitor_window": monitor_window_doc, "alert": alert_doc,
    "retraining": retraining_doc, "pipeline_version": pipeline_version_doc, "pipeline_run": pipeline_run_doc,
}


def run_doc(slug: str, run: dict[str, Any], experiment: str | None) -> Doc | None:
    """A run's document from MLflow's `runs/get` answer (None for a deleted run)."""
    info, data = run.get("info", {}), run.get("data", {})
    if info.get("lifecycle_stage") == "deleted":
        return None
    name = info.get("run_name") or info.get("run_id")
    params = {p["key"]: p.get("value") for p in data.get("params", [])}
    metrics = {m["key"]: m.get("value") for m in data.get("metrics", [])}
    tags = {t["key"]: t.get("value") for t in data.get("tags", [])
            if not t["key"].startswith("mlflow.") or t["key"] == "mlflow.note.content"}
    text = (f"run {name} in experiment {experiment or info.get('experiment_id')} of project {slug} "
            f"({info.get('status', '').lower()}): params {_pairs(params)}; metrics {_pairs(metrics)}; "
            f"tags {_pairs(tags)}")
    return doc(info["run_id"], slug, "run", name, text, experiment=experiment, status=info.get("status"))


# --- project notes ----------------------------------------------------------------------------------------------

SKIP_DIRS = {"node_modules", "__pycache__", ".ipynb_checkpoints", ".git", ".venv", "venv"}
MAX_NOTES = 5000
MAX_NOTE_BYTES = 256 * 1024


def scan_notes(root: Path, projects: set[str]) -> list[dict[str, Any]]:
    """Markdown files under `root` that belong to one of `projects` by the marker-file rule (the nearest
    `mlp-project.toml`), as `{id: path relative to root, project, mtime, size, path}`; hidden and tool folders are
    skipped, and at most MAX_NOTES files are read."""
    out: list[dict[str, Any]] = []
    root = root.resolve()
    if not root.is_dir():
        return out
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for f in sorted(files):
            if not f.lower().endswith(".md"):
                continue
            path = Path(folder) / f
            rel = str(path.relative_to(root))
            owner = project_of(str(root), rel).project
            if owner not in projects:
                continue
            st = path.stat()
            if st.st_size > MAX_NOTE_BYTES:
                continue
            out.append({"id": rel, "project": owner, "mtime": st.st_mtime, "size": st.st_size, "path": path})
            if len(out) >= MAX_NOTES:
                return out
    return out


def note_doc(note: dict[str, Any]) -> Doc | None:
    try:
        text = note["path"].read_text(errors="replace")
    except OSError:
        return None
    heading = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), note["id"])
    return doc(note["id"], note["project"], "note", heading or note["id"],
               f"note {note['id']} of project {note['project']}: {' '.join(text.split())}", path=note["id"])
