"""Alerts: the newest windows' findings turned into alerts (one per condition, firing until a later window no
longer shows it) and each change of state delivered to the project's webhooks; the webhooks themselves (created,
listed, deleted: the service under the monitoring API's webhook routes). Sending is `webhooks.py`'s."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, update
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..access import Action, require
from ..datasets.service import column_rules
from ..deps import DB, Caller
from ..errors import Conflict, Invalid, NotFound
from ..orm import (Alert, Deployment, Monitor, MonitorWindow, PlatformEvent, Project, Webhook, WebhookDelivery,
                   utcnow)
from ..serving.service import iso
from .schemas import WebhookOut, WebhookPage
from .shaping import outbound_detail, outbound_title
from .windows import jsonable


def _aware(dt: datetime | None) -> datetime | None:
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _named_columns(s, project_id: int) -> dict[str, list[str]]:  # noqa: ANN001
    """The project's columns that a policy masks, hashes or denies for some role, with those policies' names: what
    an alert leaving without a reader's role (stored title, webhook payload) does not quote the statistic of."""
    named: dict[str, list[str]] = {}
    for r in column_rules(s, project_id):
        if r.action != "allow":
            named.setdefault(r.column, []).append(r.name)
    return named


def _alert_to_hook(a: Alert, slug: str, deployment: str, named: dict[str, list[str]]):  # noqa: ANN202
    from .webhooks import Alert as Payload

    return Payload(id=a.id, project=slug, deployment=deployment, monitor=deployment, kind=a.kind, key=a.key,
                   state=a.state, severity=a.severity, title=a.title,
                   detail=outbound_detail(a.kind, json.loads(a.detail), named),
                   started_at=_aware(a.started_at).isoformat(),
                   resolved_at=_aware(a.resolved_at).isoformat() if a.resolved_at else None, url=None)


def _findings(latest: MonitorWindow | None, latest_perf: MonitorWindow | None) -> tuple[dict[str, dict], set[str]]:
    """What the newest windows say: {key: alert fields} firing now, and the keys they show as fine."""
    firing: dict[str, dict] = {}
    fine: set[str] = set()
    if latest is not None:
        res = json.loads(latest.drift)
        where = {"window": latest.seq, "version_id": latest.version_id, "rows": latest.rows}
        if res.get("status") == "schema changed":
            firing["data:schema"] = {"kind": "data", "severity": "critical",
                                     "title": f"Schema changed: {res.get('message') or 'columns differ'}",
                                     "detail": {**where, "added": res.get("added_columns"),
                                                "missing": res.get("missing_columns")}}
        else:
            fine.add("data:schema")
        for f in res.get("features", []):
            key = f"drift:{f['feature']}"
            if f.get("status") == "drift":
                firing[key] = {"kind": "drift", "severity": "warning",
                               "title": f"Drift in {f['feature']}: {f['test'].upper()} {f['statistic']:.4g} "
                                        f"({'≤' if f['test'] == 'ks' else '≥'} threshold {f['threshold']:.4g})",
                               "detail": {**where, **f}}
            elif f.get("status") == "ok":
                fine.add(key)
    if latest_perf is not None and latest_perf.performance:
        perf = json.loads(latest_perf.performance)
        for c in perf.get("checks", []):
            key = f"performance:{c['metric']}"
            if c.get("status") == "not enough labelled rows":
                continue  # no verdict either way: like a window with insufficient data, it changes nothing
            if c["degraded"]:
                ci = c.get("interval")
                firing[key] = {"kind": "performance", "severity": "critical",
                               "title": f"{c['metric']} {'rose' if c['value'] > c['baseline'] else 'fell'} to {c['value']:.4g} "
                                        + (f"(95% interval {ci[0]:.4g}–{ci[1]:.4g}; " if ci else "(")
                                        + f"validated {c['baseline']:.4g}, tolerance {c['tolerance']:.3g})",
                               "detail": {"window": latest_perf.seq, "version_id": latest_perf.version_id,
                                          "labelled": perf.get("labelled"), **c}}
            else:
                fine.add(key)
        for u in perf.get("unavailable", []):  # cannot be computed from what was served: nothing to alarm on
            fine.add(f"performance:{u['metric']}")
    return firing, fine


def _update_alerts(app, monitor_id: int) -> tuple[list[int], list[int]]:  # noqa: ANN001
    """Open, refresh or resolve alerts from the newest windows; returns (fired ids, resolved ids)."""
    db = app.state.db
    with db.session() as s:
        mon = s.get(Monitor, monitor_id)
        d = s.get(Deployment, mon.deployment_id)
        slug = s.get(Project, mon.project_id).slug
        latest = s.execute(select(MonitorWindow).where(MonitorWindow.monitor_id == monitor_id,
                                                       MonitorWindow.version_id == d.version_id)
                           .order_by(MonitorWindow.seq.desc())).scalars().first()
        latest_perf = s.execute(select(MonitorWindow).where(
            MonitorWindow.monitor_id == monitor_id, MonitorWindow.version_id == d.version_id,
            MonitorWindow.performance.is_not(None), ~MonitorWindow.performance.contains('"status": "insufficient data"'))
            .order_by(MonitorWindow.seq.desc())).scalars().first()
        firing, fine = _findings(latest, latest_perf)
        named = _named_columns(s, mon.project_id)
        for f in firing.values():
            f["title"] = outbound_title(f["kind"], f["title"], f["detail"], named)
        open_ = {a.key: a for a in s.execute(select(Alert).where(Alert.monitor_id == monitor_id,
                                                                  Alert.state == "firing")).scalars()}
        fired, resolved = [], []
        now = utcnow()
        for key, a in list(open_.items()):
            if json.loads(a.detail).get("version_id") not in (None, d.version_id):
                # The version it concerned no longer serves: what the new one shows starts a new episode.
                a.state, a.resolved_at, a.updated_at = "resolved", now, now
                a.detail = json.dumps({**json.loads(a.detail), "resolved_because": "the deployment serves another "
                                                                                   "version"})
                resolved.append(a.id)
                del open_[key]
                audit.append(s, actor="monitor", action="alert.resolve", decision="allow", project=slug,
                             target=f"{d.name}:{key}", detail={"alert": a.id, "reason": "version replaced"})
        for key, f in firing.items():
            a = open_.get(key)
            if a is None:
                a = Alert(project_id=mon.project_id, monitor_id=monitor_id, key=key, kind=f["kind"],
                          severity=f["severity"], state="firing", title=f["title"],
                          detail=json.dumps(f["detail"], default=jsonable), windows=1, started_at=now, updated_at=now)
                s.add(a)
                s.flush()
                fired.append(a.id)
                audit.append(s, actor="monitor", action="alert.fire", decision="allow", project=slug,
                             target=f"{d.name}:{key}", detail={"alert": a.id, "title": f["title"]})
            elif json.loads(a.detail).get("window") != f["detail"].get("window"):
                a.windows += 1
                a.title, a.detail, a.updated_at = f["title"], json.dumps(f["detail"], default=jsonable), now
        for key, a in open_.items():
            if key in fine and key not in firing:
                a.state, a.resolved_at, a.updated_at = "resolved", now, now
                resolved.append(a.id)
                audit.append(s, actor="monitor", action="alert.resolve", decision="allow", project=slug,
                             target=f"{d.name}:{key}", detail={"alert": a.id})
        s.commit()
        return fired, resolved


ALERT_EVENTS = ("mlp.monitoring.alert.firing", "mlp.monitoring.alert.resolved")


async def deliver_events(app) -> list[int]:  # noqa: ANN001
    """Webhooks as a consumer of the platform events outbox (docs/events.md): claim every alert event not yet
    claimed (one conditional update per row, so two callers never both take one) and deliver its alert. Called
    after each evaluation, it also takes what an evaluation interrupted before its delivery left behind. Returns
    the alert ids delivered."""

    def claim() -> list[int]:
        with app.state.db.session() as s:
            rows = s.execute(select(PlatformEvent.seq, PlatformEvent.body)
                             .where(PlatformEvent.type.in_(ALERT_EVENTS), PlatformEvent.hooks_at.is_(None))
                             .order_by(PlatformEvent.seq)).all()
            ids = []
            for seq, body in rows:
                took = s.execute(update(PlatformEvent).where(PlatformEvent.seq == seq, PlatformEvent.hooks_at.is_(None))
                                 .values(hooks_at=utcnow())).rowcount
                if took:
                    ids.append(int(json.loads(body)["data"]["alert_id"]))
            s.commit()
            return ids

    ids = await run_in_threadpool(claim)
    if ids:
        await deliver(app, ids)
    return ids


async def deliver(app, alert_ids: list[int]) -> None:  # noqa: ANN001
    """Announce alerts (firing or resolved) to every enabled webhook of their project; record each delivery."""
    from . import webhooks

    allow = list(app.state.settings.webhook_allow_hosts)

    def load() -> list[tuple[Any, list[Any], dict[str, str]]]:
        out = []
        with app.state.db.session() as s:
            for aid in alert_ids:
                a = s.get(Alert, aid)
                if a is None:  # its monitor was deleted since
                    continue
                mon = s.get(Monitor, a.monitor_id)
                d = s.get(Deployment, mon.deployment_id)
                slug = s.get(Project, a.project_id).slug
                hooks = [webhooks.Hook(id=h.id, kind=h.kind, url=h.url, secret=h.secret, jira_project=h.jira_project,
                                       jira_issue_type=h.jira_issue_type)
                         for h in s.execute(select(Webhook).where(Webhook.project_id == a.project_id,
                                                                  Webhook.enabled)).scalars()]
                named = _named_columns(s, a.project_id)
                out.append((_alert_to_hook(a, slug, d.name, named), hooks, json.loads(a.external or "{}")))
        return out

    for payload, hooks, external in await run_in_threadpool(load):
        results = await asyncio.gather(*(webhooks.deliver(h, payload, allow, external_id=external.get(str(h.id)))
                                         for h in hooks))

        def store(payload=payload, hooks=hooks, results=results) -> None:  # noqa: ANN001
            with app.state.db.session() as s:
                a = s.get(Alert, payload.id)
                ext = json.loads(a.external or "{}")
                for h, r in zip(hooks, results):
                    s.add(WebhookDelivery(webhook_id=h.id, alert_id=payload.id, state=payload.state, ok=r.ok,
                                          status_code=r.status_code, attempts=r.attempts, error=r.error))
                    if r.external_id:
                        ext[str(h.id)] = r.external_id
                a.external = json.dumps(ext)
                s.commit()

        await run_in_threadpool(store)




# --- where alerts go: the project's webhooks ----------------------------------------------------------------------

def _hook_out(h: Webhook) -> WebhookOut:
    return WebhookOut(id=h.id, name=h.name, kind=h.kind, url=h.url, secret_set=bool(h.secret),
                      jira_project=h.jira_project, jira_issue_type=h.jira_issue_type, enabled=h.enabled,
                      created_by=h.created_by, created_at=iso(h.created_at))


def create_webhook(app, db: DB, who: Caller, slug: str, *, name: str, kind: str, url: str,  # noqa: ANN001
                   secret: str | None, jira_project: str | None, jira_issue_type: str, enabled: bool) -> WebhookOut:
    """A webhook for the project's alerts; its URL must pass `webhooks.check_url` (a refusal is audited)."""
    from . import webhooks

    g = require(db, who, slug, Action.manage_webhooks, target=name)
    if kind == "jira" and (not jira_project or not secret):
        raise Invalid("A Jira webhook needs jira_project (the project key) and secret (`user:api_token`)",
                      detail=[{"field": "jira_project" if not jira_project else "secret"}])
    try:
        webhooks.check_url(url, list(app.state.settings.webhook_allow_hosts))
    except Invalid as e:
        db.rollback()
        audit.append(db, actor=who.user, action="webhook.create", decision="deny", project=slug, target=name,
                     detail={"reason": e.message})
        db.commit()
        raise
    if db.execute(select(Webhook.id).where(Webhook.project_id == g.project.id, Webhook.name == name)).first():
        raise Conflict(f"A webhook named '{name}' exists", detail=[{"field": "name"}])
    h = Webhook(project_id=g.project.id, name=name, kind=kind, url=url, secret=secret,
                jira_project=jira_project, jira_issue_type=jira_issue_type, enabled=enabled,
                created_by=who.user)
    db.add(h)
    db.flush()
    audit.append(db, actor=who.user, action="webhook.create", decision="allow", project=slug, target=name,
                 detail={"kind": kind, "url": url})
    out = _hook_out(h)
    db.commit()
    return out


def list_webhooks(db: DB, who: Caller, slug: str, limit: int, offset: int) -> WebhookPage:
    g = require(db, who, slug, Action.read_monitoring)
    q = select(Webhook).where(Webhook.project_id == g.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Webhook.id).offset(offset).limit(limit)).scalars().all()
    out = WebhookPage(items=[_hook_out(h) for h in rows], total=total)
    db.commit()
    return out


def delete_webhook(db: DB, who: Caller, slug: str, hook_id: int) -> None:
    g = require(db, who, slug, Action.manage_webhooks, target=f"webhook:{hook_id}")
    h = db.get(Webhook, hook_id)
    if h is None or h.project_id != g.project.id:
        raise NotFound(f"Webhook {hook_id} not found")
    db.delete(h)
    audit.append(db, actor=who.user, action="webhook.delete", decision="allow", project=slug, target=h.name)
    db.commit()
