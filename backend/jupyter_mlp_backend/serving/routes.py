"""Deployments API: deploy a version, switch, roll back, scale, stop; API keys; metrics, events and worker logs.

Only versions that passed the registry's gates (a `staging` or `champion` decision that passed or was approved)
can be deployed: what serves is what was validated. Every worker verifies the signed manifest before it loads.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import secrets
import shutil
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..access import Action, require
from ..deps import DB, Caller, INT32_MAX, Int64, Paging
from ..errors import Conflict, Invalid, NotFound
from ..orm import (
    ApiKey,
    BatchJob,
    Deployment,
    DeploymentEvent,
    GateDecision,
    ModelAlias,
    ModelVersion,
    Project,
    RegisteredModel,
    utcnow,
)
from ..registry.service import MODEL_NAME
from . import predlog
from .gateway import KeyInfo
from .manager import WINDOW_S, Live
from .service import DeploymentOut, _event, _out, _version_number, start_version
from .service import find_deployment as _deployment
from .service import iso as _iso
from .service import switch_version as _switch

router = APIRouter(tags=["serving"])
Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME.pattern)]


# --- schemas ---------------------------------------------------------------------------------------------------

class Scaling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_workers: int = Field(default=1, ge=1, le=16, description="Workers kept running")
    max_workers: int = Field(default=2, ge=1, le=16, description="Workers added while p95 breaches the SLA")
    sla_ms: float = Field(default=100.0, gt=0, le=60000, description="Latency objective (p95), milliseconds")
    max_batch: int = Field(default=64, ge=1, le=10000, description="Most rows scored in one model call")
    max_wait_ms: float = Field(default=0.0, ge=0, le=1000, description="How long a batch may wait for more rows")
    log_predictions: bool = Field(default=True, description="Append every prediction (input, output, latency) "
                                                            "to the deployment's Iceberg table")

    @model_validator(mode="after")
    def _order(self) -> Scaling:
        if self.max_workers < self.min_workers:
            raise ValueError("max_workers must be at least min_workers")
        return self


class DeployRequest(Scaling):
    name: Name = Field(description="Deployment name: part of its URL")
    model: ModelName
    version: int | None = Field(default=None, ge=1, le=INT32_MAX, description="A version number, or give an alias")
    alias: Literal["staging", "champion"] | None = None

    @model_validator(mode="after")
    def _one(self) -> DeployRequest:
        if (self.version is None) == (self.alias is None):
            raise ValueError("give either version or alias")
        return self


class SwitchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, le=INT32_MAX)
    alias: Literal["staging", "champion"] | None = None

    @model_validator(mode="after")
    def _one(self) -> SwitchRequest:
        if (self.version is None) == (self.alias is None):
            raise ValueError("give either version or alias")
        return self


class ScaleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_workers: int | None = Field(default=None, ge=1, le=16)
    max_workers: int | None = Field(default=None, ge=1, le=16)
    sla_ms: float | None = Field(default=None, gt=0, le=60000)


class DeploymentPage(BaseModel):
    items: list[DeploymentOut]
    total: int


class EventOut(BaseModel):
    id: int
    action: str
    version: int | None
    detail: dict[str, Any] | None
    actor: str
    at: str


class EventPage(BaseModel):
    items: list[EventOut]
    total: int


class TrafficPoint(BaseModel):
    start: float
    requests: int
    errors: int
    rejected: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class DeploymentMetrics(BaseModel):
    window_seconds: float
    sla_ms: float
    requests: int
    errors: int
    rejected: int
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    sla_compliance: float | None = Field(description="Share of answered requests within the SLA")
    series: list[TrafficPoint]


class LogOut(BaseModel):
    worker: str
    lines: list[str]


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    deployment: Name | None = Field(default=None, description="Limit the key to one deployment")
    rate_per_s: float | None = Field(default=None, gt=0, le=1e6, description="This key's own rate limit")


class KeyOut(BaseModel):
    name: str
    prefix: str
    deployment: str | None
    rate_per_s: float | None
    created_by: str
    created_at: str
    revoked_at: str | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown once, stored only as a hash")


class KeyPage(BaseModel):
    items: list[KeyOut]
    total: int


# --- helpers -----------------------------------------------------------------------------------------------------


def _model(db: DB, project_id: int, name: str) -> RegisteredModel:
    m = db.execute(select(RegisteredModel).where(RegisteredModel.project_id == project_id,
                                                 RegisteredModel.name == name)).scalar_one_or_none()
    if m is None:
        raise NotFound(f"Model '{name}' not found")
    return m


def _resolve_version(db: DB, m: RegisteredModel, version: int | None, alias: str | None) -> ModelVersion:
    if alias is not None:
        row = db.get(ModelAlias, (m.id, alias))
        if row is None:
            raise Conflict(f"Model '{m.name}' has no '{alias}' yet: promote a version first")
        return db.get(ModelVersion, row.version_id)
    v = db.execute(select(ModelVersion).where(ModelVersion.model_id == m.id, ModelVersion.version == version)
                   ).scalar_one_or_none()
    if v is None:
        raise NotFound(f"Model '{m.name}' has no version {version}")
    return v


def _validated(db: DB, v: ModelVersion) -> None:
    ok = db.execute(select(func.count()).select_from(GateDecision).where(
        GateDecision.version_id == v.id, GateDecision.status.in_(("passed", "approved")))).scalar_one()
    if not ok:
        raise Conflict(f"{v.model.name} version {v.version} has not passed the gates: promote it to staging or "
                       "champion first (only validated versions are served)")


_EXAMPLE_VALUES = {"FP64": 0.0, "FP32": 0.0, "FP16": 0.0, "INT64": 0, "INT32": 0, "INT16": 0, "INT8": 0, "BOOL": False,
                   "BYTES": "text"}


def _example(live: Live | None) -> dict[str, Any] | None:
    """The signature's columns with one row: the input example logged with the model where it has these columns,
    else a value of each column's type."""
    w = live.pool.workers[0] if live is not None and live.pool is not None and live.pool.workers else None
    if w is None or not w.signature:
        return None
    columns = [c["name"] for c in w.signature]
    row = [_EXAMPLE_VALUES.get(c.get("datatype"), "") for c in w.signature]
    try:
        logged = json.loads((live.pool.spec.folder / "input_example.json").read_text())
        if isinstance(logged, dict) and logged.get("columns") == columns and logged.get("data"):
            row = logged["data"][0]
    except (OSError, ValueError):
        pass
    return {"columns": columns, "data": [row]}


# --- deployments -------------------------------------------------------------------------------------------------

@router.post("/projects/{slug}/deployments", response_model=DeploymentOut, status_code=201,
             summary="Deploy a validated model version: workers verify and load it, then the endpoint answers")
async def deploy(slug: str, body: DeployRequest, request: Request, db: DB, who: Caller) -> DeploymentOut:
    def create():  # noqa: ANN202
        g = require(db, who, slug, Action.write_serving, target=body.name)
        m = _model(db, g.project.id, body.model)
        v = _resolve_version(db, m, body.version, body.alias)
        _validated(db, v)
        exists = db.execute(select(Deployment.id).where(Deployment.project_id == g.project.id,
                                                        Deployment.name == body.name)).scalar_one_or_none()
        if exists is not None:
            raise Conflict(f"Deployment '{body.name}' exists: switch its version instead", detail=[{"field": "name"}])
        d = Deployment(project_id=g.project.id, name=body.name, model_id=m.id, version_id=v.id, status="deploying",
                       min_workers=body.min_workers, max_workers=body.max_workers, sla_ms=body.sla_ms,
                       max_batch=body.max_batch, max_wait_ms=body.max_wait_ms,
                       log_predictions=body.log_predictions, created_by=who.user)
        db.add(d)
        db.flush()
        db.commit()
        return d, v

    d, v = await run_in_threadpool(create)
    return await _switch(request, db, who, slug, d, v, "deploy")


@router.get("/projects/{slug}/deployments", response_model=DeploymentPage, summary="The project's deployments")
def list_deployments(slug: str, request: Request, db: DB, who: Caller, page: Paging) -> DeploymentPage:
    g = require(db, who, slug, Action.read_serving)
    q = select(Deployment).where(Deployment.project_id == g.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Deployment.name).limit(page.limit).offset(page.offset)).scalars().all()
    out = [_out(db, slug, d, request.app.state.serving.get(slug, d.name)) for d in rows]
    db.commit()
    return DeploymentPage(items=out, total=total)


@router.get("/projects/{slug}/deployments/{name}", response_model=DeploymentOut, summary="A deployment")
def get_deployment(slug: str, name: str, request: Request, db: DB, who: Caller) -> DeploymentOut:
    g = require(db, who, slug, Action.read_serving, target=name)
    d = _deployment(db, g.project.id, name)
    live = request.app.state.serving.get(slug, name)
    out = _out(db, slug, d, live)
    out.base_url = (request.app.state.settings.public_url or str(request.base_url)).rstrip("/")
    out.example = _example(live)
    db.commit()
    return out


@router.put("/projects/{slug}/deployments/{name}/version", response_model=DeploymentOut,
            summary="Serve another validated version; traffic moves when its workers are ready")
async def switch(slug: str, name: str, body: SwitchRequest, request: Request, db: DB, who: Caller) -> DeploymentOut:
    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.write_serving, target=name)
        d = _deployment(db, g.project.id, name)
        v = _resolve_version(db, d.model, body.version, body.alias)
        _validated(db, v)
        db.commit()
        return d, v

    d, v = await run_in_threadpool(load)
    return await _switch(request, db, who, slug, d, v, "switch")


@router.post("/projects/{slug}/deployments/{name}/rollback", response_model=DeploymentOut,
             summary="Serve the version that served before the last switch")
async def rollback(slug: str, name: str, request: Request, db: DB, who: Caller) -> DeploymentOut:
    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.write_serving, target=name)
        d = _deployment(db, g.project.id, name)
        if d.previous_version_id is None:
            raise Conflict(f"Deployment '{name}' has no earlier version to roll back to")
        v = db.get(ModelVersion, d.previous_version_id)
        db.commit()
        return d, v

    d, v = await run_in_threadpool(load)
    return await _switch(request, db, who, slug, d, v, "rollback")


@router.patch("/projects/{slug}/deployments/{name}", response_model=DeploymentOut,
              summary="Change the worker range and the latency objective")
def scale(slug: str, name: str, body: ScaleRequest, request: Request, db: DB, who: Caller) -> DeploymentOut:
    g = require(db, who, slug, Action.write_serving, target=name)
    d = _deployment(db, g.project.id, name)
    mn = body.min_workers if body.min_workers is not None else d.min_workers
    mx = body.max_workers if body.max_workers is not None else d.max_workers
    if mx < mn:
        db.commit()
        raise Invalid("max_workers must be at least min_workers", detail=[{"field": "max_workers"}])
    before = {"min_workers": d.min_workers, "max_workers": d.max_workers, "sla_ms": d.sla_ms}
    d.min_workers, d.max_workers = mn, mx
    if body.sla_ms is not None:
        d.sla_ms = body.sla_ms
    d.updated_at = utcnow()
    after = {"min_workers": mn, "max_workers": mx, "sla_ms": d.sla_ms}
    _event(db, d, "configure", who.user, d.version_id, {"before": before, "after": after})
    audit.append(db, actor=who.user, action="deployment.configure", decision="allow", project=slug, target=name,
                 detail=after)
    db.commit()
    live = request.app.state.serving.get(slug, name)
    if live is not None:
        live.min_workers, live.max_workers = mn, mx
        if body.sla_ms is not None:
            live.stats.set_sla(body.sla_ms)
    return _out(db, slug, d, live)


@router.delete("/projects/{slug}/deployments/{name}", status_code=204, summary="Stop and remove a deployment")
async def delete_deployment(slug: str, name: str, request: Request, db: DB, who: Caller) -> None:
    def remove() -> None:
        g = require(db, who, slug, Action.write_serving, target=name)
        d = _deployment(db, g.project.id, name)
        audit.append(db, actor=who.user, action="deployment.delete", decision="allow", project=slug, target=name,
                     detail={"version": d.version.version})
        db.delete(d)
        db.commit()

    await run_in_threadpool(remove)
    await request.app.state.serving.stop(slug, name)
    shutil.rmtree(request.app.state.serving.folder(slug, name, 0).parent, ignore_errors=True)


@router.get("/projects/{slug}/deployments/{name}/events", response_model=EventPage,
            summary="Deploys, switches, rollbacks, scaling and restarts, newest first")
def events(slug: str, name: str, db: DB, who: Caller, page: Paging) -> EventPage:
    g = require(db, who, slug, Action.read_serving, target=name)
    d = _deployment(db, g.project.id, name)
    q = select(DeploymentEvent).where(DeploymentEvent.deployment_id == d.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(DeploymentEvent.id.desc()).limit(page.limit).offset(page.offset)).scalars().all()
    out = [EventOut(id=e.id, action=e.action, version=_version_number(db, e.version_id),
                    detail=json.loads(e.detail) if e.detail else None, actor=e.actor, at=_iso(e.created_at))
           for e in rows]
    db.commit()
    return EventPage(items=out, total=total)


@router.get("/projects/{slug}/deployments/{name}/metrics", response_model=DeploymentMetrics,
            summary="Latency percentiles, errors and traffic in 10-second windows (this backend's memory)")
def metrics(slug: str, name: str, request: Request, db: DB, who: Caller,
            minutes: Annotated[float, Query(gt=0, le=60)] = 15) -> DeploymentMetrics:
    g = require(db, who, slug, Action.read_serving, target=name)
    d = _deployment(db, g.project.id, name)
    db.commit()
    live = request.app.state.serving.get(slug, name)
    series = live.stats.series(time.time() - minutes * 60) if live else []
    lat = sorted(x for w in (live.stats.windows if live else []) if w.start >= time.time() - minutes * 60
                 for x in w.latencies)
    from .manager import _q

    req = sum(p["requests"] for p in series)
    err = sum(p["errors"] for p in series)
    return DeploymentMetrics(window_seconds=WINDOW_S, sla_ms=d.sla_ms, requests=req, errors=err,
                      rejected=sum(p["rejected"] for p in series), error_rate=(err / req) if req else None,
                      p50_ms=_q(lat, 0.5), p95_ms=_q(lat, 0.95), p99_ms=_q(lat, 0.99),
                      sla_compliance=(sum(1 for x in lat if x <= d.sla_ms) / len(lat)) if lat else None,
                      series=[TrafficPoint(**p) for p in series])


@router.get("/projects/{slug}/deployments/{name}/logs", response_model=list[LogOut],
            summary="The last lines each worker wrote")
def logs(slug: str, name: str, request: Request, db: DB, who: Caller,
         lines: Annotated[int, Query(ge=1, le=2000)] = 200) -> list[LogOut]:
    g = require(db, who, slug, Action.read_serving, target=name)
    _deployment(db, g.project.id, name)
    db.commit()
    folder = request.app.state.serving.log_dir(slug, name)
    out = []
    for f in sorted(folder.glob("worker-*.log")) if folder.is_dir() else []:
        data = f.read_bytes()[-200_000:].decode(errors="replace").splitlines()[-lines:]
        out.append(LogOut(worker=f.stem, lines=data))
    return out


class PredictionOut(BaseModel):
    prediction_id: str
    ts: str
    version: int
    protocol: str
    latency_ms: float
    request: str
    response: str
    label: str | None = Field(description="Ground truth posted later to /feedback (JSON), if any")


class PredictionPage(BaseModel):
    items: list[PredictionOut]
    total: int
    table: str


@router.get("/projects/{slug}/deployments/{name}/predictions", response_model=PredictionPage,
            summary="The prediction log, newest first, with labels posted as feedback")
async def predictions(slug: str, name: str, request: Request, db: DB, who: Caller, page: Paging) -> PredictionPage:
    def load() -> Deployment:
        g = require(db, who, slug, Action.read_serving, target=name)
        d = _deployment(db, g.project.id, name)
        db.commit()
        return d

    d = await run_in_threadpool(load)
    gw = request.app.state.gateway
    if gw.predlog is not None:
        await gw.predlog.drain(slug, d.name)  # what was answered before this request is in the table
    catalog = request.app.state.datasets
    table = predlog.table_name("predictions", d.name)

    def read() -> tuple[list[dict], int]:
        try:
            preds = catalog.scan(slug, table)
        except LookupError:
            return [], 0
        try:
            fb = catalog.scan(slug, predlog.table_name("feedback", d.name)).to_pylist()
        except LookupError:
            fb = []
        labels = {r["prediction_id"]: r["label"] for r in sorted(fb, key=lambda r: r["ts"])}
        rows = sorted(preds.to_pylist(), key=lambda r: r["ts"], reverse=True)
        part = rows[page.offset:page.offset + page.limit]
        return [{**r, "ts": _iso(r["ts"]), "label": labels.get(r["prediction_id"])} for r in part], len(rows)

    items, total = await run_in_threadpool(read)
    return PredictionPage(items=[PredictionOut(**{k: v for k, v in r.items() if k != "model"}) for r in items],
                          total=total, table=table)


# --- batch scoring -----------------------------------------------------------------------------------------------

DatasetName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: DatasetName = Field(description="A dataset (Iceberg table) of the project to score")
    snapshot_id: Int64 | None = Field(default=None, description="Its snapshot; default: the current one")
    output_dataset: DatasetName | None = Field(default=None, description="Write the scored rows to this dataset "
                                                                         "(a new snapshot); default: a Parquet file")
    chunk_rows: int = Field(default=10_000, ge=1, le=1_000_000)


class BatchJobOut(BaseModel):
    id: str
    deployment: str
    version: int
    status: str
    source: dict[str, Any]
    output: dict[str, Any]
    chunk_rows: int
    chunks_total: int
    chunks_done: int
    rows: int
    message: str | None
    created_by: str
    created_at: str
    finished_at: str | None


class BatchJobPage(BaseModel):
    items: list[BatchJobOut]
    total: int


def _job_out(db: DB, j: BatchJob) -> BatchJobOut:
    d = db.get(Deployment, j.deployment_id)
    return BatchJobOut(id=j.id, deployment=d.name, version=_version_number(db, j.version_id) or 0, status=j.status,
                       source=json.loads(j.source), output=json.loads(j.output), chunk_rows=j.chunk_rows,
                       chunks_total=j.chunks_total, chunks_done=j.chunks_done, rows=j.rows, message=j.message,
                       created_by=j.created_by, created_at=_iso(j.created_at), finished_at=_iso(j.finished_at))


def _new_job(db: DB, who: Caller, slug: str, name: str, source: dict, output: dict, chunk_rows: int) -> BatchJob:
    g = require(db, who, slug, Action.write_serving, target=f"{name}:batch")
    d = _deployment(db, g.project.id, name)
    j = BatchJob(id=uuid.uuid4().hex, deployment_id=d.id, version_id=d.version_id, status="queued",
                 source=json.dumps(source), output=json.dumps(output), chunk_rows=chunk_rows, created_by=who.user)
    db.add(j)
    db.flush()
    audit.append(db, actor=who.user, action="deployment.batch", decision="allow", project=slug, target=name,
                 detail={"job": j.id, "source": source, "output": output, "version": d.version.version})
    db.commit()
    return j


@router.post("/projects/{slug}/deployments/{name}/batch", response_model=BatchJobOut, status_code=202,
             summary="Score a project dataset snapshot with the deployment's version, in chunks, in the background")
async def batch_dataset(slug: str, name: str, body: BatchRequest, request: Request, db: DB,
                        who: Caller) -> BatchJobOut:
    def create() -> BatchJobOut:
        names = {t["name"]: t for t in request.app.state.datasets.list(slug)} if _member(db, who, slug) else {}
        if body.dataset not in names:
            raise NotFound(f"Dataset '{body.dataset}' not found", detail=[{"field": "dataset"}])
        if body.snapshot_id is not None and body.snapshot_id not in {
                s["snapshot_id"] for s in names[body.dataset]["snapshots"]}:
            raise NotFound(f"Dataset '{body.dataset}' has no snapshot {body.snapshot_id}",
                           detail=[{"field": "snapshot_id"}])
        snap = body.snapshot_id or names[body.dataset]["current_snapshot_id"]
        out = {"kind": "dataset", "dataset": body.output_dataset} if body.output_dataset else {"kind": "file"}
        j = _new_job(db, who, slug, name, {"kind": "dataset", "dataset": body.dataset, "snapshot_id": snap}, out,
                     body.chunk_rows)
        return _job_out(db, j)

    out = await run_in_threadpool(create)
    request.app.state.batch.submit(out.id)
    return out


def _member(db: DB, who: Caller, slug: str) -> bool:
    require(db, who, slug, Action.write_serving, target="batch")
    return True


@router.post("/projects/{slug}/deployments/{name}/batch/upload", response_model=BatchJobOut, status_code=202,
             summary="Score an uploaded Parquet or CSV file (the request body) with the deployment's version",
             openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}, "required": True}})
async def batch_upload(slug: str, name: str, request: Request, db: DB, who: Caller,
                       format: Annotated[Literal["parquet", "csv"], Query()] = "parquet",
                       output_dataset: Annotated[DatasetName | None, Query()] = None,
                       chunk_rows: Annotated[int, Query(ge=1, le=1_000_000)] = 10_000) -> BatchJobOut:
    from .batch import job_dir

    await run_in_threadpool(_member, db, who, slug)
    tmp = request.app.state.settings.home / "serving" / "batch" / f"upload-{uuid.uuid4().hex}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with open(tmp, "wb") as f:
        async for chunk in request.stream():
            size += len(chunk)
            f.write(chunk)
    try:
        if size == 0:
            raise Invalid("The body is empty: send the Parquet or CSV file as the request body")
        await run_in_threadpool(_check_upload, tmp, format)
        out = {"kind": "dataset", "dataset": output_dataset} if output_dataset else {"kind": "file"}
        job = await run_in_threadpool(lambda: _job_out(db, _new_job(db, who, slug, name, {
            "kind": "upload", "format": format, "bytes": size}, out, chunk_rows)))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = job_dir(request.app.state.settings.home, job.id)
    folder.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, folder / "upload")
    request.app.state.batch.submit(job.id)
    return job


def _check_upload(path, fmt: str) -> None:  # noqa: ANN001
    """Read the file's header now so that a wrong format is a 400, not a failed job later."""
    try:
        if fmt == "csv":
            import pyarrow.csv as pacsv

            with open(path, "rb") as f:
                head = f.read(1 << 20)
            if not head.strip():
                raise ValueError("no rows")
            pacsv.read_csv(io.BytesIO(head.rsplit(b"\n", 1)[0] + b"\n" if b"\n" in head else head))
        else:
            import pyarrow.parquet as pq

            pq.ParquetFile(path).schema_arrow  # noqa: B018
    except Exception as e:  # noqa: BLE001
        raise Invalid(f"The body is not a readable {fmt.upper()} file: {e}", detail=[{"field": "format"}]) from None


@router.get("/projects/{slug}/deployments/{name}/batch", response_model=BatchJobPage,
            summary="Batch jobs of a deployment, newest first")
def list_batch(slug: str, name: str, db: DB, who: Caller, page: Paging) -> BatchJobPage:
    g = require(db, who, slug, Action.read_serving, target=name)
    d = _deployment(db, g.project.id, name)
    q = select(BatchJob).where(BatchJob.deployment_id == d.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(BatchJob.created_at.desc()).limit(page.limit).offset(page.offset)).scalars().all()
    out = [_job_out(db, j) for j in rows]
    db.commit()
    return BatchJobPage(items=out, total=total)


def _job(db: DB, who: Caller, slug: str, job_id: str) -> BatchJob:
    g = require(db, who, slug, Action.read_serving, target=f"batch:{job_id}")
    j = db.get(BatchJob, job_id) if len(job_id) <= 32 else None
    if j is None or db.get(Deployment, j.deployment_id).project_id != g.project.id:
        raise NotFound(f"Batch job '{job_id}' not found")
    return j


@router.get("/projects/{slug}/batch-jobs/{job_id}", response_model=BatchJobOut, summary="A batch job's progress")
def get_batch(slug: str, job_id: str, db: DB, who: Caller) -> BatchJobOut:
    out = _job_out(db, _job(db, who, slug, job_id))
    db.commit()
    return out


@router.get("/projects/{slug}/batch-jobs/{job_id}/output", summary="The scored rows as Parquet (file output)",
            response_class=Response, responses={200: {"content": {"application/vnd.apache.parquet": {}}}})
def batch_output(slug: str, job_id: str, request: Request, db: DB, who: Caller) -> Response:
    from .batch import job_dir

    j = _job(db, who, slug, job_id)
    db.commit()
    if j.status != "succeeded":
        raise Conflict(f"Batch job '{job_id}' is {j.status}, not finished")
    if json.loads(j.output)["kind"] != "file":
        raise Conflict(f"Batch job '{job_id}' wrote to a dataset, not a file")
    path = job_dir(request.app.state.settings.home, job_id) / "output.parquet"
    return Response(path.read_bytes(), media_type="application/vnd.apache.parquet",
                    headers={"content-disposition": f'attachment; filename="{job_id}.parquet"'})


# --- API keys ----------------------------------------------------------------------------------------------------

def _key_out(db: DB, k: ApiKey, cls=KeyOut, **extra):  # noqa: ANN001, ANN003, ANN202
    dep = db.get(Deployment, k.deployment_id).name if k.deployment_id else None
    return cls(name=k.name, prefix=k.prefix, deployment=dep, rate_per_s=k.rate_per_s, created_by=k.created_by,
               created_at=_iso(k.created_at), revoked_at=_iso(k.revoked_at), **extra)


@router.post("/projects/{slug}/api-keys", response_model=NewKeyOut, status_code=201,
             summary="A key for a client system (leads); the key is shown once and kept only as a hash")
def create_key(slug: str, body: KeyRequest, db: DB, who: Caller) -> NewKeyOut:
    g = require(db, who, slug, Action.manage_keys, target=body.name)
    dep_id = _deployment(db, g.project.id, body.deployment).id if body.deployment else None
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    k = ApiKey(project_id=g.project.id, deployment_id=dep_id, name=body.name, prefix=prefix,
               secret_sha256=hashlib.sha256(secret.encode()).hexdigest(), rate_per_s=body.rate_per_s,
               created_by=who.user)
    db.add(k)
    db.flush()
    audit.append(db, actor=who.user, action="apikey.create", decision="allow", project=slug, target=prefix,
                 detail={"name": body.name, "deployment": body.deployment, "rate_per_s": body.rate_per_s})
    db.commit()
    return _key_out(db, k, NewKeyOut, key=f"mlpk_{prefix}_{secret}")


@router.get("/projects/{slug}/api-keys", response_model=KeyPage, summary="The project's keys (never the secrets)")
def list_keys(slug: str, db: DB, who: Caller, page: Paging) -> KeyPage:
    g = require(db, who, slug, Action.read_serving)
    q = select(ApiKey).where(ApiKey.project_id == g.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(ApiKey.id.desc()).limit(page.limit).offset(page.offset)).scalars().all()
    out = [_key_out(db, k) for k in rows]
    db.commit()
    return KeyPage(items=out, total=total)


@router.delete("/projects/{slug}/api-keys/{prefix}", response_model=KeyOut,
               summary="Revoke a key: its next request gets 401")
def revoke_key(slug: str, prefix: str, request: Request, db: DB, who: Caller) -> KeyOut:
    g = require(db, who, slug, Action.manage_keys, target=prefix)
    k = db.execute(select(ApiKey).where(ApiKey.project_id == g.project.id, ApiKey.prefix == prefix)
                   ).scalar_one_or_none()
    if k is None:
        db.commit()
        raise NotFound(f"API key '{prefix}' not found")
    if k.revoked_at is None:
        k.revoked_at, k.revoked_by = utcnow(), who.user
        audit.append(db, actor=who.user, action="apikey.revoke", decision="allow", project=slug, target=prefix,
                     detail={"name": k.name})
    db.commit()
    request.app.state.gateway.forget_key(prefix)
    return _key_out(db, k)


# --- wiring ------------------------------------------------------------------------------------------------------

def key_lookup(app):  # noqa: ANN001, ANN201
    """prefix -> KeyInfo, read from the database (the gateway caches it)."""

    def lookup(prefix: str) -> KeyInfo | None:
        with app.state.db.session() as s:
            row = s.execute(select(ApiKey, Project.slug).join(Project, ApiKey.project_id == Project.id)
                            .where(ApiKey.prefix == prefix)).one_or_none()
            if row is None:
                return None
            k, slug = row
            return KeyInfo(id=k.id, prefix=k.prefix, secret_sha256=k.secret_sha256, project_id=k.project_id,
                           project=slug, deployment_id=k.deployment_id, rate_per_s=k.rate_per_s,
                           revoked=k.revoked_at is not None)

    return lookup


def record_event(app):  # noqa: ANN001, ANN201
    """The manager's restarts and scaling, into deployment_events."""

    def record(live: Live, action: str, detail: dict[str, Any]) -> None:
        with app.state.db.session() as s:
            d = s.get(Deployment, live.id)
            if d is None:
                return
            _event(s, d, action, "platform", d.version_id, detail)
            if action == "failed" and detail.get("gave_up"):  # the manager stopped restarting: say so, and say
                d.status, d.message, d.updated_at = "failed", detail.get("message"), utcnow()  # what serves now
                fallback = detail.get("fallback_version")
                if fallback is not None:
                    back = s.execute(select(ModelVersion).where(ModelVersion.model_id == d.model_id,
                                                                ModelVersion.version == fallback)).scalar_one_or_none()
                    if back is not None:
                        d.previous_version_id, d.version_id = d.version_id, back.id
            s.commit()

    return record


async def resume(app) -> None:  # noqa: ANN001
    """Start again what was serving when the backend stopped, all at once, at the scale each had reached. Each is
    known to the gateway from the first moment, so its URL answers 503 with Retry-After (not 404) until it serves."""
    import logging

    manager = app.state.serving

    def rows():  # noqa: ANN202
        with app.state.db.session() as s:
            return [(slug, d.project_id, d.id, d.version_id, d.name, d.model.name, d.sla_ms, d.min_workers,
                     d.max_workers) for d, slug in s.execute(
                select(Deployment, Project.slug).join(Project, Deployment.project_id == Project.id)
                .where(Deployment.status.in_(("ready", "deploying")))).all()]

    async def one(slug: str, project_id: int, d_id: int, v_id: int, live: Live) -> None:
        t0 = time.monotonic()
        try:
            await start_version(app, slug, project_id, d_id, v_id, restore=True)
            logging.getLogger(__name__).info("restored deployment %s/%s with %d worker(s) in %.2f s", slug,
                                             live.name, len(live.pool.workers) if live.pool else 0,
                                             time.monotonic() - t0)
        except Exception as e:  # one broken deployment must not stop the others
            live.status, live.message = "failed", f"Not restored after the backend restarted: {e}"
            logging.getLogger(__name__).warning("could not resume deployment %s/%s: %s", slug, live.name, e)

    todo = []
    for slug, project_id, d_id, v_id, name, model, sla, mn, mx in await run_in_threadpool(rows):
        live = manager.live.setdefault((slug, name), Live(d_id, project_id, slug, name, model, sla, mn, mx))
        todo.append(one(slug, project_id, d_id, v_id, live))
    await asyncio.gather(*todo)
