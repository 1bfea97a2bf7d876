"""Monitoring API: a monitor per deployment, its windows (drift per feature, performance), Evidently reports,
alerts, retrainings, webhooks, the sensor's tick, and the stakeholder dashboard's data."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..access import Action, require
from ..deps import DB, Caller, Id, Paging
from ..errors import Invalid, NotFound
from ..identity import require_scope
from ..orm import (Alert, Deployment, Membership, ModelVersion, Monitor, MonitorWindow, Project, ReferenceProfile,
                   Retraining, Webhook, WebhookDelivery, utcnow)
from ..serving.service import find_deployment as _deployment
from ..serving.service import iso as _iso
from . import service

router = APIRouter(tags=["monitoring"])

Metric = Literal["roc_auc", "f1", "rmse", "ece"]


# --- models -----------------------------------------------------------------------------------------------------

class MonitorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_size: int | None = Field(default=None, ge=50, le=1_000_000,
                                    description="Predictions per window (default: the platform's, see the docs)")
    window_seconds: int | None = Field(
        default=None, ge=60, le=30 * 86400,
        description="Windows by time instead of count: the predictions of each slice of this many seconds (UTC "
                    "clock), evaluated once the slice has ended. Thresholds stay calibrated for window_size rows "
                    "(KS p-values hold for any size; PSI thresholds scale with the rows a window has)")
    tolerance: dict[Metric, Annotated[float, Field(ge=0, le=1e9)]] = Field(
        default_factory=dict, description="Allowed loss per metric against the validated baseline (absolute; "
                                          "default 0.05 for roc_auc, f1 and ece, 10% of the baseline for rmse)")
    retrain: bool = Field(default=False, description="Retrain automatically when an alert fires")
    retrain_on: Literal["drift", "performance", "any"] = "any"
    cooldown_s: int = Field(default=3600, ge=0, le=30 * 86400,
                            description="Least time between two automatic retrainings")
    enabled: bool = True


class ProfileOut(BaseModel):
    version: int
    status: str
    message: str | None
    dataset: str | None
    snapshot_id: str | None = Field(description="As text: 19-digit ids do not fit a JavaScript number")
    rows: int
    window_size: int
    features: list[dict[str, Any]]
    thresholds: dict[str, float]
    method: dict[str, Any]
    created_at: str | None


class MonitorOut(BaseModel):
    deployment: str
    model: str
    version: int
    window_size: int
    window_seconds: int | None
    tolerance: dict[str, float]
    retrain: bool
    retrain_on: str
    cooldown_s: int
    enabled: bool
    created_by: str
    created_at: str | None
    evaluated_at: str | None
    message: str | None
    profile: ProfileOut | None
    baseline: dict[str, Any]
    status: str = Field(description="The newest window's drift status, or 'waiting' before the first full window")
    pending_rows: int = Field(description="Scored rows of the served version not yet in a complete window, as of "
                                          "the last evaluation")
    status_message: str | None = Field(default=None, description="The newest window's drift verdict in words "
                                                                  "(the same words as its report's banner)")
    firing: int
    firing_critical: int = Field(default=0, description="How many of the firing alerts are critical (performance, "
                                                        "schema); the others are warnings (drift)")


class WindowOut(BaseModel):
    id: int
    version: int
    seq: int
    start: str | None
    end: str | None
    rows: int
    status: str
    drift: dict[str, Any]
    labelled: int
    performance: dict[str, Any] | None


class WindowPage(BaseModel):
    items: list[WindowOut]
    total: int


class EvaluationOut(BaseModel):
    windows: int = Field(description="New full windows")
    fired: list[str]
    resolved: list[str]
    retraining: list[str]
    summary: str
    message: str | None


class DeliveryOut(BaseModel):
    webhook: str
    state: str
    ok: bool
    status_code: int | None
    attempts: int
    error: str | None
    at: str | None


class AlertOut(BaseModel):
    id: int
    deployment: str
    key: str
    kind: str
    severity: str
    state: str
    title: str
    detail: dict[str, Any]
    windows: int
    started_at: str | None
    updated_at: str | None
    resolved_at: str | None
    deliveries: list[DeliveryOut]


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int


class RetrainingOut(BaseModel):
    id: int
    deployment: str
    alert_id: int | None
    alert: str | None
    pipeline_run_id: str | None
    status: str
    version: int | None
    decision_id: int | None
    message: str | None
    created_at: str | None
    updated_at: str | None


class RetrainingPage(BaseModel):
    items: list[RetrainingOut]
    total: int


HookName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")]


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: HookName
    kind: Literal["slack", "jira", "generic"]
    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)] = Field(
        description="Slack: the incoming-webhook URL; Jira: the site's base URL; generic: where to POST")
    secret: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        default=None, description="generic: the HMAC key; jira: `user:api_token`. Never shown again")
    jira_project: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")] | None = None
    jira_issue_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "Bug"
    enabled: bool = True


class WebhookOut(BaseModel):
    id: int
    name: str
    kind: str
    url: str
    secret_set: bool
    jira_project: str | None
    jira_issue_type: str
    enabled: bool
    created_by: str
    created_at: str | None


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    total: int


class TickResult(BaseModel):
    monitors: int
    summary: str


# --- helpers ----------------------------------------------------------------------------------------------------

def _monitor(db: DB, d: Deployment) -> Monitor:
    m = db.execute(select(Monitor).where(Monitor.deployment_id == d.id)).scalar_one_or_none()
    if m is None:
        raise NotFound(f"Deployment '{d.name}' has no monitor: create one first")
    return m


def _profile_out(row: ReferenceProfile | None, number: int) -> ProfileOut | None:
    if row is None:
        return None
    return ProfileOut(version=number, status=row.status, message=row.message, dataset=row.dataset,
                      snapshot_id=str(row.snapshot_id) if row.snapshot_id is not None else None, rows=row.rows,
                      window_size=row.window_size, features=json.loads(row.features or "[]"),
                      thresholds=json.loads(row.thresholds or "{}"), method=json.loads(row.method or "{}"),
                      created_at=_iso(row.created_at))


def _monitor_out(db: DB, m: Monitor, d: Deployment) -> MonitorOut:
    v = db.get(ModelVersion, d.version_id)
    prof = db.execute(select(ReferenceProfile).where(ReferenceProfile.version_id == d.version_id)).scalar_one_or_none()
    latest = db.execute(select(MonitorWindow).where(MonitorWindow.monitor_id == m.id,
                                                    MonitorWindow.version_id == d.version_id)
                        .order_by(MonitorWindow.seq.desc())).scalars().first()
    firing = db.execute(select(func.count()).select_from(Alert).where(Alert.monitor_id == m.id,
                                                                      Alert.state == "firing")).scalar_one()
    critical = db.execute(select(func.count()).select_from(Alert).where(
        Alert.monitor_id == m.id, Alert.state == "firing", Alert.severity == "critical")).scalar_one()
    return MonitorOut(deployment=d.name, model=d.model.name, version=v.version, window_size=m.window_size,
                      window_seconds=m.window_seconds,
                      tolerance=json.loads(m.tolerance or "{}"), retrain=m.retrain, retrain_on=m.retrain_on,
                      cooldown_s=m.cooldown_s, enabled=m.enabled, created_by=m.created_by,
                      created_at=_iso(m.created_at), evaluated_at=_iso(m.evaluated_at), message=m.message,
                      profile=_profile_out(prof, v.version), baseline=service.baseline_of(db, d.version_id),
                      status=latest.status if latest else "waiting", pending_rows=m.pending_rows,
                      status_message=json.loads(latest.drift).get("message") if latest else None,
                      firing=firing, firing_critical=critical)


def _window_out(db: DB, w: MonitorWindow, numbers: dict[int, int]) -> WindowOut:
    return WindowOut(id=w.id, version=numbers.get(w.version_id, 0), seq=w.seq, start=_iso(w.start_ts),
                     end=_iso(w.end_ts), rows=w.rows, status=w.status, drift=json.loads(w.drift),
                     labelled=w.labelled, performance=json.loads(w.performance) if w.performance else None)


def _alert_out(db: DB, a: Alert, names: dict[int, str]) -> AlertOut:
    hooks = {h.id: h.name for h in db.execute(select(Webhook).where(Webhook.project_id == a.project_id)).scalars()}
    deliveries = [DeliveryOut(webhook=hooks.get(x.webhook_id, str(x.webhook_id)), state=x.state, ok=x.ok,
                              status_code=x.status_code, attempts=x.attempts, error=x.error, at=_iso(x.created_at))
                  for x in db.execute(select(WebhookDelivery).where(WebhookDelivery.alert_id == a.id)
                                      .order_by(WebhookDelivery.id)).scalars()]
    return AlertOut(id=a.id, deployment=names.get(a.monitor_id, ""), key=a.key, kind=a.kind, severity=a.severity,
                    state=a.state, title=a.title, detail=json.loads(a.detail or "{}"), windows=a.windows,
                    started_at=_iso(a.started_at), updated_at=_iso(a.updated_at), resolved_at=_iso(a.resolved_at),
                    deliveries=deliveries)


def _monitor_names(db: DB, project_id: int) -> dict[int, str]:
    return {m: n for m, n in db.execute(select(Monitor.id, Deployment.name).join(
        Deployment, Monitor.deployment_id == Deployment.id).where(Monitor.project_id == project_id)).all()}


def _retraining_out(db: DB, r: Retraining, d_name: str) -> RetrainingOut:
    a = db.get(Alert, r.alert_id) if r.alert_id else None
    v = db.get(ModelVersion, r.version_id) if r.version_id else None
    return RetrainingOut(id=r.id, deployment=d_name, alert_id=r.alert_id, alert=a.key if a else None,
                         pipeline_run_id=r.pipeline_run_id, status=r.status, version=v.version if v else None,
                         decision_id=r.decision_id, message=r.message, created_at=_iso(r.created_at),
                         updated_at=_iso(r.updated_at))


# --- monitors ---------------------------------------------------------------------------------------------------

@router.put("/projects/{slug}/deployments/{name}/monitor", response_model=MonitorOut,
            summary="Watch a deployment: profile its version's training data and calibrate drift thresholds")
async def put_monitor(slug: str, name: str, body: MonitorRequest, request: Request, db: DB,
                      who: Caller) -> MonitorOut:
    from . import drift
    from ..pipelines.service import sync_dagster as _sync_dagster

    def store() -> tuple[int, str, int]:
        g = require(db, who, slug, Action.write_monitoring, target=name)
        d = _deployment(db, g.project.id, name)
        m = db.execute(select(Monitor).where(Monitor.deployment_id == d.id)).scalar_one_or_none()
        if m is None:
            m = Monitor(project_id=g.project.id, deployment_id=d.id, created_by=who.user,
                        window_size=body.window_size or drift.DEFAULT_WINDOW)
            db.add(m)
        m.window_size = body.window_size or m.window_size or drift.DEFAULT_WINDOW
        m.window_seconds = body.window_seconds
        m.tolerance, m.retrain, m.retrain_on = json.dumps(body.tolerance), body.retrain, body.retrain_on
        m.cooldown_s, m.enabled = body.cooldown_s, body.enabled
        if body.retrain:
            # Retraining runs as this user; they must be able to run pipelines and promote models now.
            require(db, who, slug, Action.run_pipelines, target=f"monitor:{name}")
            require(db, who, slug, Action.write_models, target=f"monitor:{name}")
        audit.append(db, actor=who.user, action="monitor.set", decision="allow", project=slug, target=name,
                     detail=body.model_dump())
        db.commit()
        return d.version_id, d.name, m.window_size

    version_id, d_name, window = await run_in_threadpool(store)
    await service.ensure_profile(request.app, slug, d_name, version_id, window)
    try:
        await _sync_dagster(request, db)  # the sensor that evaluates monitors
    except Exception as e:  # noqa: BLE001 - the monitor works without the sensor ("check now"); say so
        await run_in_threadpool(_note, db, slug, d_name, f"Dagster's sensor is not running: {e}")
    return await get_monitor(slug, name, request, db, who)


def _note(db: DB, slug: str, name: str, message: str) -> None:
    p = db.execute(select(Project).where(Project.slug == slug)).scalar_one()
    m = _monitor(db, _deployment(db, p.id, name))
    m.message = message
    db.commit()


@router.get("/projects/{slug}/deployments/{name}/monitor", response_model=MonitorOut,
            summary="A deployment's monitor: reference profile, thresholds, baseline, status")
async def get_monitor(slug: str, name: str, request: Request, db: DB, who: Caller) -> MonitorOut:
    def load() -> tuple[Monitor, Deployment]:
        g = require(db, who, slug, Action.read_monitoring, target=name)
        d = _deployment(db, g.project.id, name)
        m = _monitor(db, d)
        db.commit()
        return m, d

    m, d = await run_in_threadpool(load)
    return await run_in_threadpool(lambda: (_monitor_out(db, m, d), db.commit())[0])


@router.post("/projects/{slug}/deployments/{name}/monitor/evaluate", response_model=EvaluationOut,
             summary="Evaluate the monitor now: new windows, alerts, webhooks, retraining")
async def evaluate_now(slug: str, name: str, request: Request, db: DB, who: Caller) -> EvaluationOut:
    def load() -> int:
        g = require(db, who, slug, Action.write_monitoring, target=name)
        m = _monitor(db, _deployment(db, g.project.id, name))
        db.commit()
        return m.id

    out = await service.evaluate(request.app, request, await run_in_threadpool(load))
    return EvaluationOut(windows=out.windows, fired=out.fired, resolved=out.resolved, retraining=out.retraining,
                         summary=out.summary(), message=out.message)


@router.get("/projects/{slug}/deployments/{name}/monitor/windows", response_model=WindowPage,
            summary="The monitor's windows, newest first: drift per feature and performance")
def list_windows(slug: str, name: str, db: DB, who: Caller, page: Paging) -> WindowPage:
    g = require(db, who, slug, Action.read_monitoring, target=name)
    m = _monitor(db, _deployment(db, g.project.id, name))
    q = select(MonitorWindow).where(MonitorWindow.monitor_id == m.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(MonitorWindow.end_ts.desc(), MonitorWindow.id.desc())
                      .offset(page.offset).limit(page.limit)).scalars().all()
    numbers = {v.id: v.version for v in db.execute(select(ModelVersion).where(
        ModelVersion.id.in_({w.version_id for w in rows}))).scalars()}
    out = WindowPage(items=[_window_out(db, w, numbers) for w in rows], total=total)
    db.commit()
    return out


@router.get("/projects/{slug}/deployments/{name}/monitor/windows/{window_id}/report",
            response_class=Response, summary="Evidently's HTML drift report for one window (served sandboxed)",
            responses={200: {"content": {"text/html": {}}}})
async def window_report(slug: str, name: str, window_id: Id, request: Request, db: DB, who: Caller) -> Response:
    from . import drift

    def load() -> tuple[MonitorWindow, str, int, int, int | None]:
        g = require(db, who, slug, Action.read_monitoring, target=f"{name}/window:{window_id}")
        d = _deployment(db, g.project.id, name)
        m = _monitor(db, d)
        w = db.get(MonitorWindow, window_id)
        if w is None or w.monitor_id != m.id:
            raise NotFound(f"Window {window_id} not found")
        number = db.get(ModelVersion, w.version_id).version
        db.expunge(w)
        db.commit()
        return w, d.name, number, m.window_size, m.window_seconds

    w, d_name, number, size, seconds = await run_in_threadpool(load)

    def render() -> str:
        profile = service.load_profile(request.app, w.version_id)
        frame = service.log_frame(request.app, slug, d_name)
        rows = dict(service.cut(frame[frame["__version"] == number], size, seconds)).get(w.seq)
        if rows is None:
            raise FileNotFoundError(w.seq)
        return drift.evidently_html(profile, service.window_features(rows))

    try:
        html = await run_in_threadpool(render)
    except FileNotFoundError:
        raise NotFound(f"Window {window_id} has no reference profile to compare with") from None
    # A sandboxed, opaque origin: the report's scripts run but cannot reach the platform's pages or cookies.
    return Response(html, media_type="text/html", headers={
        "Content-Security-Policy": "sandbox allow-scripts allow-popups", "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store"})


# --- alerts and retrainings -------------------------------------------------------------------------------------

@router.get("/projects/{slug}/alerts", response_model=AlertPage, summary="Alerts, newest first")
def list_alerts(slug: str, db: DB, who: Caller, page: Paging,
                state: Annotated[Literal["firing", "resolved"] | None, Query()] = None,
                deployment: Annotated[str | None, Query(max_length=64)] = None) -> AlertPage:
    g = require(db, who, slug, Action.read_monitoring)
    q = select(Alert).where(Alert.project_id == g.project.id)
    if state:
        q = q.where(Alert.state == state)
    if deployment:
        m = _monitor(db, _deployment(db, g.project.id, deployment))
        q = q.where(Alert.monitor_id == m.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Alert.id.desc()).offset(page.offset).limit(page.limit)).scalars().all()
    names = _monitor_names(db, g.project.id)
    out = AlertPage(items=[_alert_out(db, a, names) for a in rows], total=total)
    db.commit()
    return out


@router.get("/projects/{slug}/deployments/{name}/monitor/retrainings", response_model=RetrainingPage,
            summary="Automatic retrainings of a deployment: alert, run, version, gate decision, outcome")
def list_retrainings(slug: str, name: str, db: DB, who: Caller, page: Paging) -> RetrainingPage:
    g = require(db, who, slug, Action.read_monitoring, target=name)
    d = _deployment(db, g.project.id, name)
    m = _monitor(db, d)
    q = select(Retraining).where(Retraining.monitor_id == m.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Retraining.id.desc()).offset(page.offset).limit(page.limit)).scalars().all()
    out = RetrainingPage(items=[_retraining_out(db, r, d.name) for r in rows], total=total)
    db.commit()
    return out


# --- webhooks ---------------------------------------------------------------------------------------------------

def _hook_out(h: Webhook) -> WebhookOut:
    return WebhookOut(id=h.id, name=h.name, kind=h.kind, url=h.url, secret_set=bool(h.secret),
                      jira_project=h.jira_project, jira_issue_type=h.jira_issue_type, enabled=h.enabled,
                      created_by=h.created_by, created_at=_iso(h.created_at))


@router.post("/projects/{slug}/webhooks", response_model=WebhookOut, status_code=201,
             summary="Send the project's alerts to Slack, Jira or any URL (JSON signed with HMAC)")
def create_webhook(slug: str, body: WebhookRequest, request: Request, db: DB, who: Caller) -> WebhookOut:
    from . import webhooks

    g = require(db, who, slug, Action.manage_webhooks, target=body.name)
    if body.kind == "jira" and (not body.jira_project or not body.secret):
        raise Invalid("A Jira webhook needs jira_project (the project key) and secret (`user:api_token`)",
                      detail=[{"field": "jira_project" if not body.jira_project else "secret"}])
    try:
        webhooks.check_url(body.url, list(request.app.state.settings.webhook_allow_hosts))
    except Invalid as e:
        db.rollback()
        audit.append(db, actor=who.user, action="webhook.create", decision="deny", project=slug, target=body.name,
                     detail={"reason": e.message})
        db.commit()
        raise
    if db.execute(select(Webhook.id).where(Webhook.project_id == g.project.id, Webhook.name == body.name)).first():
        from ..errors import Conflict

        raise Conflict(f"A webhook named '{body.name}' exists", detail=[{"field": "name"}])
    h = Webhook(project_id=g.project.id, name=body.name, kind=body.kind, url=body.url, secret=body.secret,
                jira_project=body.jira_project, jira_issue_type=body.jira_issue_type, enabled=body.enabled,
                created_by=who.user)
    db.add(h)
    db.flush()
    audit.append(db, actor=who.user, action="webhook.create", decision="allow", project=slug, target=body.name,
                 detail={"kind": body.kind, "url": body.url})
    out = _hook_out(h)
    db.commit()
    return out


@router.get("/projects/{slug}/webhooks", response_model=WebhookPage, summary="The project's webhooks")
def list_webhooks(slug: str, db: DB, who: Caller, page: Paging) -> WebhookPage:
    g = require(db, who, slug, Action.read_monitoring)
    q = select(Webhook).where(Webhook.project_id == g.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Webhook.id).offset(page.offset).limit(page.limit)).scalars().all()
    out = WebhookPage(items=[_hook_out(h) for h in rows], total=total)
    db.commit()
    return out


@router.delete("/projects/{slug}/webhooks/{hook_id}", status_code=204, response_class=Response,
               summary="Stop sending alerts to a webhook")
def delete_webhook(slug: str, hook_id: Id, db: DB, who: Caller) -> Response:
    g = require(db, who, slug, Action.manage_webhooks, target=f"webhook:{hook_id}")
    h = db.get(Webhook, hook_id)
    if h is None or h.project_id != g.project.id:
        raise NotFound(f"Webhook {hook_id} not found")
    db.delete(h)
    audit.append(db, actor=who.user, action="webhook.delete", decision="allow", project=slug, target=h.name)
    db.commit()
    return Response(status_code=204)


# --- Dagster's sensor -------------------------------------------------------------------------------------------

def _sensor_claims(request: Request) -> None:
    require_scope(request, "monitors", "This token does not open the monitors' tick")


@router.post("/monitoring/ticks", response_model=TickResult, dependencies=[Depends(_sensor_claims)],
             summary="(Dagster's sensor only) evaluate every enabled monitor")
async def tick(request: Request) -> TickResult:
    results = await service.evaluate_all(request.app, request)
    parts = [f"monitor {mid}: {o if isinstance(o, str) else o.summary()}" for mid, o in results]
    return TickResult(monitors=len(results), summary="; ".join(parts) or "no enabled monitor")


# --- the stakeholder dashboard's data ---------------------------------------------------------------------------

class DashboardDeployment(BaseModel):
    name: str
    model: str
    version: int
    status: str
    sla_ms: float
    sla_compliance: float | None = Field(description="Share of the last 24 h's predictions answered within the SLA")
    predictions_24h: int
    p95_ms: float | None
    drift_status: str
    firing_alerts: int
    performance: list[dict[str, Any]] = Field(description="Per window, oldest first: end time and metrics")


class DashboardProject(BaseModel):
    slug: str
    name: str
    role: str
    deployments: list[DashboardDeployment]


class Dashboard(BaseModel):
    user: str
    generated_at: str
    projects: list[DashboardProject]


@router.get("/dashboard", response_model=Dashboard,
            summary="Read-only summary of the caller's projects: performance trends, deployment status, SLA")
async def dashboard(request: Request, db: DB, who: Caller) -> Dashboard:
    from ..serving import predlog

    def load() -> list[tuple[Project, str, list[Deployment]]]:
        if who.is_admin:
            projects = db.execute(select(Project).order_by(Project.slug)).scalars().all()
        else:
            projects = db.execute(select(Project).join(Membership, Membership.project_id == Project.id)
                                  .where(Membership.user == who.user).order_by(Project.slug)).scalars().all()
        out = []
        for p in projects:
            g = require(db, who, p.slug, Action.read_dashboard)
            deps = db.execute(select(Deployment).where(Deployment.project_id == p.id).order_by(Deployment.name)
                              ).scalars().all()
            out.append((p, g.role.value, deps))
        db.commit()
        return out

    since = datetime.now(timezone.utc) - timedelta(hours=24)
    projects = []
    for p, role, deps in await run_in_threadpool(load):
        items = []
        for d in deps:
            def stats(d: Deployment = d, slug: str = p.slug) -> tuple[int, float | None, float | None]:
                import numpy as np

                try:
                    t = request.app.state.datasets.scan(slug, predlog.table_name("predictions", d.name),
                                                        row_filter=f"ts >= '{since.isoformat()}'")
                except LookupError:
                    return 0, None, None
                lat = np.asarray(t.column("latency_ms").to_pylist(), dtype=float)
                if not lat.size:
                    return 0, None, None
                return int(lat.size), float((lat <= d.sla_ms).mean()), float(np.percentile(lat, 95))

            if request.app.state.gateway.predlog is not None:
                await request.app.state.gateway.predlog.drain(p.slug, d.name)
            n, compliance, p95 = await run_in_threadpool(stats)

            def monitor_view(d: Deployment = d) -> tuple[str, int, list[dict[str, Any]]]:
                m = db.execute(select(Monitor).where(Monitor.deployment_id == d.id)).scalar_one_or_none()
                if m is None:
                    return "not monitored", 0, []
                ws = db.execute(select(MonitorWindow).where(MonitorWindow.monitor_id == m.id)
                                .order_by(MonitorWindow.end_ts.desc()).limit(50)).scalars().all()
                firing = db.execute(select(func.count()).select_from(Alert).where(
                    Alert.monitor_id == m.id, Alert.state == "firing")).scalar_one()
                perf = []
                for w in reversed(ws):
                    pm = json.loads(w.performance or "{}")
                    perf.append({"end": _iso(w.end_ts), "labelled": w.labelled, "status": pm.get("status"),
                                 "metrics": pm.get("metrics", {})})
                current = [w for w in ws if w.version_id == d.version_id]  # the served version's newest window
                status = current[0].status if current else "waiting"
                db.commit()
                return status, firing, perf

            status, firing, perf = await run_in_threadpool(monitor_view)
            v = await run_in_threadpool(lambda d=d: (db.get(ModelVersion, d.version_id).version, db.commit())[0])
            items.append(DashboardDeployment(name=d.name, model=d.model.name, version=v, status=d.status,
                                             sla_ms=d.sla_ms, sla_compliance=compliance, predictions_24h=n,
                                             p95_ms=p95, drift_status=status, firing_alerts=firing,
                                             performance=perf))
        projects.append(DashboardProject(slug=p.slug, name=p.name, role=role, deployments=items))
    return Dashboard(user=who.user, generated_at=utcnow().isoformat(), projects=projects)

