"""Deployments, the service under the serving API: deploy a version, switch, roll back, scale, stop; events,
metrics, worker logs and the prediction log; the manager's restarts recorded; deployments started again with the
backend.

Only versions that passed the registry's gates (a `staging` or `champion` decision that passed or was approved)
can be deployed: what serves is what was validated. Every worker verifies the signed manifest before it loads.
Each function checks the caller's access itself and raises the domain errors of `errors.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from typing import Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..access import Action, require
from ..datasets.service import ColumnDenied, Shaper, column_policies
from ..deps import DB, Caller
from ..errors import Conflict, Invalid, NotFound
from ..orm import (Deployment, DeploymentEvent, GateDecision, ModelAlias, ModelVersion, Project, RegisteredModel,
                   utcnow)
from . import predlog
from .manager import WINDOW_S, Live
from .schemas import (DeploymentMetrics, DeploymentOut, DeploymentPage, EventOut, EventPage, LogOut, PredictionOut,
                      PredictionPage, Scaling, TrafficPoint)
from .service import (add_event, deployment_out, find_deployment, iso, start_version, switch_version,
                      version_number)


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
    from jupyter_mlp.at_rest import AtRestError, read_file

    try:  # sealed when the project encrypts at rest (sealed_model.py)
        logged = json.loads(read_file(live.pool.spec.folder / "input_example.json", live.pool.spec.lookup))
        if isinstance(logged, dict) and logged.get("columns") == columns and logged.get("data"):
            row = logged["data"][0]
    except (OSError, ValueError, AtRestError):
        pass
    return {"columns": columns, "data": [row]}


# --- deploy, switch, roll back, scale, stop ----------------------------------------------------------------------

async def deploy(app, db: DB, who: Caller, slug: str, *, name: str, model: str, version: int | None,  # noqa: ANN001
                 alias: str | None, scaling: Scaling) -> DeploymentOut:
    def create():  # noqa: ANN202
        g = require(db, who, slug, Action.write_serving, target=name)
        m = _model(db, g.project.id, model)
        v = _resolve_version(db, m, version, alias)
        _validated(db, v)
        exists = db.execute(select(Deployment.id).where(Deployment.project_id == g.project.id,
                                                        Deployment.name == name)).scalar_one_or_none()
        if exists is not None:
            raise Conflict(f"Deployment '{name}' exists: switch its version instead", detail=[{"field": "name"}])
        d = Deployment(project_id=g.project.id, name=name, model_id=m.id, version_id=v.id, status="deploying",
                       min_workers=scaling.min_workers, max_workers=scaling.max_workers, sla_ms=scaling.sla_ms,
                       max_batch=scaling.max_batch, max_wait_ms=scaling.max_wait_ms,
                       log_predictions=scaling.log_predictions, created_by=who.user)
        db.add(d)
        db.flush()
        db.commit()
        return d, v

    d, v = await run_in_threadpool(create)
    return await switch_version(app, db, who, slug, d, v, "deploy")


def list_deployments(app, db: DB, who: Caller, slug: str, limit: int, offset: int) -> DeploymentPage:  # noqa: ANN001
    g = require(db, who, slug, Action.read_serving)
    q = select(Deployment).where(Deployment.project_id == g.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Deployment.name).limit(limit).offset(offset)).scalars().all()
    out = [deployment_out(db, slug, d, app.state.serving.get(slug, d.name)) for d in rows]
    db.commit()
    return DeploymentPage(items=out, total=total)


def get_deployment(app, db: DB, who: Caller, slug: str, name: str, reached: str) -> DeploymentOut:  # noqa: ANN001
    """One deployment, with the address clients call (`public_url`, else `reached`: the address this request
    reached) and an example body for its signature."""
    g = require(db, who, slug, Action.read_serving, target=name)
    d = find_deployment(db, g.project.id, name)
    live = app.state.serving.get(slug, name)
    out = deployment_out(db, slug, d, live)
    out.base_url = (app.state.settings.public_url or reached).rstrip("/")
    out.example = _example(live)
    db.commit()
    return out


async def switch(app, db: DB, who: Caller, slug: str, name: str, version: int | None,  # noqa: ANN001
                 alias: str | None) -> DeploymentOut:
    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.write_serving, target=name)
        d = find_deployment(db, g.project.id, name)
        v = _resolve_version(db, d.model, version, alias)
        _validated(db, v)
        db.commit()
        return d, v

    d, v = await run_in_threadpool(load)
    return await switch_version(app, db, who, slug, d, v, "switch")


async def rollback(app, db: DB, who: Caller, slug: str, name: str) -> DeploymentOut:  # noqa: ANN001
    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.write_serving, target=name)
        d = find_deployment(db, g.project.id, name)
        if d.previous_version_id is None:
            raise Conflict(f"Deployment '{name}' has no earlier version to roll back to")
        v = db.get(ModelVersion, d.previous_version_id)
        db.commit()
        return d, v

    d, v = await run_in_threadpool(load)
    return await switch_version(app, db, who, slug, d, v, "rollback")


def scale(app, db: DB, who: Caller, slug: str, name: str, min_workers: int | None,  # noqa: ANN001
          max_workers: int | None, sla_ms: float | None) -> DeploymentOut:
    g = require(db, who, slug, Action.write_serving, target=name)
    d = find_deployment(db, g.project.id, name)
    mn = min_workers if min_workers is not None else d.min_workers
    mx = max_workers if max_workers is not None else d.max_workers
    if mx < mn:
        db.commit()
        raise Invalid("max_workers must be at least min_workers", detail=[{"field": "max_workers"}])
    before = {"min_workers": d.min_workers, "max_workers": d.max_workers, "sla_ms": d.sla_ms}
    d.min_workers, d.max_workers = mn, mx
    if sla_ms is not None:
        d.sla_ms = sla_ms
    d.updated_at = utcnow()
    after = {"min_workers": mn, "max_workers": mx, "sla_ms": d.sla_ms}
    add_event(db, d, "configure", who.user, d.version_id, {"before": before, "after": after})
    audit.append(db, actor=who.user, action="deployment.configure", decision="allow", project=slug, target=name,
                 detail=after)
    db.commit()
    live = app.state.serving.get(slug, name)
    if live is not None:
        live.min_workers, live.max_workers = mn, mx
        if sla_ms is not None:
            live.stats.set_sla(sla_ms)
    return deployment_out(db, slug, d, live)


async def delete(app, db: DB, who: Caller, slug: str, name: str) -> None:  # noqa: ANN001
    def remove() -> None:
        g = require(db, who, slug, Action.write_serving, target=name)
        d = find_deployment(db, g.project.id, name)
        audit.append(db, actor=who.user, action="deployment.delete", decision="allow", project=slug, target=name,
                     detail={"version": d.version.version})
        db.delete(d)
        db.commit()

    await run_in_threadpool(remove)
    await app.state.serving.stop(slug, name)
    shutil.rmtree(app.state.serving.folder(slug, name, 0).parent, ignore_errors=True)


# --- what a deployment did: events, metrics, logs, predictions ---------------------------------------------------

def events(db: DB, who: Caller, slug: str, name: str, limit: int, offset: int) -> EventPage:
    g = require(db, who, slug, Action.read_serving, target=name)
    d = find_deployment(db, g.project.id, name)
    q = select(DeploymentEvent).where(DeploymentEvent.deployment_id == d.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(DeploymentEvent.id.desc()).limit(limit).offset(offset)).scalars().all()
    out = [EventOut(id=e.id, action=e.action, version=version_number(db, e.version_id),
                    detail=json.loads(e.detail) if e.detail else None, actor=e.actor, at=iso(e.created_at))
           for e in rows]
    db.commit()
    return EventPage(items=out, total=total)


def metrics(app, db: DB, who: Caller, slug: str, name: str, minutes: float) -> DeploymentMetrics:  # noqa: ANN001
    g = require(db, who, slug, Action.read_serving, target=name)
    d = find_deployment(db, g.project.id, name)
    db.commit()
    live = app.state.serving.get(slug, name)
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


def logs(app, db: DB, who: Caller, slug: str, name: str, lines: int) -> list[LogOut]:  # noqa: ANN001
    g = require(db, who, slug, Action.read_serving, target=name)
    find_deployment(db, g.project.id, name)
    db.commit()
    folder = app.state.serving.log_dir(slug, name)
    out = []
    for f in sorted(folder.glob("worker-*.log")) if folder.is_dir() else []:
        data = f.read_bytes()[-200_000:].decode(errors="replace").splitlines()[-lines:]
        out.append(LogOut(worker=f.stem, lines=data))
    return out


async def predictions(app, db: DB, who: Caller, slug: str, name: str, limit: int,  # noqa: ANN001
                      offset: int) -> PredictionPage:
    def load() -> tuple[Deployment, Shaper]:
        g = require(db, who, slug, Action.read_serving, target=name)
        d = find_deployment(db, g.project.id, name)
        shaper = column_policies(db, g.project.id, g.role.value)  # the project's column policies for this role
        db.commit()
        return d, shaper

    d, shaper = await run_in_threadpool(load)
    gw = app.state.gateway
    if gw.predlog is not None:
        await gw.predlog.drain(slug, d.name)  # what was answered before this request is in the table
    catalog = app.state.datasets
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
        part = rows[offset:offset + limit]
        return [{**r, "ts": iso(r["ts"]), "label": labels.get(r["prediction_id"]),
                 "request": shaper.json_text(r["request"]), "response": shaper.json_text(r["response"])}
                for r in part], len(rows)

    def shaped_read() -> tuple[list[dict], int]:
        """The page with the caller's column policies applied to the logged bodies; which shaped it is audited."""
        target = f"{d.name}/predictions"
        with app.state.db.session() as s:
            try:
                out = read()
            except ColumnDenied as e:
                shaper.refused(s, who, slug, "prediction-log", target, e)
                raise
            shaper.audit(s, who, slug, "prediction-log", target)
            s.commit()
        return out

    items, total = await run_in_threadpool(shaped_read)
    return PredictionPage(items=[PredictionOut(**{k: v for k, v in r.items() if k != "model"}) for r in items],
                          total=total, table=table)


# --- the manager's events, and starting again with the backend ---------------------------------------------------

def record_event(app):  # noqa: ANN001, ANN201
    """The manager's restarts and scaling, into deployment_events."""

    def record(live: Live, action: str, detail: dict[str, Any]) -> None:
        with app.state.db.session() as s:
            d = s.get(Deployment, live.id)
            if d is None:
                return
            add_event(s, d, action, "platform", d.version_id, detail)
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
    try:
        for slug, project_id, d_id, v_id, name, model, sla, mn, mx in await run_in_threadpool(rows):
            live = manager.live.setdefault((slug, name), Live(d_id, project_id, slug, name, model, sla, mn, mx))
            todo.append(one(slug, project_id, d_id, v_id, live))
    finally:
        manager.resuming = False  # set by the app before this task starts: until now the gateway answered 503
    await asyncio.gather(*todo)
