"""Monitors, the service under the monitoring API: a deployment's monitor set (its version profiled, Dagster's
sensor told), read, evaluated now; its windows, a window's Evidently report, its alerts and retrainings.

Each function checks the caller's access itself and raises the domain errors of `errors.py`. `request` is passed
on only where pipelines' service needs it for Dagster (`sync_dagster`, and the retraining an evaluation starts).
"""

from __future__ import annotations

import dataclasses
import json
from html import escape

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..access import Action, require
from ..datasets.service import MASK_TOKEN, ColumnDenied, Shaper, column_policies
from ..deps import DB, Caller
from ..errors import NotFound
from ..orm import (Alert, Deployment, ModelVersion, Monitor, MonitorWindow, Project, ReferenceProfile, Retraining,
                   Webhook, WebhookDelivery)
from ..serving.service import find_deployment, iso
from . import service
from .shaping import DRIFT_KEEP, PROFILE_KEEP, shape_alert, shape_features
from .schemas import (AlertOut, AlertPage, DeliveryOut, EvaluationOut, MonitorOut, MonitorRequest, ProfileOut,
                      RetrainingOut, RetrainingPage, WindowOut, WindowPage)


def find_monitor(db: DB, d: Deployment) -> Monitor:
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
                      created_at=iso(row.created_at))


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
                      created_at=iso(m.created_at), evaluated_at=iso(m.evaluated_at), message=m.message,
                      profile=_profile_out(prof, v.version), baseline=service.baseline_of(db, d.version_id),
                      status=latest.status if latest else "waiting", pending_rows=m.pending_rows,
                      status_message=json.loads(latest.drift).get("message") if latest else None,
                      firing=firing, firing_critical=critical)


def _window_out(db: DB, w: MonitorWindow, numbers: dict[int, int]) -> WindowOut:
    return WindowOut(id=w.id, version=numbers.get(w.version_id, 0), seq=w.seq, start=iso(w.start_ts),
                     end=iso(w.end_ts), rows=w.rows, status=w.status, drift=json.loads(w.drift),
                     labelled=w.labelled, performance=json.loads(w.performance) if w.performance else None)


def _alert_out(db: DB, a: Alert, names: dict[int, str], shaper: Shaper) -> AlertOut:
    hooks = {h.id: h.name for h in db.execute(select(Webhook).where(Webhook.project_id == a.project_id)).scalars()}
    deliveries = [DeliveryOut(webhook=hooks.get(x.webhook_id, str(x.webhook_id)), state=x.state, ok=x.ok,
                              status_code=x.status_code, attempts=x.attempts, error=x.error, at=iso(x.created_at))
                  for x in db.execute(select(WebhookDelivery).where(WebhookDelivery.alert_id == a.id)
                                      .order_by(WebhookDelivery.id)).scalars()]
    title, detail = shape_alert(shaper, a.kind, a.title, json.loads(a.detail or "{}"))
    return AlertOut(id=a.id, deployment=names.get(a.monitor_id, ""), key=a.key, kind=a.kind, severity=a.severity,
                    state=a.state, title=title, detail=detail, windows=a.windows,
                    started_at=iso(a.started_at), updated_at=iso(a.updated_at), resolved_at=iso(a.resolved_at),
                    deliveries=deliveries)


def _monitor_names(db: DB, project_id: int) -> dict[int, str]:
    return {m: n for m, n in db.execute(select(Monitor.id, Deployment.name).join(
        Deployment, Monitor.deployment_id == Deployment.id).where(Monitor.project_id == project_id)).all()}


def _retraining_out(db: DB, r: Retraining, d_name: str) -> RetrainingOut:
    a = db.get(Alert, r.alert_id) if r.alert_id else None
    v = db.get(ModelVersion, r.version_id) if r.version_id else None
    return RetrainingOut(id=r.id, deployment=d_name, alert_id=r.alert_id, alert=a.key if a else None,
                         pipeline_run_id=r.pipeline_run_id, status=r.status, version=v.version if v else None,
                         decision_id=r.decision_id, message=r.message, created_at=iso(r.created_at),
                         updated_at=iso(r.updated_at))


# --- monitors ---------------------------------------------------------------------------------------------------

async def put_monitor(app, request, db: DB, who: Caller, slug: str, name: str,  # noqa: ANN001
                      config: MonitorRequest) -> MonitorOut:
    """Create or change a deployment's monitor; profile its version's training data and calibrate the drift
    thresholds; make sure Dagster's sensor runs (the monitor works without it: its message says so)."""
    from . import drift
    from ..pipelines.service import sync_dagster

    def store() -> tuple[int, str, int]:
        g = require(db, who, slug, Action.write_monitoring, target=name)
        d = find_deployment(db, g.project.id, name)
        m = db.execute(select(Monitor).where(Monitor.deployment_id == d.id)).scalar_one_or_none()
        if m is None:
            m = Monitor(project_id=g.project.id, deployment_id=d.id, created_by=who.user,
                        window_size=config.window_size or drift.DEFAULT_WINDOW)
            db.add(m)
        m.window_size = config.window_size or m.window_size or drift.DEFAULT_WINDOW
        m.window_seconds = config.window_seconds
        m.tolerance, m.retrain, m.retrain_on = json.dumps(config.tolerance), config.retrain, config.retrain_on
        m.cooldown_s, m.enabled = config.cooldown_s, config.enabled
        if config.retrain:
            # Retraining runs as this user; they must be able to run pipelines and promote models now.
            require(db, who, slug, Action.run_pipelines, target=f"monitor:{name}")
            require(db, who, slug, Action.write_models, target=f"monitor:{name}")
        audit.append(db, actor=who.user, action="monitor.set", decision="allow", project=slug, target=name,
                     detail=config.model_dump())
        db.commit()
        return d.version_id, d.name, m.window_size

    version_id, d_name, window = await run_in_threadpool(store)
    await service.ensure_profile(app, slug, d_name, version_id, window)
    try:
        await sync_dagster(request, db)  # the sensor that evaluates monitors
    except Exception as e:  # noqa: BLE001 - the monitor works without the sensor ("check now"); say so
        await run_in_threadpool(_note, db, slug, d_name, f"Dagster's sensor is not running: {e}")
    # Saved: the answer is the monitor as this role may see it. Saving reads no rows, so a feature whose column the
    # role is denied is withheld from the answer (named, with its policy), not refused after the write.
    return await get_monitor(db, who, slug, name, refuse=False)


def _note(db: DB, slug: str, name: str, message: str) -> None:
    p = db.execute(select(Project).where(Project.slug == slug)).scalar_one()
    m = find_monitor(db, find_deployment(db, p.id, name))
    m.message = message
    db.commit()


async def get_monitor(db: DB, who: Caller, slug: str, name: str, refuse: bool = True) -> MonitorOut:
    """The monitor with its profile shaped for the caller's role; a feature denied to it refuses the read (403), or
    with `refuse=False` (the answer to a write that succeeded) is withheld like a masked one."""
    def load() -> tuple[Monitor, Deployment, Shaper]:
        g = require(db, who, slug, Action.read_monitoring, target=name)
        d = find_deployment(db, g.project.id, name)
        m = find_monitor(db, d)
        shaper = column_policies(db, g.project.id, g.role.value)
        db.commit()
        return m, d, shaper

    m, d, shaper = await run_in_threadpool(load)

    def shaped() -> MonitorOut:
        out = _monitor_out(db, m, d)
        # The profile's statistics sum up the training data's values: shaped for the caller's column policies.
        try:
            features = shape_features(shaper, out.profile.features if out.profile else [], PROFILE_KEEP, refuse)
        except ColumnDenied as e:
            shaper.refused(db, who, slug, "monitor-profile", name, e)
            raise
        if out.profile is not None and features is not out.profile.features:
            out.profile = out.profile.model_copy(update={"features": features})
        shaper.audit(db, who, slug, "monitor-profile", name)
        db.commit()
        return out

    return await run_in_threadpool(shaped)


async def evaluate_now(app, request, db: DB, who: Caller, slug: str, name: str) -> EvaluationOut:  # noqa: ANN001
    def load() -> int:
        g = require(db, who, slug, Action.write_monitoring, target=name)
        m = find_monitor(db, find_deployment(db, g.project.id, name))
        db.commit()
        return m.id

    out = await service.evaluate(app, request, await run_in_threadpool(load))
    return EvaluationOut(windows=out.windows, fired=out.fired, resolved=out.resolved, retraining=out.retraining,
                         summary=out.summary(), message=out.message)


def list_windows(db: DB, who: Caller, slug: str, name: str, limit: int, offset: int) -> WindowPage:
    g = require(db, who, slug, Action.read_monitoring, target=name)
    m = find_monitor(db, find_deployment(db, g.project.id, name))
    q = select(MonitorWindow).where(MonitorWindow.monitor_id == m.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(MonitorWindow.end_ts.desc(), MonitorWindow.id.desc())
                      .offset(offset).limit(limit)).scalars().all()
    numbers = {v.id: v.version for v in db.execute(select(ModelVersion).where(
        ModelVersion.id.in_({w.version_id for w in rows}))).scalars()}
    out = WindowPage(items=[_window_out(db, w, numbers) for w in rows], total=total)
    # A window's drift statistic per feature sums up its values: shaped for the caller's column policies.
    shaper = column_policies(db, g.project.id, g.role.value)
    try:
        for item in out.items:
            if isinstance(item.drift.get("features"), list):
                item.drift["features"] = shape_features(shaper, item.drift["features"], DRIFT_KEEP)
    except ColumnDenied as e:
        shaper.refused(db, who, slug, "monitor-windows", name, e)
        raise
    shaper.audit(db, who, slug, "monitor-windows", name)
    db.commit()
    return out


async def window_report(app, db: DB, who: Caller, slug: str, name: str, window_id: int) -> str:  # noqa: ANN001
    """Evidently's HTML drift report of one window, against its version's reference profile."""
    from . import drift

    def load() -> tuple[MonitorWindow, str, int, int, int | None, Shaper]:
        g = require(db, who, slug, Action.read_monitoring, target=f"{name}/window:{window_id}")
        d = find_deployment(db, g.project.id, name)
        m = find_monitor(db, d)
        w = db.get(MonitorWindow, window_id)
        if w is None or w.monitor_id != m.id:
            raise NotFound(f"Window {window_id} not found")
        number = db.get(ModelVersion, w.version_id).version
        shaper = column_policies(db, g.project.id, g.role.value)  # the project's column policies for this role
        db.expunge(w)
        db.commit()
        return w, d.name, number, m.window_size, m.window_seconds, shaper

    w, d_name, number, size, seconds, shaper = await run_in_threadpool(load)

    def render() -> str:
        profile = service.load_profile(app, w.version_id)
        frame = service.log_frame(app, slug, d_name)
        rows = dict(service.cut(frame[frame["__version"] == number], size, seconds)).get(w.seq) \
            if len(frame) else None
        if rows is None:
            raise _RowsGone(w.seq)
        features = service.window_features(rows)
        # The report draws the window's values and the reference's: a feature this role sees masked, hashed or not
        # at all is left out of both (a denied one refuses the report), and the report names the policy.
        withheld = shaper.withheld(sorted({*features.columns, *profile.features}, key=str))
        if not withheld:
            return drift.evidently_html(profile, features)
        gone = {c for c, _ in withheld}
        profile = dataclasses.replace(profile, features=[f for f in profile.features if f not in gone])
        html = drift.evidently_html(profile, features[[c for c in features.columns if str(c) not in gone]])
        note = "".join(f"<li>{escape(c)}: {MASK_TOKEN} for your role ({escape(r.role)}), column policy "
                       f"<code>{escape(r.name)}</code></li>" for c, r in withheld)
        note = f'<div id="mlp-withheld"><p>Features withheld from this report:</p><ul>{note}</ul></div>'
        at = html.find("<body")
        at = html.find(">", at) + 1 if at >= 0 else 0
        return html[:at] + note + html[at:]

    def shaped_render() -> str:
        with app.state.db.session() as s:
            try:
                html = render()
            except ColumnDenied as e:
                shaper.refused(s, who, slug, "drift-report", f"{name}/window:{window_id}", e)
                raise
            shaper.audit(s, who, slug, "drift-report", f"{name}/window:{window_id}")
            s.commit()
        return html

    try:
        return await run_in_threadpool(shaped_render)
    except FileNotFoundError:
        raise NotFound(f"Window {window_id} has no reference profile to compare with") from None
    except _RowsGone:
        raise NotFound(f"Window {window_id}: its predictions are no longer in the deployment's prediction log, so "
                       "its report cannot be drawn again (its statistics above are kept)") from None



class _RowsGone(Exception):
    """A window's predictions are no longer in the prediction log (a report cannot be drawn again)."""

# --- alerts and retrainings -------------------------------------------------------------------------------------

def list_alerts(db: DB, who: Caller, slug: str, limit: int, offset: int, state: str | None,
                deployment: str | None) -> AlertPage:
    g = require(db, who, slug, Action.read_monitoring)
    q = select(Alert).where(Alert.project_id == g.project.id)
    if state:
        q = q.where(Alert.state == state)
    if deployment:
        m = find_monitor(db, find_deployment(db, g.project.id, deployment))
        q = q.where(Alert.monitor_id == m.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Alert.id.desc()).offset(offset).limit(limit)).scalars().all()
    names = _monitor_names(db, g.project.id)
    # A drift alert quotes its window's test statistic: shaped for the caller's column policies like the windows.
    shaper = column_policies(db, g.project.id, g.role.value)
    out = AlertPage(items=[_alert_out(db, a, names, shaper) for a in rows], total=total)
    shaper.audit(db, who, slug, "alerts", deployment or "alerts")
    db.commit()
    return out


def list_retrainings(db: DB, who: Caller, slug: str, name: str, limit: int, offset: int) -> RetrainingPage:
    g = require(db, who, slug, Action.read_monitoring, target=name)
    d = find_deployment(db, g.project.id, name)
    m = find_monitor(db, d)
    q = select(Retraining).where(Retraining.monitor_id == m.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Retraining.id.desc()).offset(offset).limit(limit)).scalars().all()
    out = RetrainingPage(items=[_retraining_out(db, r, d.name) for r in rows], total=total)
    db.commit()
    return out
