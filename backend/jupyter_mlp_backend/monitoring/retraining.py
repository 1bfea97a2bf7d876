"""Automatic retraining: alert → pipeline run → new version → gates → deployment, each step recorded.

Everything runs as the monitor's creator, whose rights are checked at each step (as for schedules): a creator who
lost the right to run pipelines, promote models or change deployments stops the chain there, and the retraining
says so. The pipeline is the one that produced the deployed version, with the same parameters, on the dataset
snapshots current when it is launched. Its new version is promoted to `champion` through the registry's gates;
only a passing (or, where the gates ask for it, approved) version is deployed.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..access import Action, require
from ..errors import MLPError
from ..identity import Identity
from ..orm import (Alert, Deployment, GateDecision, ModelVersion, Monitor, PipelineRunRecord, PipelineVersion, Project,
                   Retraining, utcnow)

log = logging.getLogger(__name__)

ACTIVE = ("launched", "awaiting approval")


def _set(db, r: Retraining, slug: str, status: str, message: str | None = None, **fields: Any) -> None:  # noqa: ANN001
    r.status, r.message, r.updated_at = status, message, utcnow()
    for k, v in fields.items():
        setattr(r, k, v)
    audit.append(db, actor="monitor", action="retraining.step", decision="allow", project=slug,
                 target=f"retraining:{r.id}", detail={"status": status, "message": message,
                                                       "run": r.pipeline_run_id, "version_id": r.version_id,
                                                       "decision": r.decision_id})
    db.commit()


async def _launch(app, request, db, mon: Monitor, d: Deployment, slug: str, alert_id: int) -> Retraining:  # noqa: ANN001
    from ..pipelines import service as pipelines

    who = Identity(user=mon.created_by, is_admin=False)

    def begin() -> tuple[Retraining, Any]:
        r = Retraining(monitor_id=mon.id, alert_id=alert_id, status="launching")
        db.add(r)
        db.flush()
        v = db.get(ModelVersion, d.version_id)
        rec = db.get(PipelineRunRecord, v.pipeline_run_id) if v.pipeline_run_id else None
        if rec is None:
            _set(db, r, slug, "failed", f"version {v.version} was not produced by a pipeline: there is nothing to rerun")
            return r, None
        pv = db.get(PipelineVersion, rec.version_id)
        try:
            g = require(db, who, slug, Action.run_pipelines, target=f"retraining:{r.id}")
        except MLPError as e:
            r2 = db.get(Retraining, r.id)
            if r2 is None:  # the denial rolled back the pending row: record the retraining again
                r2 = Retraining(monitor_id=mon.id, alert_id=alert_id, status="failed")
                db.add(r2)
                db.flush()
            _set(db, r2, slug, "failed", f"{mon.created_by} may no longer run pipelines: {e}")
            return r2, None
        db.commit()
        return r, (g.project.id, pv.pipeline.name, pv.id, pv.digest, json.loads(rec.parameters or "{}"))

    r, plan = await run_in_threadpool(begin)
    if plan is None:
        return r
    project_id, pipeline, pv_id, digest, params = plan
    current = {x["name"]: x["current_snapshot_id"] for x in await run_in_threadpool(app.state.datasets.list, slug)}
    try:
        out = await pipelines.launch_run(request, db, who, slug, project_id, pipeline, pv_id, digest, params, current,
                                         None)
    except MLPError as e:
        await run_in_threadpool(_set, db, db.get(Retraining, r.id), slug, "failed",
                                f"the pipeline could not be launched: {e}")
        return r
    await run_in_threadpool(lambda: _set(db, db.get(Retraining, r.id), slug, "launched",
                                         f"{pipeline} run {out.run_id} on the current snapshots",
                                         pipeline_run_id=out.run_id))
    return r


async def _deploy(request, db, who: Identity, slug: str, d: Deployment, v: ModelVersion) -> None:  # noqa: ANN001
    from ..serving.service import switch_version as _switch

    await run_in_threadpool(lambda: (require(db, who, slug, Action.write_serving, target=d.name), db.commit()))
    await _switch(request.app, db, who, slug, d, v, "switch")


async def _follow(app, request, db, r: Retraining, mon: Monitor, d: Deployment, slug: str) -> str | None:  # noqa: ANN001
    """Move one retraining on as far as it can go now; returns a word for the tick's summary."""
    from ..pipelines import service as pipelines
    from ..registry import service as registry

    who = Identity(user=mon.created_by, is_admin=False)
    if r.status == "launched":
        def load() -> tuple[PipelineRunRecord, str, str]:
            rec = db.get(PipelineRunRecord, r.pipeline_run_id)
            pv = db.get(PipelineVersion, rec.version_id)
            db.commit()
            return rec, pv.pipeline.name, pv.digest

        rec, pipeline, digest = await run_in_threadpool(load)
        described = await pipelines.describe_run(request, db, slug, rec, pipeline, digest)
        if described.status not in pipelines.TERMINAL:
            return None
        if described.status != "SUCCESS":
            await run_in_threadpool(_set, db, db.get(Retraining, r.id), slug, "run failed",
                                    f"the pipeline run ended {described.status}")
            return "run failed"

        def new_version() -> ModelVersion | None:
            v = db.execute(select(ModelVersion).where(ModelVersion.pipeline_run_id == rec.id,
                                                      ModelVersion.model_id == d.model_id)
                           .order_by(ModelVersion.version.desc())).scalars().first()
            db.commit()
            return v

        v = await run_in_threadpool(new_version)
        if v is None:
            await run_in_threadpool(_set, db, db.get(Retraining, r.id), slug, "failed",
                                    f"the run succeeded but registered no new version of {d.model.name}")
            return "no version"
        try:
            decision = await registry.promote(slug, d.model.name, v.version, "champion", request, db, who)
        except MLPError as e:
            await run_in_threadpool(_set, db, db.get(Retraining, r.id), slug, "failed",
                                    f"version {v.version} could not be put to the gates: {e}", version_id=v.id)
            return "failed"
        if decision.status == "failed":
            failing = [x.get("message") for x in (decision.evidence or {}).get("results", []) if not x.get("passed")]
            await run_in_threadpool(_set, db, db.get(Retraining, r.id), slug, "gates failed",
                                    f"version {v.version} failed the gates; champion stays: " + "; ".join(
                                        m for m in failing if m)[:1500], version_id=v.id, decision_id=decision.id)
            return "gates failed"
        if decision.status == "pending":
            await run_in_threadpool(_set, db, db.get(Retraining, r.id), slug, "awaiting approval",
                                    f"version {v.version} passed the gates; a lead approves before it is champion",
                                    version_id=v.id, decision_id=decision.id)
            return "awaiting approval"
        def passed(rid: int = r.id, vid: int = v.id, did: int = decision.id) -> Retraining:
            row = db.get(Retraining, rid)
            row.decision_id, row.version_id = did, vid
            db.commit()
            return row

        r = await run_in_threadpool(passed)
    if r.status in ("launched", "awaiting approval"):
        def decided() -> tuple[str | None, ModelVersion | None, Deployment]:
            dec = db.get(GateDecision, r.decision_id) if r.decision_id else None
            v = db.get(ModelVersion, r.version_id) if r.version_id else None
            dd = db.get(Deployment, d.id)
            db.commit()
            return (dec.status if dec else None), v, dd

        status, v, dd = await run_in_threadpool(decided)
        if status == "pending":
            return None
        if status == "rejected":
            await run_in_threadpool(_set, db, db.get(Retraining, r.id), slug, "gates failed",
                                    f"a lead rejected version {v.version}; champion stays")
            return "rejected"
        if status in ("passed", "approved") and v is not None:
            try:
                await _deploy(request, db, who, slug, dd, v)
            except MLPError as e:
                await run_in_threadpool(_set, db, db.get(Retraining, r.id), slug, "failed",
                                        f"version {v.version} is champion but the deployment did not move: {e}")
                return "deploy failed"
            await run_in_threadpool(_set, db, db.get(Retraining, r.id), slug, "deployed",
                                    f"version {v.version} passed the gates, is champion and serves {dd.name}")
            return "deployed"
    return None


async def step(app, request, monitor_id: int, fired: list[int]) -> list[str]:  # noqa: ANN001
    """Follow this monitor's retrainings in flight; start one when a newly fired alert asks for it."""
    said: list[str] = []
    with app.state.db.session() as db:
        mon = db.get(Monitor, monitor_id)
        d = db.get(Deployment, mon.deployment_id)
        slug = db.get(Project, mon.project_id).slug
        active = [r for r in db.execute(select(Retraining).where(Retraining.monitor_id == monitor_id,
                                                                 Retraining.status.in_(ACTIVE))).scalars()]
        db.commit()
        for r in active:
            try:
                word = await _follow(app, request, db, r, mon, d, slug)
            except Exception as e:  # noqa: BLE001 - recorded on the retraining, the monitor goes on
                log.exception("retraining %s", r.id)
                db.rollback()
                _set(db, db.get(Retraining, r.id), slug, "failed", f"unexpected error: {e}")
                word = "failed"
            if word:
                said.append(f"#{r.id} {word}")
        if not mon.retrain or not fired:
            return said
        kinds = {"drift": ("drift", "data"), "performance": ("performance",), "any": ("drift", "data", "performance")}
        wanted = [a for a in (db.get(Alert, i) for i in fired) if a is not None and a.kind in kinds[mon.retrain_on]]
        busy = db.execute(select(Retraining.id).where(Retraining.monitor_id == monitor_id,
                                                      Retraining.status.in_(ACTIVE))).first()
        last = db.execute(select(Retraining.created_at).where(Retraining.monitor_id == monitor_id)
                          .order_by(Retraining.id.desc())).scalars().first()
        db.commit()
        if not wanted or busy:
            return said
        if last is not None:
            last = last if last.tzinfo else last.replace(tzinfo=utcnow().tzinfo)
            if utcnow() - last < timedelta(seconds=mon.cooldown_s):
                return said + [f"not retraining: the last one started less than {mon.cooldown_s} s ago"]
        r = await _launch(app, request, db, mon, d, slug, wanted[0].id)
        said.append(f"#{r.id} {db.get(Retraining, r.id).status}")
    return said
