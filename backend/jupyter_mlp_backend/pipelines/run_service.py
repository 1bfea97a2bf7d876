"""Pipeline runs: launching one (by hand, as a replay, or prepared for a schedule's tick), reading and cancelling
them, a stage's log. Each run is a Dagster run of the version's job with an MLflow parent run; run_status.py
follows it to its end.

`request` here is a route's request (launching needs its base URL for the stages' tracking URI) or, for reading,
anything with the app as `.app`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from jupyter_mlp.digest import file_digest
from jupyter_mlp.identity import mint_token

from .. import audit
from ..access import Action, require
from ..deps import DB
from ..errors import Conflict, Invalid, NotFound
from ..identity import Identity
from ..orm import Pipeline, PipelineRunRecord, PipelineVersion
from . import containers
from .dagster_service import DagsterUnavailable, job_name
from .run_status import TERMINAL, Unavailable, describe
from .schemas import ExecutorOut, PipelineRunOut, PipelineRunPage

log = logging.getLogger(__name__)

__all__ = ["TERMINAL", "Unavailable", "describe", "launch", "prepare", "record"]


def coerce_parameters(declared: list[dict[str, str]], given: dict[str, Any]) -> dict[str, Any]:
    """Check names and types against the parameters cell; values stay data (papermill writes them as literals)."""
    known = {p["name"]: p["type"] for p in declared}
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in known:
            raise Invalid(f"'{name}' is not a parameter of this pipeline (its parameters: "
                          f"{', '.join(known) or 'none'})", detail=[{"field": f"parameters.{name}"}])
        kind = known[name]
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "str": isinstance(value, str),
            "bool": isinstance(value, bool),
            "list": isinstance(value, list),
            "dict": isinstance(value, dict),
        }.get(kind, True)
        if not ok:
            raise Invalid(f"Parameter '{name}' must be {kind}, got {type(value).__name__}",
                          detail=[{"field": f"parameters.{name}"}])
        out[name] = float(value) if kind == "float" else value
    return out


def find_version(db: DB, project_id: int, name: str, version: str | None) -> tuple[Pipeline, PipelineVersion]:
    p = db.execute(select(Pipeline).where(Pipeline.project_id == project_id, Pipeline.name == name)
                   ).scalar_one_or_none()
    if p is None:
        raise NotFound(f"Pipeline '{name}' not found")
    if version is None:
        return p, p.versions[-1]
    matches = [v for v in p.versions if v.digest.startswith(version)]
    if len(matches) != 1:
        raise NotFound(f"Version '{version}' of '{name}' not found")
    return p, matches[0]


def index_entries(db: DB) -> dict[str, list[dict[str, Any]]]:
    """What the generated code location defines: every stored version, every schedule, and whether the
    monitors' sensor is wanted (any enabled monitor)."""
    from ..orm import Monitor, PipelineSchedule, Project

    rows = db.execute(select(Project.slug, Pipeline.name, PipelineVersion.digest)
                      .join(Pipeline, Pipeline.project_id == Project.id)
                      .join(PipelineVersion, PipelineVersion.pipeline_id == Pipeline.id)).all()
    scheds = db.execute(select(PipelineSchedule, Project.slug, Pipeline.name, PipelineVersion.digest)
                        .join(Pipeline, PipelineSchedule.pipeline_id == Pipeline.id)
                        .join(Project, Pipeline.project_id == Project.id)
                        .join(PipelineVersion, PipelineSchedule.version_id == PipelineVersion.id)).all()
    return {"versions": [{"project": s, "pipeline": n, "version": d} for s, n, d in rows],
            "schedules": [{"id": sc.id, "project": s, "pipeline": n, "version": d, "cron": sc.cron,
                           "timezone": sc.timezone} for sc, s, n, d in scheds],
            "monitors": db.execute(select(func.count()).select_from(Monitor).where(Monitor.enabled)).scalar_one()}


async def start_run(request, db: DB, who: Identity, slug: str, name: str, version: str | None,  # noqa: ANN001
                    parameters: dict[str, Any]) -> PipelineRunOut:
    """Run a pipeline version (default: the latest) with parameters, on the dataset snapshots current now."""
    def load():  # noqa: ANN202
        grant = require(db, who, slug, Action.run_pipelines, target=name)
        pipeline, v = find_version(db, grant.project.id, name, version)
        params = coerce_parameters(json.loads(v.description)["parameters"], parameters)
        db.commit()
        return grant.project.id, pipeline.name, v.id, v.digest, params

    project_id, pipeline_name, version_id, digest, params = await run_in_threadpool(load)
    current = {d["name"]: d["current_snapshot_id"] for d in
               await run_in_threadpool(request.app.state.datasets.list, slug)}
    return await launch(request, db, who, slug, project_id, pipeline_name, version_id, digest, params, current, None)


async def replay_run(request, db: DB, who: Identity, slug: str, run_id: str) -> PipelineRunOut:  # noqa: ANN001
    """Run again exactly: same version, same parameters, same dataset snapshots."""
    rec, pipeline, digest = await run_in_threadpool(load_run, db, who, slug, run_id, Action.run_pipelines)

    def project_id() -> int:
        pid = require(db, who, slug, Action.run_pipelines, target=f"replay:{run_id}").project.id
        db.commit()
        return pid

    pid = await run_in_threadpool(project_id)
    return await launch(request, db, who, slug, pid, pipeline, rec.version_id, digest, json.loads(rec.parameters),
                        json.loads(rec.snapshots or "{}"), rec.id)


@dataclass
class Prepared:
    run_id: str
    parent_id: str
    run_config: dict[str, Any]
    tags: dict[str, str]
    executor: str


async def prepare(request, db: DB, who: Identity, slug: str, project_id: int, pipeline_name: str,
                  digest: str, params: dict[str, Any], snapshots: dict[str, int], replay_of: str | None,
                  run_id: str | None = None) -> Prepared:  # noqa: ANN001
    """Everything a run needs before Dagster launches it: the code location loaded, the MLflow parent run,
    credentials for its stages, and where the stages will run."""
    app = request.app

    def entries_now() -> list[dict[str, Any]]:
        entries = index_entries(db)
        db.commit()  # end the read: on SQLite an open transaction holds the write lock
        return entries

    t0 = time.monotonic()
    entries = await run_in_threadpool(entries_now)
    dagster = app.state.dagster
    exp = app.state.experiments
    marks: dict[str, float] = {}

    async def dagster_loaded() -> None:
        dagster.write_index(entries)
        await dagster.ready()
        marks["dagster"] = time.monotonic() - t0
        await dagster.reload()
        marks["reload"] = time.monotonic() - t0

    async def mlflow_ready() -> None:
        await exp.ready()
        marks["mlflow"] = time.monotonic() - t0

    try:  # side by side: neither waits for the other (the first run once waited for both in turn)
        await asyncio.gather(dagster_loaded(), mlflow_ready())
    except (DagsterUnavailable, RuntimeError) as e:
        raise Unavailable(str(e)) from e
    t_mlflow = time.monotonic()
    settings = app.state.settings
    try:
        where = await run_in_threadpool(containers.executor, settings)
    except containers.ContainerError as e:
        raise Unavailable(str(e)) from e

    from ..experiments.service import ensure_default_experiment

    experiment_id = await ensure_default_experiment(request, exp, slug, project_id, who.user)
    home = settings.home
    version_dir = home / "pipelines" / slug / digest
    env_hash = file_digest(version_dir / "environment.txt")
    tags = {"mlflow.user": who.user, "mlp.project": slug, "mlp.pipeline.name": pipeline_name,
            "mlp.pipeline.version": digest, "mlp.env.freeze_sha256": env_hash,
            "mlp.pipeline.parameters": json.dumps(params, sort_keys=True)[:5000],
            "mlp.datasets.pinned": json.dumps(snapshots, sort_keys=True)[:5000],
            "mlp.pipeline.executor": where["kind"]}
    if replay_of:
        tags["mlp.pipeline.replay_of"] = replay_of
    parent = await exp.mlflow.client.post("/api/2.0/mlflow/runs/create", json={
        "experiment_id": experiment_id, "user_id": who.user, "start_time": int(time.time() * 1000),
        "run_name": f"{pipeline_name} @ {digest[:12]}" + (" (replay)" if replay_of else ""),
        "tags": [{"key": k, "value": v} for k, v in tags.items()]})
    if parent.status_code != 200:
        raise Unavailable(f"MLflow refused the pipeline run: {parent.text[:300]}")
    parent_id = parent.json()["run"]["info"]["run_id"]
    exp.run_experiment.put(parent_id, experiment_id)
    if params:
        await exp.mlflow.client.post("/api/2.0/mlflow/runs/log-batch", json={
            "run_id": parent_id, "params": [{"key": k, "value": json.dumps(v) if not isinstance(v, str) else v}
                                            for k, v in params.items()]})
    desc = json.loads((version_dir / "pipeline.json").read_text())
    container = {**containers.limits(settings, desc), "home": str(home),
                 "base_image": settings.container_base_image, "debian_mirror": settings.debian_mirror}
    run_id = run_id or str(uuid.uuid4())
    token = mint_token(app.state.secret, who.user, settings.kernel_token_ttl_seconds, scope="mlflow", prj=slug,
                       adm=who.is_admin)
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    run_config = {"resources": {"mlp": {"config": {
        "project": slug, "run_dir": str(home / "pipeline-runs" / slug / run_id),
        "parameters_json": json.dumps(params), "tracking_uri": f"{base}/mlflow/{slug}", "token": token,
        "experiment_id": experiment_id, "parent_run_id": parent_id, "snapshots_json": json.dumps(snapshots),
        "executor": where["kind"], "container_json": json.dumps(container)}}}}
    log.info("pipeline run %s of %s prepared in %.1f s: Dagster ready at %.1f s, its code location reloaded at "
             "%.1f s, MLflow ready at %.1f s (side by side); executor, experiment and parent run %.1f s", run_id,
             pipeline_name, time.monotonic() - t0, marks["dagster"], marks["reload"], marks["mlflow"],
             time.monotonic() - t_mlflow)
    run_tags = {"mlp/project": slug, "mlp/pipeline": pipeline_name, "mlp/version": digest, "mlp/user": who.user,
                "mlp/run_id": run_id, "mlp/executor": where["kind"]}
    return Prepared(run_id, parent_id, run_config, run_tags, where["kind"])


def record(db: DB, who: Identity, slug: str, pipeline_name: str, version_id: int, digest: str, p: Prepared,
           params: dict[str, Any], snapshots: dict[str, int], replay_of: str | None, dagster_id: str | None,
           schedule_id: int | None = None) -> PipelineRunRecord:
    rec = PipelineRunRecord(id=p.run_id, version_id=version_id, dagster_run_id=dagster_id,
                            mlflow_run_id=p.parent_id, parameters=json.dumps(params),
                            status="STARTED" if dagster_id else "QUEUED", created_by=who.user,
                            snapshots=json.dumps(snapshots), replay_of=replay_of, executor=p.executor,
                            schedule_id=schedule_id)
    db.add(rec)
    action = "pipeline.replay" if replay_of else "pipeline.scheduled_run" if schedule_id else "pipeline.run"
    audit.append(db, actor=who.user, action=action, decision="allow", project=slug,
                 target=f"{pipeline_name}@{digest[:12]}",
                 detail={"run": p.run_id, "parameters": params, "snapshots": snapshots, "replay_of": replay_of,
                         "schedule": schedule_id, "executor": p.executor})
    db.commit()
    return rec


async def launch(request, db: DB, who: Identity, slug: str, project_id: int, pipeline_name: str,  # noqa: ANN001
                 version_id: int, digest: str, params: dict[str, Any], snapshots: dict[str, int],
                 replay_of: str | None) -> PipelineRunOut:
    """Launch a prepared run in Dagster and record it; answers the run as a poll would."""
    exp = request.app.state.experiments
    p = await prepare(request, db, who, slug, project_id, pipeline_name, digest, params, snapshots, replay_of)
    try:
        dagster_id = await request.app.state.dagster.launch(job_name(slug, pipeline_name, digest), p.run_config,
                                                            p.tags)
    except DagsterUnavailable as e:
        await exp.mlflow.client.post("/api/2.0/mlflow/runs/update", json={"run_id": p.parent_id, "status": "FAILED"})
        raise Unavailable(str(e)) from e
    rec = await run_in_threadpool(record, db, who, slug, pipeline_name, version_id, digest, p, params, snapshots,
                                  replay_of, dagster_id)
    await exp.changes.bump(slug)
    return await describe(request, db, slug, rec, pipeline_name, digest)


def load_run(db: DB, who: Identity, slug: str, run_id: str, action: Action):  # noqa: ANN202
    """(record, pipeline name, version digest) of one of the project's runs; another project's is missing."""
    grant = require(db, who, slug, action, target=run_id)
    row = db.execute(select(PipelineRunRecord, Pipeline.name, PipelineVersion.digest)
                     .join(PipelineVersion, PipelineRunRecord.version_id == PipelineVersion.id)
                     .join(Pipeline, PipelineVersion.pipeline_id == Pipeline.id)
                     .where(PipelineRunRecord.id == run_id, Pipeline.project_id == grant.project.id)
                     ).one_or_none()
    db.commit()
    if row is None:
        raise NotFound(f"Pipeline run '{run_id}' not found")
    return row


async def get_run(request, db: DB, who: Identity, slug: str, run_id: str) -> PipelineRunOut:  # noqa: ANN001
    """A pipeline run with the status of each stage."""
    rec, pipeline, digest = await run_in_threadpool(load_run, db, who, slug, run_id, Action.read_pipelines)
    return await describe(request, db, slug, rec, pipeline, digest)


async def list_runs(request, db: DB, who: Identity, slug: str, name: str, limit: int,  # noqa: ANN001
                    offset: int) -> PipelineRunPage:
    """Runs of a pipeline, newest first."""
    def load():  # noqa: ANN202
        grant = require(db, who, slug, Action.read_pipelines, target=name)
        p = db.execute(select(Pipeline).where(Pipeline.project_id == grant.project.id, Pipeline.name == name)
                       ).scalar_one_or_none()
        if p is None:
            db.commit()
            raise NotFound(f"Pipeline '{name}' not found")
        q = (select(PipelineRunRecord, PipelineVersion.digest)
             .join(PipelineVersion, PipelineRunRecord.version_id == PipelineVersion.id)
             .where(PipelineVersion.pipeline_id == p.id))
        total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
        rows = db.execute(q.order_by(PipelineRunRecord.created_at.desc()).limit(limit).offset(offset)).all()
        db.commit()
        return rows, total

    rows, total = await run_in_threadpool(load)
    return PipelineRunPage(items=[await describe(request, db, slug, r, name, d) for r, d in rows], total=total)


async def cancel_run(request, db: DB, who: Identity, slug: str, run_id: str) -> PipelineRunOut:  # noqa: ANN001
    """Cancel a running pipeline run: Dagster stops it, its stage container goes with it."""
    rec, pipeline, digest = await run_in_threadpool(load_run, db, who, slug, run_id, Action.run_pipelines)
    if rec.status in TERMINAL:
        raise Conflict(f"Run '{run_id}' already ended ({rec.status})")
    if rec.dagster_run_id:
        await request.app.state.dagster.terminate(rec.dagster_run_id)
    # Dagster stops the run worker; its stage container goes with it, and at once rather than when it notices.
    await run_in_threadpool(containers.kill_run, request.app.state.settings, rec.id)
    return await describe(request, db, slug, rec, pipeline, digest)


async def executor(settings) -> ExecutorOut:  # noqa: ANN001
    """Where pipeline stages run on this platform, and the state of the stage base image."""
    base = containers.base_image_status(settings)
    try:
        out = ExecutorOut(**await run_in_threadpool(containers.executor, settings), base_image=base)
    except containers.ContainerError as e:
        return ExecutorOut(kind="unavailable", detail=str(e), base_image=base)
    if out.kind == "docker" and base and base.get("state") in ("building", "failed"):
        out.detail += f" Base image {base['image']}: {base['detail']}"
    return out


async def stage_log(home, db: DB, who: Identity, slug: str, run_id: str, stage: str) -> str:  # noqa: ANN001
    """What a stage printed (papermill, the kernel's stderr, the container), its last megabyte (`home`: the
    platform's folder)."""
    rec, pipeline, digest = await run_in_threadpool(load_run, db, who, slug, run_id, Action.read_pipelines)
    desc = json.loads((home / "pipelines" / slug / digest / "pipeline.json").read_text())
    if stage not in {s["name"] for s in desc["stages"]}:  # also keeps the name from reaching the file system
        raise NotFound(f"Stage '{stage}' not found in this run")
    run_dir = home / "pipeline-runs" / slug / rec.id
    parts = []
    for name in (f"{stage}.build.log", f"{stage}.log"):
        f = run_dir / name
        if f.exists():
            with f.open("rb") as fh:
                fh.seek(max(0, f.stat().st_size - 1_000_000))
                parts.append(fh.read().decode(errors="replace"))
    return "".join(parts)
