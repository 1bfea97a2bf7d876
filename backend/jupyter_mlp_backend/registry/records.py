"""The registry's records: finding a project's models and versions, their aliases, and the answers made from them;
reading models and versions for a caller (the list and detail routes)."""

from __future__ import annotations

import json
from datetime import timezone
from typing import Any

from sqlalchemy import func, select

from ..access import Action, require
from ..deps import DB
from ..errors import NotFound
from ..identity import Identity
from ..orm import GateDecision, ModelAlias, ModelVersion, RegisteredModel
from . import gates as gate_rules
from .artifacts import Unavailable, app_signer
from .schemas import DecisionOut, ModelDetail, ModelPage, ModelSummary, VersionOut, VersionPage


def iso(dt) -> str | None:  # noqa: ANN001
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


def model(db: DB, project_id: int, name: str) -> RegisteredModel:
    m = db.execute(select(RegisteredModel).where(RegisteredModel.project_id == project_id,
                                                 RegisteredModel.name == name)).scalar_one_or_none()
    if m is None:
        raise NotFound(f"Model '{name}' not found")
    return m


def version(db: DB, m: RegisteredModel, number: int) -> ModelVersion:
    v = db.execute(select(ModelVersion).where(ModelVersion.model_id == m.id, ModelVersion.version == number)
                   ).scalar_one_or_none()
    if v is None:
        raise NotFound(f"Version {number} of '{m.name}' not found")
    return v


def aliases(db: DB, model_id: int) -> dict[str, int]:
    rows = db.execute(select(ModelAlias.alias, ModelVersion.version)
                      .join(ModelVersion, ModelAlias.version_id == ModelVersion.id)
                      .where(ModelAlias.model_id == model_id)).all()
    return {a: v for a, v in rows}


def version_out(db: DB, m: RegisteredModel, v: ModelVersion, named: dict[str, int] | None = None) -> VersionOut:
    named = aliases(db, m.id) if named is None else named
    st = json.loads(v.statement) if v.statement else {}
    return VersionOut(name=m.name, version=v.version, run_id=v.mlflow_run_id, source=v.source,
                      pipeline_run_id=v.pipeline_run_id, aliases=sorted(a for a, n in named.items() if n == v.version),
                      lineage=json.loads(v.lineage), metrics=json.loads(v.metrics), params=json.loads(v.params),
                      signed=bool(v.signature), key_id=v.key_id, files=len(st.get("files", [])),
                      created_by=v.created_by, created_at=iso(v.created_at))


def summary(db: DB, m: RegisteredModel) -> dict[str, Any]:
    count, latest = db.execute(select(func.count(), func.max(ModelVersion.version))
                               .where(ModelVersion.model_id == m.id)).one()
    pending = db.execute(select(func.count()).select_from(GateDecision)
                         .join(ModelVersion, GateDecision.version_id == ModelVersion.id)
                         .where(ModelVersion.model_id == m.id, GateDecision.status == "pending")).scalar_one()
    return {"name": m.name, "mlflow_name": m.mlflow_name, "latest_version": latest, "versions": count,
            "aliases": aliases(db, m.id), "pending_approvals": pending, "created_at": iso(m.created_at)}


def decision_out(db: DB, d: GateDecision) -> DecisionOut:
    v = d.version
    moved = d.status in ("passed", "approved") and aliases(db, v.model_id).get(d.alias) == v.version
    return DecisionOut(id=d.id, model=v.model.name, version=v.version, alias=d.alias, status=d.status,
                       evidence=json.loads(d.evidence), requested_by=d.requested_by, decided_by=d.decided_by,
                       reason=d.reason, created_at=iso(d.created_at), decided_at=iso(d.decided_at),
                       alias_moved=moved)


async def experiments(app):  # noqa: ANN001, ANN201
    """The app's MLflow (experiments) service, once it answers; Unavailable otherwise."""
    exp = app.state.experiments
    try:
        await exp.ready()
    except RuntimeError as e:
        raise Unavailable(f"MLflow is not available: {e}") from e
    return exp


def signer(app):  # noqa: ANN001, ANN201
    return app_signer(app)


# --- reading, for a caller -------------------------------------------------------------------------------------------

def list_models(db: DB, who: Identity, slug: str, limit: int, offset: int) -> ModelPage:
    g = require(db, who, slug, Action.read_models)
    q = select(RegisteredModel).where(RegisteredModel.project_id == g.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(RegisteredModel.name).limit(limit).offset(offset)).scalars().all()
    items = [ModelSummary(**summary(db, m)) for m in rows]
    db.commit()
    return ModelPage(items=items, total=total)


def get_model(db: DB, who: Identity, slug: str, name: str) -> ModelDetail:
    g = require(db, who, slug, Action.read_models, target=name)
    m = model(db, g.project.id, name)
    out = ModelDetail(**summary(db, m), gates=gate_rules.GateConfig.model_validate_json(m.gates or "{}"))
    db.commit()
    return out


def list_versions(db: DB, who: Identity, slug: str, name: str, limit: int, offset: int) -> VersionPage:
    g = require(db, who, slug, Action.read_models, target=name)
    m = model(db, g.project.id, name)
    q = select(ModelVersion).where(ModelVersion.model_id == m.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    named = aliases(db, m.id)
    rows = db.execute(q.order_by(ModelVersion.version.desc()).limit(limit).offset(offset)).scalars().all()
    items = [version_out(db, m, v, named) for v in rows]
    db.commit()
    return VersionPage(items=items, total=total)


def get_version(db: DB, who: Identity, slug: str, name: str, number: int) -> VersionOut:
    g = require(db, who, slug, Action.read_models, target=f"{name}/{number}")
    m = model(db, g.project.id, name)
    out = version_out(db, m, version(db, m, number))
    db.commit()
    return out
