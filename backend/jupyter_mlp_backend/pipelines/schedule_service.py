"""Pipeline schedules: Dagster schedules in the generated code location, ticked by Dagster's daemon.

A schedule pins one pipeline version and its parameters. At each tick the schedule asks the backend to prepare
the run (`POST /api/pipeline-schedules/{id}/ticks`, with a token only the backend's own Dagster can mint and
that opens only that schedule): the backend re-checks that the schedule's creator may still run the pipeline,
pins the dataset snapshots current at that moment, opens the MLflow parent run and audits, exactly as for a
run started by hand; Dagster then launches what the backend returned. A scheduled run is therefore recorded,
replayable and cancellable like any other. (schedules.py holds the routes.)
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..access import Action, require
from ..deps import DB
from ..errors import Conflict, Invalid, NotFound
from ..identity import Identity
from ..orm import Pipeline, PipelineRunRecord, PipelineSchedule, PipelineVersion, Project
from .dagster_service import DagsterUnavailable, recommender_cron
from .run_service import Unavailable, coerce_parameters, find_version, index_entries, prepare, record
from .schemas import ScheduleOut, SchedulePage, ScheduleRequest, TickOut


def _check_cron(cron: str, tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"'{tz}' is not a time zone (use an IANA name such as 'Europe/Berlin')",
                      detail=[{"field": "timezone"}]) from None
    from dagster._utils.schedules import is_valid_cron_string  # Dagster's own rule: what it accepts, we accept

    if len(cron.split()) != 5 or not is_valid_cron_string(cron):
        raise Invalid(f"'{cron}' is not a five-field cron expression (minute hour day month weekday)",
                      detail=[{"field": "cron"}])


def _next_ticks(cron: str, tz: str, n: int = 3) -> list[str]:
    from dagster._utils.schedules import cron_string_iterator

    it = cron_string_iterator(datetime.now(timezone.utc).timestamp(), cron, tz)
    return [next(it).isoformat() for _ in range(n)]


def _out(db: DB, sc: PipelineSchedule, digest: str) -> ScheduleOut:
    last = db.execute(select(PipelineRunRecord.id).where(PipelineRunRecord.schedule_id == sc.id)
                      .order_by(PipelineRunRecord.created_at.desc()).limit(1)).scalar_one_or_none()
    created = sc.created_at if sc.created_at.tzinfo else sc.created_at.replace(tzinfo=timezone.utc)
    return ScheduleOut(id=sc.id, pipeline=sc.pipeline.name, version=digest, cron=sc.cron, timezone=sc.timezone,
                       parameters=json.loads(sc.parameters), created_by=sc.created_by, created_at=created.isoformat(),
                       next_ticks=_next_ticks(sc.cron, sc.timezone), last_run=last)


async def sync_dagster(request, db: DB) -> None:  # noqa: ANN001
    """Write the schedules into the code location, reload it, and (re)start the daemon that ticks them."""

    def entries() -> dict[str, list[dict[str, Any]]]:
        e = index_entries(db)
        db.commit()
        return e

    dagster = request.app.state.dagster
    if not request.app.state.settings.public_url:
        dagster.backend_url = str(request.base_url).rstrip("/")
    try:
        dagster.write_index(await run_in_threadpool(entries))
        await dagster.ready()
        await dagster.reload()
        await dagster.sync_daemon()
    except DagsterUnavailable as e:
        raise Unavailable(str(e)) from e


async def create_schedule(request, db: DB, who: Identity, slug: str, name: str,  # noqa: ANN001
                          body: ScheduleRequest) -> ScheduleOut:
    """Schedule a pipeline version with parameters (a Dagster schedule)."""
    def create() -> ScheduleOut:
        grant = require(db, who, slug, Action.run_pipelines, target=name)
        pipeline, version = find_version(db, grant.project.id, name, body.version)
        params = coerce_parameters(json.loads(version.description)["parameters"], body.parameters)
        _check_cron(body.cron, body.timezone)
        sc = PipelineSchedule(pipeline_id=pipeline.id, version_id=version.id, cron=body.cron,
                              timezone=body.timezone, parameters=json.dumps(params), created_by=who.user)
        db.add(sc)
        db.flush()
        audit.append(db, actor=who.user, action="pipeline.schedule.create", decision="allow", project=slug,
                     target=f"{name}@{version.digest[:12]}",
                     detail={"schedule": sc.id, "cron": body.cron, "timezone": body.timezone, "parameters": params})
        out = _out(db, sc, version.digest)
        db.commit()
        return out

    out = await run_in_threadpool(create)
    await sync_dagster(request, db)
    return out


def list_schedules(db: DB, who: Identity, slug: str, name: str, limit: int, offset: int) -> SchedulePage:
    """A pipeline's schedules with their next ticks."""
    grant = require(db, who, slug, Action.read_pipelines, target=name)
    q = (select(PipelineSchedule, PipelineVersion.digest)
         .join(Pipeline, PipelineSchedule.pipeline_id == Pipeline.id)
         .join(PipelineVersion, PipelineSchedule.version_id == PipelineVersion.id)
         .where(Pipeline.project_id == grant.project.id, Pipeline.name == name))
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(PipelineSchedule.id).limit(limit).offset(offset)).all()
    items = [_out(db, sc, d) for sc, d in rows]
    db.commit()
    return SchedulePage(items=items, total=total)


async def delete_schedule(request, db: DB, who: Identity, slug: str, schedule_id: int) -> None:  # noqa: ANN001
    """Delete a schedule (runs it launched stay)."""
    def delete() -> None:
        grant = require(db, who, slug, Action.run_pipelines, target=f"schedule:{schedule_id}")
        sc = db.execute(select(PipelineSchedule).join(Pipeline, PipelineSchedule.pipeline_id == Pipeline.id)
                        .where(PipelineSchedule.id == schedule_id, Pipeline.project_id == grant.project.id)
                        ).scalar_one_or_none()
        if sc is None:
            db.commit()
            raise NotFound(f"Schedule {schedule_id} not found")
        audit.append(db, actor=who.user, action="pipeline.schedule.delete", decision="allow", project=slug,
                     target=sc.pipeline.name, detail={"schedule": schedule_id, "cron": sc.cron})
        db.delete(sc)
        db.commit()

    await run_in_threadpool(delete)
    await sync_dagster(request, db)


async def tick(request, db: DB, schedule_id: int, scheduled_time: datetime) -> TickOut:  # noqa: ANN001
    """Prepare the run of one tick of a schedule, as the schedule's creator (Dagster's scheduler asks)."""
    # One run per (schedule, tick), even when the daemon retries a tick.
    run_key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mlp-schedule:{schedule_id}:{scheduled_time.isoformat()}"))

    def load():  # noqa: ANN202
        row = db.execute(select(PipelineSchedule, Project.slug, Project.id, PipelineVersion)
                         .join(Pipeline, PipelineSchedule.pipeline_id == Pipeline.id)
                         .join(Project, Pipeline.project_id == Project.id)
                         .join(PipelineVersion, PipelineSchedule.version_id == PipelineVersion.id)
                         .where(PipelineSchedule.id == schedule_id)).one_or_none()
        if row is None:
            db.commit()
            raise NotFound(f"Schedule {schedule_id} not found")
        sc, slug, project_id, version = row
        if db.execute(select(PipelineRunRecord.id).where(PipelineRunRecord.id == run_key)).first():
            db.commit()
            raise Conflict(f"The tick at {scheduled_time.isoformat()} already has its run")
        who = Identity(user=sc.created_by, is_admin=False)
        # The creator's right to run it is decided now, not when the schedule was made.
        require(db, who, slug, Action.run_pipelines, target=f"schedule:{schedule_id}")
        db.commit()
        return sc, slug, project_id, version, who

    sc, slug, project_id, version, who = await run_in_threadpool(load)
    current = {d["name"]: d["current_snapshot_id"] for d in
               await run_in_threadpool(request.app.state.datasets.list, slug)}
    params = json.loads(sc.parameters)
    p = await prepare(request, db, who, slug, project_id, sc.pipeline.name, version.digest, params, current, None,
                      run_id=run_key)
    p.tags["mlp/schedule"] = str(schedule_id)
    await run_in_threadpool(record, db, who, slug, sc.pipeline.name, version.id, version.digest, p, params, current,
                            None, None, schedule_id)
    await request.app.state.experiments.changes.bump(slug)
    return TickOut(run_id=run_key, run_config=p.run_config, tags=p.tags)


async def resume(app) -> None:  # noqa: ANN001
    """At backend start: start Dagster's webserver with every version loaded, so that the first pipeline run (a
    Ship's) does not wait for it (22 s here) before its first stage; and if schedules or monitors exist, its
    daemon too, so they keep ticking. With `dagster_start_with_platform` off and nothing ticking, Dagster waits
    for its first use (a platform that runs no pipelines does not pay for it)."""
    with app.state.db.session() as s:
        entries = index_entries(s)
    ticking = entries["schedules"] or (entries["monitors"] and app.state.settings.monitor_interval_seconds) \
        or recommender_cron(app.state.settings)
    if not app.state.dagster.backend_url:
        from jupyter_mlp.local_backend import read_record

        local = read_record(app.state.settings)
        app.state.dagster.backend_url = local.url if local else None
    app.state.dagster.write_index(entries)
    if ticking:
        await app.state.dagster.sync_daemon()
    elif not app.state.settings.dagster_start_with_platform:
        return
    await app.state.dagster.ready()
