"""Models API: register (signed, with lineage), verify, gates, aliases, approvals, lineage, diff."""

from __future__ import annotations

import difflib
import json
import shutil
import tempfile
from datetime import timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from jupyter_mlp.signing import canonical

from .. import audit
from ..access import Action, require
from ..deps import DB, Caller, Id, Int64, Paging
from ..errors import Conflict, Invalid, NotFound
from ..experiments.projects import experiment_ids
from ..identity import Identity
from ..orm import (
    GateDecision,
    ModelAlias,
    ModelVersion,
    PipelineRunRecord,
    PipelineVersion,
    RegisteredModel,
    utcnow,
)
from . import gates as gate_rules
from . import service
from .service import MODEL_NAME, Refused, Unavailable, app_signer

router = APIRouter(tags=["models"])
ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME.pattern)]


# --- schemas ---------------------------------------------------------------------------------------------------

class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ModelName = Field(description="Registered model name in the project (lowercase, digits, - and _)")
    run_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(description="A run of the project")
    artifact_path: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        default="model", description="The logged model's name, or an artifact folder of the run with an MLmodel")


class VersionOut(BaseModel):
    name: str
    version: int
    run_id: str | None
    source: str
    pipeline_run_id: str | None
    aliases: list[str]
    lineage: dict[str, Any]
    metrics: dict[str, float]
    params: dict[str, str]
    signed: bool
    key_id: str | None
    files: int
    created_by: str
    created_at: str


class VersionPage(BaseModel):
    items: list[VersionOut]
    total: int


class ModelSummary(BaseModel):
    name: str
    mlflow_name: str
    latest_version: int | None
    versions: int
    aliases: dict[str, int]
    pending_approvals: int
    created_at: str


class ModelPage(BaseModel):
    items: list[ModelSummary]
    total: int


class ModelDetail(ModelSummary):
    gates: gate_rules.GateConfig


class VerifyOut(BaseModel):
    ok: bool
    message: str
    files: int
    key_id: str | None


class AliasRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: Literal["staging", "champion"]


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class DecisionOut(BaseModel):
    id: int
    model: str
    version: int
    alias: str
    status: Literal["passed", "failed", "pending", "approved", "rejected"]
    evidence: dict[str, Any]
    requested_by: str
    decided_by: str | None
    reason: str | None
    created_at: str
    decided_at: str | None
    alias_moved: bool = Field(description="Whether the alias points at this version because of this decision")


class DecisionPage(BaseModel):
    items: list[DecisionOut]
    total: int


class LineageNode(BaseModel):
    id: str
    kind: Literal["dataset", "pipeline_version", "pipeline_run", "mlflow_run", "model_version", "deployment"]
    label: str
    detail: dict[str, Any] = Field(default_factory=dict)


class LineageEdge(BaseModel):
    source: str
    target: str


class LineageGraph(BaseModel):
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class DiffRow(BaseModel):
    key: str
    a: Any = None
    b: Any = None
    changed: bool


class VersionDiff(BaseModel):
    a: int
    b: int
    params: list[DiffRow]
    metrics: list[DiffRow]
    data: list[DiffRow]
    lineage: list[DiffRow]
    code: str = Field(description="Unified diff of the stage notebooks' code (or a note when unavailable)")


# --- helpers -----------------------------------------------------------------------------------------------------

def _iso(dt) -> str | None:  # noqa: ANN001
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


def _model(db: DB, project_id: int, name: str) -> RegisteredModel:
    m = db.execute(select(RegisteredModel).where(RegisteredModel.project_id == project_id,
                                                 RegisteredModel.name == name)).scalar_one_or_none()
    if m is None:
        raise NotFound(f"Model '{name}' not found")
    return m


def _version(db: DB, m: RegisteredModel, version: int) -> ModelVersion:
    v = db.execute(select(ModelVersion).where(ModelVersion.model_id == m.id, ModelVersion.version == version)
                   ).scalar_one_or_none()
    if v is None:
        raise NotFound(f"Version {version} of '{m.name}' not found")
    return v


def _aliases(db: DB, model_id: int) -> dict[str, int]:
    rows = db.execute(select(ModelAlias.alias, ModelVersion.version)
                      .join(ModelVersion, ModelAlias.version_id == ModelVersion.id)
                      .where(ModelAlias.model_id == model_id)).all()
    return {a: v for a, v in rows}


def _version_out(db: DB, m: RegisteredModel, v: ModelVersion, aliases: dict[str, int] | None = None) -> VersionOut:
    aliases = _aliases(db, m.id) if aliases is None else aliases
    st = json.loads(v.statement) if v.statement else {}
    return VersionOut(name=m.name, version=v.version, run_id=v.mlflow_run_id, source=v.source,
                      pipeline_run_id=v.pipeline_run_id, aliases=sorted(a for a, n in aliases.items() if n == v.version),
                      lineage=json.loads(v.lineage), metrics=json.loads(v.metrics), params=json.loads(v.params),
                      signed=bool(v.signature), key_id=v.key_id, files=len(st.get("files", [])),
                      created_by=v.created_by, created_at=_iso(v.created_at))


def _summary(db: DB, m: RegisteredModel) -> dict[str, Any]:
    count, latest = db.execute(select(func.count(), func.max(ModelVersion.version))
                               .where(ModelVersion.model_id == m.id)).one()
    pending = db.execute(select(func.count()).select_from(GateDecision)
                         .join(ModelVersion, GateDecision.version_id == ModelVersion.id)
                         .where(ModelVersion.model_id == m.id, GateDecision.status == "pending")).scalar_one()
    return {"name": m.name, "mlflow_name": m.mlflow_name, "latest_version": latest, "versions": count,
            "aliases": _aliases(db, m.id), "pending_approvals": pending, "created_at": _iso(m.created_at)}


def _decision_out(db: DB, d: GateDecision) -> DecisionOut:
    v = d.version
    moved = d.status in ("passed", "approved") and _aliases(db, v.model_id).get(d.alias) == v.version
    return DecisionOut(id=d.id, model=v.model.name, version=v.version, alias=d.alias, status=d.status,
                       evidence=json.loads(d.evidence), requested_by=d.requested_by, decided_by=d.decided_by,
                       reason=d.reason, created_at=_iso(d.created_at), decided_at=_iso(d.decided_at),
                       alias_moved=moved)


async def _exp(request: Request):  # noqa: ANN202
    exp = request.app.state.experiments
    try:
        await exp.ready()
    except RuntimeError as e:
        raise Unavailable(f"MLflow is not available: {e}") from e
    return exp


def signer(request: Request):  # noqa: ANN201
    return app_signer(request.app)


# --- registration ------------------------------------------------------------------------------------------------

async def register_version(request: Request, db: DB, who: Identity, slug: str, name: str, run_id: str,
                           artifact_path: str) -> tuple[RegisteredModel, ModelVersion]:
    """Resolve, fetch and hash, sign, then create the MLflow version and our record; undo MLflow on failure."""
    app = request.app
    exp = await _exp(request)

    def grant():  # noqa: ANN202
        g = require(db, who, slug, Action.write_models, target=f"{name}:{run_id}")
        ids = experiment_ids(db, g.project.id)
        db.commit()
        return g.project.id, ids

    project_id, ids = await run_in_threadpool(grant)
    src = await service.resolve_source(exp, ids, run_id, artifact_path)
    run = (await exp.mlflow.client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})).json()["run"]
    pipeline = await run_in_threadpool(_pipeline_of_run, db, slug, await _ancestors(exp, run))
    if pipeline is not None:
        # What every stage of the pipeline run read: the stage that logs the model often gets its data from an
        # earlier stage, so its own run records no read (drift references are built from these).
        siblings = await exp.mlflow.client.post("/api/2.0/mlflow/runs/search", json={
            "experiment_ids": [run["info"]["experiment_id"]],
            "filter": f"tags.mlflow.parentRunId = '{pipeline['mlflow_run']}'",
            "max_results": 100})
        pipeline["stage_reads"] = [t["value"] for r in (siblings.json().get("runs", []) if siblings.status_code == 200
                                                        else []) for t in r["data"].get("tags", [])
                                   if t["key"] == "mlp.datasets"]
    folder = Path(tempfile.mkdtemp(prefix="mlp-register-"))
    try:  # hashed as they arrive; never loaded
        files = await service.download_tree(exp, src.base, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not any(f["path"] == "MLmodel" for f in files):
        raise Invalid(f"'{artifact_path}' is not an MLflow model (no MLmodel file)", detail=[{"field": "artifact_path"}])
    lin = service.lineage(run, pipeline, app.state.settings.home)
    mlflow_name = service.mlflow_model_name(app.state.settings, slug, name)

    # MLflow: the registered model (once), then the version.
    created = await exp.mlflow.client.post("/api/2.0/mlflow/registered-models/create", json={"name": mlflow_name})
    if created.status_code != 200 and "RESOURCE_ALREADY_EXISTS" not in created.text:
        raise Unavailable(f"MLflow refused the registered model: {created.text[:300]}")
    body = {"name": mlflow_name, "source": src.uri, "run_id": run_id,
            "tags": [{"key": "mlp.project", "value": slug}, {"key": "mlp.lineage.data_sha256",
                                                              "value": lin["data_sha256"]}]}
    if src.model_id:
        body["model_id"] = src.model_id
    mv = await exp.mlflow.client.post("/api/2.0/mlflow/model-versions/create", json=body)
    if mv.status_code != 200:
        raise Unavailable(f"MLflow refused the model version: {mv.text[:300]}")
    number = int(mv.json()["model_version"]["version"])
    try:
        signed = service.sign(signer(request), service.statement(slug, name, number, files, lin, src.uri))
        metrics = {m["key"]: m["value"] for m in run["data"].get("metrics", [])}
        params = {p["key"]: p["value"] for p in run["data"].get("params", [])}

        def store() -> tuple[RegisteredModel, ModelVersion]:
            m = db.execute(select(RegisteredModel).where(RegisteredModel.project_id == project_id,
                                                         RegisteredModel.name == name)).scalar_one_or_none()
            if m is None:
                m = RegisteredModel(project_id=project_id, name=name, mlflow_name=mlflow_name, created_by=who.user)
                db.add(m)
                db.flush()
            v = ModelVersion(model_id=m.id, version=number, mlflow_run_id=run_id, source=src.uri,
                             pipeline_run_id=(pipeline or {}).get("run_id"), lineage=json.dumps(lin),
                             statement=canonical(signed.statement).decode(), signature=signed.signature,
                             key_id=signed.key_id, metrics=json.dumps(metrics), params=json.dumps(params),
                             created_by=who.user)
            db.add(v)
            audit.append(db, actor=who.user, action="model.register", decision="allow", project=slug,
                         target=f"{name}/{number}", detail={"run": run_id, "source": src.uri, "files": len(files),
                                                            "key_id": signed.key_id,
                                                            "data_sha256": lin["data_sha256"]})
            db.commit()
            return m, v

        return await run_in_threadpool(store)
    except BaseException:
        await exp.mlflow.client.request("DELETE", "/api/2.0/mlflow/model-versions/delete",
                                        json={"name": mlflow_name, "version": str(number)})
        raise


NESTING = 5  # how far below a pipeline run a stage's runs may nest (stage run, its nested runs, theirs...)


async def _ancestors(exp, run: dict[str, Any]) -> list[str]:  # noqa: ANN001
    """The run's parent, grandparent... (nearest first, at most NESTING), by their `mlflow.parentRunId` tags."""
    out: list[str] = []
    tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    while (parent := tags.get("mlflow.parentRunId")) and parent not in out and len(out) < NESTING:
        out.append(parent)
        r = await exp.mlflow.client.get("/api/2.0/mlflow/runs/get", params={"run_id": parent})
        if r.status_code != 200:
            break
        tags = {t["key"]: t["value"] for t in r.json()["run"]["data"].get("tags", [])}
    return out


def _pipeline_of_run(db: DB, slug: str, ancestors: list[str]) -> dict[str, Any] | None:
    """The pipeline run a stage's MLflow run (or a run nested in one) belongs to, by its ancestor runs, if any."""
    if not ancestors:
        return None
    rows = db.execute(select(PipelineRunRecord, PipelineVersion.digest)
                      .join(PipelineVersion, PipelineRunRecord.version_id == PipelineVersion.id)
                      .where(PipelineRunRecord.mlflow_run_id.in_(ancestors))).all()
    db.commit()
    if not rows:
        return None
    rec, digest = min(rows, key=lambda row: ancestors.index(row[0].mlflow_run_id))
    return {"run_id": rec.id, "version": digest, "project": slug, "snapshots": json.loads(rec.snapshots or "{}"),
            "mlflow_run": rec.mlflow_run_id}


@router.post("/projects/{slug}/models", response_model=VersionOut, status_code=201,
             summary="Register a run's model: hashed, signed, with lineage")
async def register(slug: str, body: RegisterRequest, request: Request, db: DB, who: Caller) -> VersionOut:
    m, v = await register_version(request, db, who, slug, body.name, body.run_id, body.artifact_path)
    out = await run_in_threadpool(_version_out, db, m, v)
    db.commit()
    return out


async def register_pipeline_models(request: Request, db: DB, slug: str, rec: PipelineRunRecord,
                                   pipeline_name: str) -> list[str]:
    """After a pipeline run succeeded: register every model its stages logged, as the run's creator.

    A stage's models are those of its run and of the runs nested under it (`start_run(nested=True)`, a run
    started after the stage's run ended), and those `log_model` made outside any run, which name the stage's
    run in the `mlp.pipeline.stage_run` tag (jupyter_mlp.lineage)."""
    exp = request.app.state.experiments
    experiment = exp.experiment_of_run(rec.mlflow_run_id)

    async def search(path: str, flt: str, key: str) -> list[dict[str, Any]]:
        r = await exp.mlflow.client.post(f"/api/2.0/mlflow/{path}/search", json={
            "experiment_ids": [experiment], "filter": flt, "max_results": 1000 if key == "runs" else 100})
        return r.json().get(key, []) if r.status_code == 200 else []

    found: list[tuple[str, str, str]] = []  # (run the model belongs to, logged name, its files' URI), as they ran
    seen: set[str] = set()
    level = [rec.mlflow_run_id]
    for depth in range(NESTING):
        below = []
        for parent in level:
            for run in await search("runs", f"tags.mlflow.parentRunId = '{parent}'", "runs"):
                rid = run["info"]["run_id"]
                below.append(rid)
                unlinked = [] if depth else [
                    m for m in await search("logged-models", f"tags.`mlp.pipeline.stage_run` = '{rid}'", "models")
                    if not m["info"].get("source_run_id")]
                for m in await search("logged-models", f"source_run_id = '{rid}'", "models") + unlinked:
                    if m["info"]["model_id"] not in seen:
                        seen.add(m["info"]["model_id"])
                        base = (m["info"].get("artifact_uri") or "").removeprefix("mlflow-artifacts:/").strip("/")
                        found.append((rid, m["info"].get("name", "model"), f"mlflow-artifacts:/{base}"))
        level = below

    def registered() -> set[tuple[str, str]]:
        # (run, source) of the versions already registered from this pipeline run: a close retried after it
        # failed half-way (or a poll racing the watcher) registers each model once
        rows = db.execute(select(ModelVersion.mlflow_run_id, ModelVersion.source)
                          .where(ModelVersion.pipeline_run_id == rec.id)).all()
        db.commit()
        return {(r, s) for r, s in rows}

    already = await run_in_threadpool(registered)
    done = []
    for rid, logged, uri in found:
        if (rid, uri) in already:
            continue
        name = pipeline_name if logged == "model" or not MODEL_NAME.match(logged) else logged
        try:
            await register_version(request, db, Identity(user=rec.created_by, is_admin=False), slug,
                                   name[:63], rid, logged)
            done.append(f"{name}:{rid}")
        except Exception as e:  # noqa: BLE001 - one model failing must not hide the others; it is logged
            import logging

            logging.getLogger(__name__).warning("auto-registration of %s from run %s failed: %s", logged, rid, e)
    return done


# --- reading -------------------------------------------------------------------------------------------------------

@router.get("/projects/{slug}/models", response_model=ModelPage, summary="The project's registered models")
def list_models(slug: str, db: DB, who: Caller, page: Paging) -> ModelPage:
    g = require(db, who, slug, Action.read_models)
    q = select(RegisteredModel).where(RegisteredModel.project_id == g.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(RegisteredModel.name).limit(page.limit).offset(page.offset)).scalars().all()
    items = [ModelSummary(**_summary(db, m)) for m in rows]
    db.commit()
    return ModelPage(items=items, total=total)


@router.get("/projects/{slug}/models/{name}", response_model=ModelDetail, summary="A model, its aliases and gates")
def get_model(slug: str, name: str, db: DB, who: Caller) -> ModelDetail:
    g = require(db, who, slug, Action.read_models, target=name)
    m = _model(db, g.project.id, name)
    out = ModelDetail(**_summary(db, m), gates=gate_rules.GateConfig.model_validate_json(m.gates or "{}"))
    db.commit()
    return out


@router.get("/projects/{slug}/models/{name}/versions", response_model=VersionPage,
            summary="A model's versions, newest first")
def list_versions(slug: str, name: str, db: DB, who: Caller, page: Paging) -> VersionPage:
    g = require(db, who, slug, Action.read_models, target=name)
    m = _model(db, g.project.id, name)
    q = select(ModelVersion).where(ModelVersion.model_id == m.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    aliases = _aliases(db, m.id)
    rows = db.execute(q.order_by(ModelVersion.version.desc()).limit(page.limit).offset(page.offset)).scalars().all()
    items = [_version_out(db, m, v, aliases) for v in rows]
    db.commit()
    return VersionPage(items=items, total=total)


@router.get("/projects/{slug}/models/{name}/versions/{version}", response_model=VersionOut,
            summary="One version with its lineage digests")
def get_version(slug: str, name: str, version: Id, db: DB, who: Caller) -> VersionOut:
    g = require(db, who, slug, Action.read_models, target=f"{name}/{version}")
    m = _model(db, g.project.id, name)
    out = _version_out(db, m, _version(db, m, version))
    db.commit()
    return out


# --- the verified loader -------------------------------------------------------------------------------------------

async def fetch_verified(request: Request, db: DB, slug: str, project_id: int, m: RegisteredModel,
                         v: ModelVersion, dest=None):  # noqa: ANN001, ANN201
    """The folder of a version's files, verified against its signed manifest; Refused otherwise."""
    exp = await _exp(request)
    ids = await run_in_threadpool(lambda: (experiment_ids(db, project_id), db.commit())[0])
    return await service.fetch_verified(exp, signer(request), slug=slug, name=m.name, version=v.version,
                                        source=v.source, statement_json=v.statement, signature=v.signature,
                                        experiment_ids=ids, dest=dest)


@router.post("/projects/{slug}/models/{name}/versions/{version}/verify", response_model=VerifyOut,
             summary="Re-hash every file and check the signature; says what is wrong")
async def verify(slug: str, name: str, version: Id, request: Request, db: DB, who: Caller) -> VerifyOut:
    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.read_models, target=f"{name}/{version}")
        m = _model(db, g.project.id, name)
        v = _version(db, m, version)
        db.commit()
        return g.project.id, m, v

    project_id, m, v = await run_in_threadpool(load)
    files = len(json.loads(v.statement).get("files", [])) if v.statement else 0
    try:
        folder = await fetch_verified(request, db, slug, project_id, m, v)
    except Refused as e:
        return VerifyOut(ok=False, message=e.message, files=files, key_id=v.key_id)
    shutil.rmtree(folder, ignore_errors=True)
    return VerifyOut(ok=True, message=f"{files} files match the manifest signed by key {v.key_id}", files=files,
                     key_id=v.key_id)


# --- gates, aliases, approvals -------------------------------------------------------------------------------------

@router.put("/projects/{slug}/models/{name}/gates", response_model=gate_rules.GateConfig,
            summary="Set the model's validation gates (leads)")
def set_gates(slug: str, name: str, body: dict[str, Any], db: DB, who: Caller) -> gate_rules.GateConfig:
    g = require(db, who, slug, Action.approve_models, target=f"{name}:gates")
    m = _model(db, g.project.id, name)
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
    audit.append(db, actor=who.user, action="model.gates.set", decision="allow", project=slug, target=name,
                 detail=cfg.model_dump())
    db.commit()
    return cfg


async def _move_alias(request: Request, db: DB, who: str, slug: str, m: RegisteredModel, v: ModelVersion,
                      alias: str, decision_id: int) -> None:
    exp = await _exp(request)
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


async def _evidence(request: Request, db: DB, slug: str, project_id: int, m: RegisteredModel, v: ModelVersion,
                    alias: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    cfg = gate_rules.GateConfig.model_validate_json(m.gates or "{}")
    results: list[dict[str, Any]] = []
    evidence: dict[str, Any] = {"gates": cfg.model_dump(), "verification": None, "evaluation": None}
    folders = {}
    try:
        folders["challenger"] = await fetch_verified(request, db, slug, project_id, m, v)
        evidence["verification"] = {"ok": True, "key_id": v.key_id}
        evidence["inputs"] = _input_names(folders["challenger"])
        results.append({"gate": "signature", "passed": True, "message": f"files match the manifest (key {v.key_id})"})
    except Refused as e:
        evidence["verification"] = {"ok": False, "message": e.message}
        results.append({"gate": "signature", "passed": False, "message": e.message})
    champion_v = None
    aliases = await run_in_threadpool(lambda: (_aliases(db, m.id), db.commit())[0])
    if aliases.get("champion") not in (None, v.version):
        champion_v = await run_in_threadpool(lambda: (_version(db, m, aliases["champion"]), db.commit())[0])
    evaluated: dict[str, Any] = {}
    try:
        if cfg.evaluation and "challenger" in folders:
            data, snap = await run_in_threadpool(request.app.state.datasets.read, slug, cfg.evaluation.dataset,
                                                 cfg.evaluation.snapshot_id)
            if champion_v is not None and cfg.challenger is not None:
                folders["champion"] = await fetch_verified(request, db, slug, project_id, m, champion_v)
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


@router.post("/projects/{slug}/models/{name}/versions/{version}/promote", response_model=DecisionOut,
             status_code=201, summary="Ask for an alias to move to a version: the gates decide (and maybe a lead)")
async def promote(slug: str, name: str, version: Id, body: AliasRequest, request: Request, db: DB,
                  who: Caller) -> DecisionOut:
    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.write_models, target=f"{name}/{version}@{body.alias}")
        m = _model(db, g.project.id, name)
        v = _version(db, m, version)
        db.commit()
        return g.project.id, m, v

    project_id, m, v = await run_in_threadpool(load)
    results, evidence = await _evidence(request, db, slug, project_id, m, v, body.alias)
    cfg = gate_rules.GateConfig.model_validate_json(m.gates or "{}")
    passed = all(r["passed"] for r in results)
    status = "failed" if not passed else "pending" if cfg.require_approval and body.alias == "champion" else "passed"
    evidence["results"] = results

    def record() -> GateDecision:
        d = GateDecision(version_id=v.id, alias=body.alias, status=status, evidence=json.dumps(evidence),
                         requested_by=who.user, decided_by=None if status == "pending" else "gates",
                         decided_at=None if status == "pending" else utcnow())
        db.add(d)
        db.flush()
        audit.append(db, actor=who.user, action="model.gate", decision="allow" if passed else "deny", project=slug,
                     target=f"{name}/{version}@{body.alias}", detail={"decision": d.id, "status": status,
                                                                      "results": results})
        db.commit()
        return d

    d = await run_in_threadpool(record)
    if status == "passed":
        await _move_alias(request, db, who.user, slug, m, v, body.alias, d.id)
    if passed and not await run_in_threadpool(_has_profile, db, v.id):
        _profile_later(request.app, slug, v.id, evidence.get("inputs"),
                       cfg.evaluation.target if cfg.evaluation else None,
                       cfg.evaluation.dataset if cfg.evaluation else None)
    out = await run_in_threadpool(lambda: (_decision_out(db, db.get(GateDecision, d.id)), db.commit())[0])
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


async def _decide(slug: str, decision_id: int, body: DecisionRequest, request: Request, db: DB, who: Caller,
                  verdict: str) -> DecisionOut:
    def decide() -> tuple[GateDecision, RegisteredModel, ModelVersion]:
        g = require(db, who, slug, Action.approve_models, target=f"decision:{decision_id}")
        d = _decision(db, g.project.id, decision_id)
        if d.status != "pending":
            db.commit()
            raise Conflict(f"Decision {decision_id} is not pending (it is {d.status})")
        d.status, d.decided_by, d.reason, d.decided_at = verdict, who.user, body.reason, utcnow()
        audit.append(db, actor=who.user, action=f"model.{'approve' if verdict == 'approved' else 'reject'}",
                     decision="allow", project=slug, target=f"{d.version.model.name}/{d.version.version}@{d.alias}",
                     detail={"decision": d.id, "reason": body.reason})
        db.commit()
        return d, d.version.model, d.version

    d, m, v = await run_in_threadpool(decide)
    if verdict == "approved":
        await _move_alias(request, db, who.user, slug, m, v, d.alias, d.id)
    return await run_in_threadpool(lambda: (_decision_out(db, db.get(GateDecision, decision_id)), db.commit())[0])


@router.post("/projects/{slug}/gate-decisions/{decision_id}/approve", response_model=DecisionOut,
             summary="Approve a pending decision (leads); the alias moves")
async def approve(slug: str, decision_id: Id, body: DecisionRequest, request: Request, db: DB,
                  who: Caller) -> DecisionOut:
    return await _decide(slug, decision_id, body, request, db, who, "approved")


@router.post("/projects/{slug}/gate-decisions/{decision_id}/reject", response_model=DecisionOut,
             summary="Reject a pending decision (leads); the alias stays")
async def reject(slug: str, decision_id: Id, body: DecisionRequest, request: Request, db: DB,
                 who: Caller) -> DecisionOut:
    return await _decide(slug, decision_id, body, request, db, who, "rejected")


@router.get("/projects/{slug}/gate-decisions", response_model=DecisionPage,
            summary="Gate decisions, newest first (status=pending: what waits for a lead)")
def list_decisions(slug: str, db: DB, who: Caller, page: Paging,
                   status: Annotated[Literal["passed", "failed", "pending", "approved", "rejected"] | None,
                                     Query()] = None,
                   model: Annotated[str | None, Query(max_length=64)] = None) -> DecisionPage:
    g = require(db, who, slug, Action.read_models)
    q = (select(GateDecision).join(ModelVersion, GateDecision.version_id == ModelVersion.id)
         .join(RegisteredModel, ModelVersion.model_id == RegisteredModel.id)
         .where(RegisteredModel.project_id == g.project.id))
    if status:
        q = q.where(GateDecision.status == status)
    if model:
        q = q.where(RegisteredModel.name == model)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(GateDecision.id.desc()).limit(page.limit).offset(page.offset)).scalars().all()
    items = [_decision_out(db, d) for d in rows]
    db.commit()
    return DecisionPage(items=items, total=total)


# --- lineage and diff ------------------------------------------------------------------------------------------------

def _graph_for_versions(db: DB, slug: str, versions: list[tuple[RegisteredModel, ModelVersion]]) -> LineageGraph:
    nodes: dict[str, LineageNode] = {}
    edges: set[tuple[str, str]] = set()
    for m, v in versions:
        lin = json.loads(v.lineage)
        mv = f"model:{m.name}/{v.version}"
        nodes[mv] = LineageNode(id=mv, kind="model_version", label=f"{m.name} v{v.version}",
                                detail={"signed": bool(v.signature), "aliases": sorted(
                                    a for a, n in _aliases(db, m.id).items() if n == v.version)})
        run = f"mlflow:{lin.get('mlflow_run')}"
        nodes[run] = LineageNode(id=run, kind="mlflow_run", label=f"run {str(lin.get('mlflow_run'))[:8]}",
                                 detail={"run_id": lin.get("mlflow_run")})
        edges.add((run, mv))
        upstream = run
        if lin.get("pipeline_run"):
            pr = f"prun:{lin['pipeline_run']}"
            nodes[pr] = LineageNode(id=pr, kind="pipeline_run", label=f"pipeline run {lin['pipeline_run'][:8]}",
                                    detail={"run_id": lin["pipeline_run"]})
            edges.add((pr, run))
            upstream = pr
        if lin.get("pipeline_version"):
            pv = f"pver:{lin['pipeline_version']}"
            nodes[pv] = LineageNode(id=pv, kind="pipeline_version", label=f"pipeline {lin['pipeline_version'][:12]}",
                                    detail={"version": lin["pipeline_version"]})
            edges.add((pv, upstream))
        data = lin.get("data", {})
        for ds, snap in (data.get("pinned") or {}).items():
            d = f"data:{ds}@{snap}"
            nodes[d] = LineageNode(id=d, kind="dataset", label=f"{ds} @ {snap}", detail={"dataset": ds,
                                                                                        "snapshot_id": snap})
            edges.add((d, upstream))
        for r in data.get("reads") or []:
            if not r.get("name") or (data.get("pinned") or {}).get(r["name"]) == r.get("snapshot_id"):
                continue
            d = f"data:{r['name']}@{r.get('snapshot_id') or r.get('sha256', '')[:12]}"
            nodes[d] = LineageNode(id=d, kind="dataset", label=d[5:], detail=r)
            edges.add((d, run))
        # Downstream: the deployments serving this version now, and those that served it before.
        from ..orm import Deployment, DeploymentEvent

        serving = {d.name: d for d in db.execute(select(Deployment).where(Deployment.version_id == v.id)).scalars()}
        served = db.execute(select(Deployment.name, Deployment.status).join(
            DeploymentEvent, DeploymentEvent.deployment_id == Deployment.id).where(
            DeploymentEvent.version_id == v.id).distinct()).all()
        for name, status in served:
            dn = f"deploy:{name}"
            now = name in serving
            nodes[dn] = LineageNode(id=dn, kind="deployment", label=f"deployment {name}",
                                    detail={"deployment": name, "status": status, "serving": now})
            edges.add((mv, dn))
    return LineageGraph(nodes=list(nodes.values()), edges=[LineageEdge(source=a, target=b) for a, b in sorted(edges)])


@router.get("/projects/{slug}/models/{name}/versions/{version}/lineage", response_model=LineageGraph,
            summary="Dataset snapshots → pipeline version → run → this model version → deployments")
def version_lineage(slug: str, name: str, version: Id, db: DB, who: Caller) -> LineageGraph:
    g = require(db, who, slug, Action.read_models, target=f"{name}/{version}")
    m = _model(db, g.project.id, name)
    out = _graph_for_versions(db, slug, [(m, _version(db, m, version))])
    db.commit()
    return out


@router.get("/projects/{slug}/datasets/{dataset}/lineage", response_model=LineageGraph,
            summary="What was made from a dataset (optionally one snapshot): runs and model versions")
def dataset_lineage(slug: str, dataset: str, db: DB, who: Caller,
                    snapshot_id: Annotated[Int64 | None, Query()] = None) -> LineageGraph:
    g = require(db, who, slug, Action.read_models, target=f"dataset:{dataset}")
    rows = db.execute(select(RegisteredModel, ModelVersion).join(ModelVersion, ModelVersion.model_id ==
                                                                 RegisteredModel.id)
                      .where(RegisteredModel.project_id == g.project.id)).all()
    picked = []
    for m, v in rows:
        data = json.loads(v.lineage).get("data", {})
        snaps = {str(s) for k, s in (data.get("pinned") or {}).items() if k == dataset}
        snaps |= {str(r.get("snapshot_id")) for r in data.get("reads") or [] if r.get("name") == dataset}
        if snaps and (snapshot_id is None or str(snapshot_id) in snaps):
            picked.append((m, v))
    out = _graph_for_versions(db, g.project.slug, picked)
    db.commit()
    return out


def _rows(a: dict[str, Any], b: dict[str, Any]) -> list[DiffRow]:
    return [DiffRow(key=k, a=a.get(k), b=b.get(k), changed=a.get(k) != b.get(k)) for k in sorted(set(a) | set(b))]


def _code(home, slug: str, lin: dict[str, Any]) -> dict[str, str]:  # noqa: ANN001
    """The code of the stage notebooks behind a version, cell by cell, as text."""
    pv = lin.get("pipeline_version")
    if not pv:
        return {}
    out = {}
    for nb in sorted((home / "pipelines" / slug / pv / "stages").glob("*.ipynb")):
        cells = json.loads(nb.read_text()).get("cells", [])
        out[nb.name] = "\n".join(
            f"# cell {c.get('metadata', {}).get('mlp_source_cell', '')}\n"
            + ("".join(c["source"]) if isinstance(c.get("source"), list) else c.get("source", ""))
            for c in cells if c.get("cell_type") == "code")
    return out


@router.get("/projects/{slug}/models/{name}/diff", response_model=VersionDiff,
            summary="Two versions side by side: parameters, metrics, data snapshots, lineage, code")
def diff(slug: str, name: str, request: Request, db: DB, who: Caller, a: Annotated[Id, Query()],
         b: Annotated[Id, Query()]) -> VersionDiff:
    g = require(db, who, slug, Action.read_models, target=f"{name}/{a}..{b}")
    m = _model(db, g.project.id, name)
    va, vb = _version(db, m, a), _version(db, m, b)
    la, lb = json.loads(va.lineage), json.loads(vb.lineage)
    db.commit()
    home = request.app.state.settings.home
    ca, cb = _code(home, slug, la), _code(home, slug, lb)
    if ca or cb:
        text = "".join("".join(difflib.unified_diff(ca.get(f, "").splitlines(True), cb.get(f, "").splitlines(True),
                                                    f"v{a}/{f}", f"v{b}/{f}")) for f in sorted(set(ca) | set(cb)))
        code = text or "The stage notebooks' code is identical."
    else:
        def nb(v: int, lin: dict[str, Any]) -> str:
            c = lin.get("code") or {}
            if not c.get("notebook_sha256"):
                return f"v{v} was not logged from a notebook the platform recorded"
            return f"v{v} from {c.get('notebook_path') or 'a notebook'} (sha256 {c['notebook_sha256'][:12]})"

        same = (la.get("code") or {}).get("notebook_sha256") == (lb.get("code") or {}).get("notebook_sha256")
        code = (f"{nb(a, la)}; {nb(b, lb)}. "
                + ("Same notebook. " if same and (la.get("code") or {}).get("notebook_sha256") else "")
                + "A line-by-line code diff needs versions made by pipelines (their stage notebooks are stored).")
    data_a = {**{f"pinned:{k}": v for k, v in (la.get("data", {}).get("pinned") or {}).items()},
              **{f"read:{r.get('name')}": r.get("snapshot_id") or r.get("sha256") for r in
                 la.get("data", {}).get("reads") or []}}
    data_b = {**{f"pinned:{k}": v for k, v in (lb.get("data", {}).get("pinned") or {}).items()},
              **{f"read:{r.get('name')}": r.get("snapshot_id") or r.get("sha256") for r in
                 lb.get("data", {}).get("reads") or []}}
    keys = ("data_sha256", "config_sha256", "code_sha256", "environment_sha256", "pipeline_version", "mlflow_run")
    return VersionDiff(a=a, b=b, params=_rows(json.loads(va.params), json.loads(vb.params)),
                       metrics=_rows(json.loads(va.metrics), json.loads(vb.metrics)), data=_rows(data_a, data_b),
                       lineage=_rows({k: la.get(k) for k in keys}, {k: lb.get(k) for k in keys}), code=code)

