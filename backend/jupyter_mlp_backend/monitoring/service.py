"""Monitors: the prediction log cut into windows, drift and performance per window, alerts, webhooks, retraining.

One monitor watches one deployment. An evaluation (Dagster's sensor asks for one every
`monitor_interval_seconds`; "Check now" in the panel asks too):

1. flushes the deployment's prediction log and reads what was appended to it, and to its feedback table, since
   the last evaluation (`cursor.py`: the monitor's cursor keeps the rows waiting for a window and the newest
   windows' labels, so an evaluation's cost does not grow with the log);
2. cuts each served version's predictions, in time order, into windows of `window_size` rows; a full window's
   drift is computed once against that version's reference profile (`drift.check_window`) and stored; the
   performance of the latest windows is recomputed while late labels arrive;
3. turns the newest window's findings into alerts — one alert per condition (`drift:<feature>`,
   `performance:<metric>`, `data:schema`), firing until a later window no longer shows it, then resolved — and
   delivers each change of state to the project's webhooks, from the platform events outbox (`deliver_events`);
4. when an alert starts firing and the monitor retrains, launches the pipeline that produced the deployed version
   on the current dataset snapshots, as the monitor's creator; later evaluations follow the run: its new version
   goes through the registry's gates for `champion`, and only a passing version is deployed.

The steps live in `reference.py` (1's reference profiles), `windows.py` (1 and 2) and `alerts.py` (3), the
retraining in `retraining.py` (4); this module runs them in order and is the domain's service for the API's
routes (`monitors.py`, `alerts.py`, `dashboard.py` serve them) and for the app (`State`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..orm import Alert, Deployment, ModelVersion, Monitor, Project, ReferenceProfile, Retraining, utcnow
from .alerts import _update_alerts, deliver, deliver_events
from .reference import build_reference, ensure_profile, load_profile, profile_dir
from .schemas import MonitorRequest
from . import cursor
from .windows import baseline_of, cut, log_frame, performance, store_windows, window_features

__all__ = ["MonitorRequest", "Outcome", "State", "baseline_of", "build_reference", "cut", "deliver", "ensure_profile",
           "evaluate", "evaluate_all", "load_profile", "log_frame", "performance", "profile_dir", "retraining_rows",
           "set_monitor", "version_windows", "window_features"]

log = logging.getLogger(__name__)

# --- evaluation -------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    windows: int = 0
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    retraining: list[str] = field(default_factory=list)
    status: str = "ok"
    message: str | None = None

    def summary(self) -> str:
        parts = [f"{self.windows} new window(s)"]
        if self.fired:
            parts.append("firing: " + ", ".join(self.fired))
        if self.resolved:
            parts.append("resolved: " + ", ".join(self.resolved))
        if self.retraining:
            parts.append("retraining: " + ", ".join(self.retraining))
        return "; ".join(parts)


class State:
    """What the backend keeps in memory for monitoring: a lock per monitor and loaded reference profiles."""

    def __init__(self) -> None:
        self.locks: dict[int, asyncio.Lock] = {}
        self.profiles: dict[int, tuple[int | None, Any]] = {}
        self.tasks: set[asyncio.Task] = set()  # reference profiles being built in the background

    def lock(self, monitor_id: int) -> asyncio.Lock:
        return self.locks.setdefault(monitor_id, asyncio.Lock())

    def profile_later(self, app, slug: str, version_id: int, inputs: list[str] | None,  # noqa: ANN001
                      target: str | None, evaluation: str | None) -> None:
        """A validated version gets its drift reference (training data profile, calibrated thresholds) in the
        background; a monitor created before it is done builds it itself. (The registry asks for it on a
        promotion through `app.state.monitoring`.)"""
        from . import drift

        async def build() -> None:
            try:
                await run_in_threadpool(build_reference, app, slug, version_id, inputs, drift.DEFAULT_WINDOW,
                                        target, evaluation)
            except Exception:  # noqa: BLE001 - logged; the monitor retries
                log.exception("reference profile of version %s", version_id)

        task = asyncio.get_running_loop().create_task(build())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def evaluate(app, request, monitor_id: int) -> Outcome:  # noqa: ANN001
    """One evaluation of one monitor (see the module's docstring)."""
    async with app.state.monitoring.lock(monitor_id):
        return await _evaluate(app, request, monitor_id)


async def _evaluate(app, request, monitor_id: int) -> Outcome:  # noqa: ANN001
    out = Outcome()

    def load() -> tuple[Monitor, Deployment, str]:
        with app.state.db.session() as s:
            mon = s.get(Monitor, monitor_id)
            d = s.get(Deployment, mon.deployment_id)
            slug = s.get(Project, mon.project_id).slug
            s.expunge(mon)
            s.expunge(d)
            return mon, d, slug

    mon, d, slug = await run_in_threadpool(load)
    gw = app.state.gateway
    unlogged = await gw.predlog.drain(slug, d.name) if gw.predlog is not None else 0  # the log's barrier
    profile_row = await ensure_profile(app, slug, d.name, d.version_id, mon.window_size)
    message = profile_row.message if profile_row.status != "ready" else None
    if unlogged:
        message = "; ".join(filter(None, [message, f"{unlogged} answered prediction(s) are not in the log yet (its "
                                          "writes are failing: see the deployment's events); the next evaluation "
                                          "reads them"]))
    key = (d.id, mon.window_size, mon.window_seconds, mon.created_at.isoformat() if mon.created_at else None)
    parts, read = await run_in_threadpool(cursor.evaluate_log, app, slug, d.name, monitor_id, key, mon.window_size,
                                          mon.window_seconds)  # the rows appended since the last evaluation

    def prepare() -> tuple[dict[int, Any], dict[int, dict]]:
        profiles, baselines = {}, {}
        with app.state.db.session() as s:
            versions = {v.version: v.id for v in s.execute(select(ModelVersion).where(
                ModelVersion.model_id == d.model_id)).scalars()}
            seen = {versions.get(p.number) for p in parts}
            for vid in ({d.version_id} | seen) - {None}:
                row = s.execute(select(ReferenceProfile).where(ReferenceProfile.version_id == vid)).scalar_one_or_none()
                if row is not None and row.status == "ready":
                    profiles[vid] = load_profile(app, vid)
                baselines[vid] = baseline_of(s, vid)
        return profiles, baselines

    profiles, baselines = await run_in_threadpool(prepare)
    tolerance = json.loads(mon.tolerance or "{}")
    out.windows = await run_in_threadpool(store_windows, app, monitor_id, parts, profiles, baselines, tolerance)
    await run_in_threadpool(cursor.save, app.state.settings.home, monitor_id, read)  # after the windows are stored
    attrs = cursor.log_attrs(read)
    fired, resolved = await run_in_threadpool(_update_alerts, app, monitor_id)
    await deliver_events(app)  # webhooks consume the events outbox: these alerts' events, and any left behind

    def names_of(ids: list[int]) -> list[str]:
        with app.state.db.session() as s:
            return [s.get(Alert, i).key for i in ids]

    out.fired, out.resolved = await run_in_threadpool(names_of, fired), await run_in_threadpool(names_of, resolved)

    def finish() -> None:
        with app.state.db.session() as s:
            m = s.get(Monitor, monitor_id)
            m.evaluated_at = utcnow()
            notes = [message] if message else []
            if skipped := attrs["skipped_requests"]:
                notes.append(f"{skipped} logged request(s) could not be read as rows")
            if unmatched := attrs["unmatched_labels"]:
                notes.append(f"{unmatched} label(s) name prediction ids this deployment never returned: they are "
                             "kept in its feedback table and left out of performance")
            m.message = "; ".join(notes) or None
            s.commit()

    await run_in_threadpool(finish)
    from . import retraining

    out.retraining = await retraining.step(app, request, monitor_id, fired)
    out.message = message
    return out


async def evaluate_all(app, request) -> list[tuple[int, Outcome | str]]:  # noqa: ANN001
    def ids() -> list[int]:
        with app.state.db.session() as s:
            return list(s.execute(select(Monitor.id).where(Monitor.enabled)).scalars())

    results: list[tuple[int, Outcome | str]] = []
    for mid in await run_in_threadpool(ids):
        try:
            results.append((mid, await evaluate(app, request, mid)))
        except Exception as e:  # noqa: BLE001 - one broken monitor must not stop the others
            log.exception("monitor %s", mid)
            results.append((mid, f"failed: {e}"))
    return results


def retraining_rows(db, monitor_id: int) -> list[Retraining]:  # noqa: ANN001
    return list(db.execute(select(Retraining).where(Retraining.monitor_id == monitor_id)
                           .order_by(Retraining.id.desc())).scalars())



def version_windows(db, who, slug: str, model: str, version: int) -> list[dict[str, Any]]:  # noqa: ANN001
    """What the monitors saw of one model version since it was deployed (for the model card): per deployment of the
    project whose monitor cut windows of it, those windows oldest first as the windows API shows them (`id`, `seq`,
    `start`, `end`, `rows`, `status`, `drift`, `labelled`, `performance`). Checks monitoring.read; an unknown model
    or version has no windows ([]). The drift statistics of a feature the caller's column policies mask, hash or
    deny are withheld (`shaping.py`; a denied one too, so the card stays readable), audited as path model-card."""
    from ..access import Action, require
    from ..datasets.service import column_policies
    from .shaping import DRIFT_KEEP, shape_features
    from ..orm import MonitorWindow, RegisteredModel
    from ..serving.service import iso

    g = require(db, who, slug, Action.read_monitoring, target=f"{model}/{version}")
    v = db.execute(select(ModelVersion).join(RegisteredModel, ModelVersion.model_id == RegisteredModel.id).where(
        RegisteredModel.project_id == g.project.id, RegisteredModel.name == model,
        ModelVersion.version == version)).scalar_one_or_none()
    out: list[dict[str, Any]] = []
    if v is not None:
        rows = db.execute(select(Deployment.name, MonitorWindow).join(Monitor, MonitorWindow.monitor_id == Monitor.id)
                          .join(Deployment, Monitor.deployment_id == Deployment.id)
                          .where(Monitor.project_id == g.project.id, MonitorWindow.version_id == v.id)
                          .order_by(Deployment.name, MonitorWindow.seq)).all()
        by: dict[str, list[dict[str, Any]]] = {}
        shaper = column_policies(db, g.project.id, g.role.value)
        for name, w in rows:
            drift = json.loads(w.drift)
            if isinstance(drift.get("features"), list):
                drift["features"] = shape_features(shaper, drift["features"], DRIFT_KEEP, refuse=False)
            by.setdefault(name, []).append({
                "id": w.id, "seq": w.seq, "start": iso(w.start_ts), "end": iso(w.end_ts), "rows": w.rows,
                "status": w.status, "drift": drift, "labelled": w.labelled,
                "performance": json.loads(w.performance) if w.performance else None})
        out = [{"deployment": name, "windows": ws} for name, ws in by.items()]
        shaper.audit(db, who, slug, "model-card", f"{model}/{version}")
    db.commit()
    return out


def deployment_alerts(db, who, slug: str, deployment: str) -> dict[str, list[dict[str, Any]]]:  # noqa: ANN001
    """What a deployment's monitor raised (for the model card): its alerts and its retrainings, as the API lists
    them (`AlertOut`, `RetrainingOut`), oldest first. A deployment without a monitor has neither. Checks
    monitoring.read; another project's deployment is missing (NotFound)."""
    from ..access import Action, require
    from ..errors import NotFound
    from ..serving.service import find_deployment
    from .monitors import list_alerts, list_retrainings

    g = require(db, who, slug, Action.read_monitoring, target=deployment)
    d = find_deployment(db, g.project.id, deployment)
    if db.execute(select(Monitor.id).where(Monitor.deployment_id == d.id)).scalar_one_or_none() is None:
        db.commit()
        return {"alerts": [], "retrainings": []}
    try:
        alerts = list_alerts(db, who, slug, 10_000, 0, None, deployment).items
        retrainings = list_retrainings(db, who, slug, deployment, 10_000, 0).items
    except NotFound:  # removed meanwhile
        db.rollback()
        return {"alerts": [], "retrainings": []}
    return {"alerts": [a.model_dump() for a in reversed(alerts)],
            "retrainings": [r.model_dump() for r in reversed(retrainings)]}


async def set_monitor(app, request, db, who, slug: str, name: str, config):  # noqa: ANN001, ANN201
    """Create or change a deployment's monitor as `who`, as the monitor route does (for the Ship flow)."""
    from .monitors import put_monitor  # it imports this module

    return await put_monitor(app, request, db, who, slug, name, config)
