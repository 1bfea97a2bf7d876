"""Promotion: a model's gates, asking for an alias to move to a version (the gates decide: signature, evaluation,
thresholds, challenger against champion), a lead's approval or rejection, and moving the alias in MLflow and here.
Monitoring's retraining promotes through `registry.service.promote` too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..access import Action, require
from ..deps import DB
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..identity import Identity
from ..orm import GateDecision, ModelAlias, ModelVersion, RegisteredModel, utcnow
from . import gates as gate_rules
from . import records, registration
from .artifacts import Refused, Unavailable
from .schemas import DecisionOut, DecisionPage


def set_gates(db: DB, who: Identity, slug: str, name: str, body: dict[str, Any]) -> gate_rules.GateConfig:
    """Set a model's validation gates (leads): checked, then stored."""
    g = require(db, who, slug, Action.approve_models, target=f"{name}:gates")
    return _store_gates(db, who, slug, records.model(db, g.project.id, name), body)


def set_initial_gates(db: DB, who: Identity, slug: str, name: str, body: dict[str, Any]) -> gate_rules.GateConfig:
    """A model's first gates, by whoever may ask for its aliases to move (scientists): only while it has none, so
    nothing a lead set is ever loosened this way (the Ship flow gates the model it has just registered)."""
    g = require(db, who, slug, Action.write_models, target=f"{name}:gates")
    m = records.model(db, g.project.id, name)
    stored = gate_rules.GateConfig.model_validate_json(m.gates or "{}")
    if stored != gate_rules.GateConfig():
        db.commit()
        raise Forbidden(f"Model '{name}' has gates a lead set: only a lead changes them", detail=[{"field": "gates"}])
    db.commit()
    return _store_gates(db, who, slug, m, body, initial=True)


def _store_gates(db: DB, who: Identity, slug: str, m: RegisteredModel, body: dict[str, Any],
                 initial: bool = False) -> gate_rules.GateConfig:
    try:
        cfg = gate_rules.GateConfig.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        db.commit()
        raise Invalid(f"{where + ': ' if where else ''}{first['msg']}", detail=[{"field": where or "gates"}]) from None
    if cfg.challenger is not None and cfg.evaluation is None:
        db.commit()
        raise Invalid("challenger-beats-champion needs `evaluation` data: both versions are scored on the same rows",
                      detail=[{"field": "challenger"}])
    m.gates = cfg.model_dump_json()
    audit.append(db, actor=who.user, action="model.gates.set", decision="allow", project=slug, target=m.name,
                 detail={**cfg.model_dump(), **({"initial": True} if initial else {})})
    db.commit()
    return cfg


async def move_alias(app, db: DB, who: str, slug: str, m: RegisteredModel, v: ModelVersion,
                     alias: str, decision_id: int) -> None:  # noqa: ANN001
    exp = await records.experiments(app)
    r = await exp.mlflow.client.post("/api/2.0/mlflow/registered-models/alias",
                                     json={"name": m.mlflow_name, "alias": alias, "version": str(v.version)})
    if r.status_code != 200:
        raise Unavailable(f"MLflow refused to move the alias: {r.text[:300]}")

    def store() -> None:
        row = db.get(ModelAlias, (m.id, alias))
        before = None
        if row is None:
            db.add(ModelAlias(model_id=m.id, alias=alias, version_id=v.id))
        else:
            before = row.version_id
            row.version_id, row.updated_at = v.id, utcnow()
        audit.append(db, actor=who, action="model.alias.move", decision="allow", project=slug,
                     target=f"{m.name}@{alias}", detail={"version": v.version, "decision": decision_id,
                                                          "previous_version_id": before})
        db.commit()

    await run_in_threadpool(store)


def _input_names(folder: Path) -> list[str] | None:
    """The model's input columns from its signature (None: no column signature)."""
    import yaml

    from ..signature import Schema

    try:
        return Schema.from_mlmodel(yaml.safe_load((folder / "MLmodel").read_text())).names
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _profile_later(app, slug: str, version_id: int, inputs: list[str] | None, target: str | None,  # noqa: ANN001
                   evaluation: str | None) -> None:
    """A validated version gets its drift reference in the background. Monitoring builds it; the registry reaches
    it through the app's monitoring state (a `monitoring.service.State`), not an import, since monitoring depends
    on the registry (tests/backend/test_layering.py)."""
    app.state.monitoring.profile_later(app, slug, version_id, inputs, target, evaluation)


async def evidence_for(app, db: DB, slug: str, project_id: int, m: RegisteredModel, v: ModelVersion,
                       alias: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # noqa: ANN001
    """What the gates found of a version asked for `alias`: (each gate's result, the evidence kept with it)."""
    cfg = gate_rules.GateConfig.model_validate_json(m.gates or "{}")
    results: list[dict[str, Any]] = []
    evidence: dict[str, Any] = {"gates": cfg.model_dump(), "verification": None, "evaluation": None}
    folders = {}
    try:
        folders["challenger"] = await registration.fetch_verified(app, db, slug, project_id, m, v)
        evidence["verification"] = {"ok": True, "key_id": v.key_id}
        evidence["inputs"] = _input_names(folders["challenger"])
        results.append({"gate": "signature", "passed": True, "message": f"files match the manifest (key {v.key_id})"})
    except Refused as e:
        evidence["verification"] = {"ok": False, "message": e.message}
        results.append({"gate": "signature", "passed": False, "message": e.message})
    champion_v = None
    aliases = await run_in_threadpool(lambda: (records.aliases(db, m.id), db.commit())[0])
    if aliases.get("champion") not in (None, v.version):
        champion_v = await run_in_threadpool(lambda: (records.version(db, m, aliases["champion"]), db.commit())[0])
    evaluated: dict[str, Any] = {}
    try:
        if cfg.evaluation and "challenger" in folders:
            data, snap = await run_in_threadpool(app.state.datasets.read, slug, cfg.evaluation.dataset,
                                                 cfg.evaluation.snapshot_id)
            if champion_v is not None and cfg.challenger is not None:
                folders["champion"] = await registration.fetch_verified(app, db, slug, project_id, m, champion_v)
            try:
                evaluated = await gate_rules.evaluate(folders, data, cfg.evaluation.target)
            except RuntimeError as e:
                results.append({"gate": "evaluation", "passed": False, "message": str(e)})
            evidence["evaluation"] = {"dataset": cfg.evaluation.dataset, "snapshot_id": snap.snapshot_id,
                                      "target": cfg.evaluation.target, **evaluated}
    finally:
        for f in folders.values():
            shutil.rmtree(f, ignore_errors=True)
    logged = json.loads(v.metrics)
    why = (evaluated.get("unavailable") or {}).get("challenger")  # e.g. no AUC from a model with labels only
    results += gate_rules.check_thresholds(cfg, evaluated.get("challenger", {}), logged, why)
    if cfg.challenger is not None and cfg.evaluation is not None and "challenger" in evaluated:
        results.append(gate_rules.check_challenger(
            cfg.challenger, evaluated["challenger"], evaluated.get("champion") if champion_v else None,
            champion_v.version if champion_v else None, why))
    return results, evidence


async def promote(app, db: DB, who: Identity, slug: str, name: str, version: int,  # noqa: ANN001
                  alias: str) -> DecisionOut:
    """Ask, as `who`, for `alias` to move to a version: the gates decide (and, for champion, maybe a lead)."""
    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.write_models, target=f"{name}/{version}@{alias}")
        m = records.model(db, g.project.id, name)
        v = records.version(db, m, version)
        db.commit()
        return g.project.id, m, v

    project_id, m, v = await run_in_threadpool(load)
    results, evidence = await evidence_for(app, db, slug, project_id, m, v, alias)
    cfg = gate_rules.GateConfig.model_validate_json(m.gates or "{}")
    passed = all(r["passed"] for r in results)
    status = "failed" if not passed else "pending" if cfg.require_approval and alias == "champion" else "passed"
    evidence["results"] = results

    def record() -> GateDecision:
        d = GateDecision(version_id=v.id, alias=alias, status=status, evidence=json.dumps(evidence),
                         requested_by=who.user, decided_by=None if status == "pending" else "gates",
                         decided_at=None if status == "pending" else utcnow())
        db.add(d)
        db.flush()
        audit.append(db, actor=who.user, action="model.gate", decision="allow" if passed else "deny", project=slug,
                     target=f"{name}/{version}@{alias}", detail={"decision": d.id, "status": status,
                                                                      "results": results})
        db.commit()
        return d

    d = await run_in_threadpool(record)
    if status == "passed":
        await move_alias(app, db, who.user, slug, m, v, alias, d.id)
    if passed and not await run_in_threadpool(_has_profile, db, v.id):
        _profile_later(app, slug, v.id, evidence.get("inputs"),
                       cfg.evaluation.target if cfg.evaluation else None,
                       cfg.evaluation.dataset if cfg.evaluation else None)
    out = await run_in_threadpool(lambda: (records.decision_out(db, db.get(GateDecision, d.id)), db.commit())[0])
    return out


def _has_profile(db: DB, version_id: int) -> bool:
    from ..orm import ReferenceProfile

    found = db.execute(select(ReferenceProfile.id).where(ReferenceProfile.version_id == version_id)).first()
    db.commit()
    return found is not None


def _decision(db: DB, project_id: int, decision_id: int) -> GateDecision:
    d = db.execute(select(GateDecision).join(ModelVersion, GateDecision.version_id == ModelVersion.id)
                   .join(RegisteredModel, ModelVersion.model_id == RegisteredModel.id)
                   .where(GateDecision.id == decision_id, RegisteredModel.project_id == project_id)
                   ).scalar_one_or_none()
    if d is None:
        raise NotFound(f"Decision {decision_id} not found")
    return d


async def decide(app, db: DB, who: Identity, slug: str, decision_id: int, reason: str,  # noqa: ANN001
                 verdict: str) -> DecisionOut:
    """A lead approves (the alias moves) or rejects (it stays) a pending decision."""
    def decide() -> tuple[GateDecision, RegisteredModel, ModelVersion]:
        g = require(db, who, slug, Action.approve_models, target=f"decision:{decision_id}")
        d = _decision(db, g.project.id, decision_id)
        if d.status != "pending":
            db.commit()
            raise Conflict(f"Decision {decision_id} is not pending (it is {d.status})")
        d.status, d.decided_by, d.reason, d.decided_at = verdict, who.user, reason, utcnow()
        audit.append(db, actor=who.user, action=f"model.{'approve' if verdict == 'approved' else 'reject'}",
                     decision="allow", project=slug, target=f"{d.version.model.name}/{d.version.version}@{d.alias}",
                     detail={"decision": d.id, "reason": reason})
        db.commit()
        return d, d.version.model, d.version

    d, m, v = await run_in_threadpool(decide)
    if verdict == "approved":
        await move_alias(app, db, who.user, slug, m, v, d.alias, d.id)
    return await run_in_threadpool(lambda: (records.decision_out(db, db.get(GateDecision, decision_id)), db.commit())[0])


def list_decisions(db: DB, who: Identity, slug: str, limit: int, offset: int, status: str | None = None,
                   model: str | None = None) -> DecisionPage:
    """Gate decisions, newest first (status=pending: what waits for a lead)."""
    g = require(db, who, slug, Action.read_models)
    q = (select(GateDecision).join(ModelVersion, GateDecision.version_id == ModelVersion.id)
         .join(RegisteredModel, ModelVersion.model_id == RegisteredModel.id)
         .where(RegisteredModel.project_id == g.project.id))
    if status:
        q = q.where(GateDecision.status == status)
    if model:
        q = q.where(RegisteredModel.name == model)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(GateDecision.id.desc()).limit(limit).offset(offset)).scalars().all()
    items = [records.decision_out(db, d) for d in rows]
    db.commit()
    return DecisionPage(items=items, total=total)
