"""The stakeholder dashboard's data: per project the caller belongs to (every project for an admin), each
deployment's status, last-24-hours traffic against its SLA, drift status, firing alerts and performance trend."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from ..access import Action, require
from ..deps import DB, Caller
from ..orm import Alert, Deployment, Membership, ModelVersion, Monitor, MonitorWindow, Project, utcnow
from ..serving.service import iso, prediction_table
from .schemas import Dashboard, DashboardDeployment, DashboardProject


async def dashboard(app, db: DB, who: Caller) -> Dashboard:  # noqa: ANN001
    """Read-only: the caller needs `read_dashboard` in each project shown."""

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
                    t = app.state.datasets.scan(slug, prediction_table("predictions", d.name),
                                                        row_filter=f"ts >= '{since.isoformat()}'")
                except LookupError:
                    return 0, None, None
                lat = np.asarray(t.column("latency_ms").to_pylist(), dtype=float)
                if not lat.size:
                    return 0, None, None
                return int(lat.size), float((lat <= d.sla_ms).mean()), float(np.percentile(lat, 95))

            if app.state.gateway.predlog is not None:
                await app.state.gateway.predlog.drain(p.slug, d.name)
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
                    perf.append({"end": iso(w.end_ts), "labelled": w.labelled, "status": pm.get("status"),
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

