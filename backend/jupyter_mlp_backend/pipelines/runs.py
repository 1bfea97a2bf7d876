"""Run a pipeline version through Dagster, watch it stage by stage, with an MLflow parent run per run."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timezone
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from jupyter_mlp.digest import file_digest
from jupyter_mlp.identity import mint_token

from .. import audit
from ..access import Action, require
from ..deps import DB, Caller, Paging
from ..errors import Conflict, Invalid, MLPError, NotFound
from ..orm import Pipeline, PipelineRunRecord, PipelineVersion, utcnow
from . import containers
from .dagster_service import DagsterUnavailable, job_name

router = APIRouter(tags=["pipelines"])
log = logging.getLogger(__name__)
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


class Unavailable(MLPError):
    status = 503
    code = "unavailable"


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12,64}$")] | None = Field(
        default=None, description="Version (or a unique prefix of at least 12 hex digits); default: the latest")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Values for the parameters cell")


class StageStatus(BaseModel):
    name: str
    status: str
    start_time: float | None = None
    end_time: float | None = None
    error: dict[str, Any] | None = None
    progress: str | None = Field(default=None, description="While a stage in a container starts: what it is doing, "
                                 "e.g. '[step 2/3] building stage image ...: Step 2/4 : COPY site /opt/mlp/site' "
                                 "(the whole build log is in the stage's log)")


class PipelineRunOut(BaseModel):
    run_id: str
    pipeline: str
    version: str
    status: str
    parameters: dict[str, Any]
    created_by: str
    created_at: str
    mlflow_run_id: str | None
    snapshots: dict[str, int] = Field(default_factory=dict, description="Dataset snapshots the run pinned")
    replay_of: str | None = None
    executor: str | None = Field(default=None, description="Where the stages ran: docker or subprocess")
    schedule_id: int | None = Field(default=None, description="The schedule that launched this run, if any")
    stages: list[StageStatus]


class PipelineRunPage(BaseModel):
    items: list[PipelineRunOut]
    total: int


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


def _iso(dt) -> str:  # noqa: ANN001
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


def _find_version(db: DB, project_id: int, name: str, version: str | None) -> tuple[Pipeline, PipelineVersion]:
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


def _index_entries(db: DB) -> dict[str, list[dict[str, Any]]]:
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


@router.post("/projects/{slug}/pipelines/{name}/runs", response_model=PipelineRunOut, status_code=201,
             summary="Run a pipeline version with parameters")
async def start_run(slug: str, name: str, body: RunRequest, request: Request, db: DB, who: Caller) -> PipelineRunOut:
    def prepare():  # noqa: ANN202
        grant = require(db, who, slug, Action.run_pipelines, target=name)
        pipeline, version = _find_version(db, grant.project.id, name, body.version)
        params = coerce_parameters(json.loads(version.description)["parameters"], body.parameters)
        db.commit()
        return grant.project.id, pipeline.name, version.id, version.digest, params

    project_id, pipeline_name, version_id, digest, params = await run_in_threadpool(prepare)
    current = {d["name"]: d["current_snapshot_id"] for d in
               await run_in_threadpool(request.app.state.datasets.list, slug)}
    return await _launch(request, db, who, slug, project_id, pipeline_name, version_id, digest, params, current, None)


@router.post("/projects/{slug}/pipeline-runs/{run_id}/replay", response_model=PipelineRunOut, status_code=201,
             summary="Run again exactly: same version, same parameters, same dataset snapshots")
async def replay_run(slug: str, run_id: str, request: Request, db: DB, who: Caller) -> PipelineRunOut:
    rec, pipeline, digest = await run_in_threadpool(_load_run, db, who, slug, run_id, Action.run_pipelines)

    def project_id() -> int:
        pid = require(db, who, slug, Action.run_pipelines, target=f"replay:{run_id}").project.id
        db.commit()
        return pid

    pid = await run_in_threadpool(project_id)
    return await _launch(request, db, who, slug, pid, pipeline, rec.version_id, digest, json.loads(rec.parameters),
                         json.loads(rec.snapshots or "{}"), rec.id)


@dataclass
class Prepared:
    run_id: str
    parent_id: str
    run_config: dict[str, Any]
    tags: dict[str, str]
    executor: str


async def _prepare(request: Request, db: DB, who: Caller, slug: str, project_id: int, pipeline_name: str,
                   digest: str, params: dict[str, Any], snapshots: dict[str, int], replay_of: str | None,
                   run_id: str | None = None) -> Prepared:
    """Everything a run needs before Dagster launches it: the code location loaded, the MLflow parent run,
    credentials for its stages, and where the stages will run."""
    app = request.app

    def entries_now() -> list[dict[str, Any]]:
        entries = _index_entries(db)
        db.commit()  # end the read: on SQLite an open transaction holds the write lock
        return entries

    entries = await run_in_threadpool(entries_now)
    dagster = app.state.dagster
    exp = app.state.experiments
    try:
        dagster.write_index(entries)
        await dagster.ready()
        await dagster.reload()
        await exp.ready()
    except (DagsterUnavailable, RuntimeError) as e:
        raise Unavailable(str(e)) from e
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
    run_tags = {"mlp/project": slug, "mlp/pipeline": pipeline_name, "mlp/version": digest, "mlp/user": who.user,
                "mlp/run_id": run_id, "mlp/executor": where["kind"]}
    return Prepared(run_id, parent_id, run_config, run_tags, where["kind"])


def _record(db: DB, who: Caller, slug: str, pipeline_name: str, version_id: int, digest: str, p: Prepared,
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


async def _launch(request: Request, db: DB, who: Caller, slug: str, project_id: int, pipeline_name: str,
                  version_id: int, digest: str, params: dict[str, Any], snapshots: dict[str, int],
                  replay_of: str | None) -> PipelineRunOut:
    exp = request.app.state.experiments
    p = await _prepare(request, db, who, slug, project_id, pipeline_name, digest, params, snapshots, replay_of)
    try:
        dagster_id = await request.app.state.dagster.launch(job_name(slug, pipeline_name, digest), p.run_config,
                                                            p.tags)
    except DagsterUnavailable as e:
        await exp.mlflow.client.post("/api/2.0/mlflow/runs/update", json={"run_id": p.parent_id, "status": "FAILED"})
        raise Unavailable(str(e)) from e
    rec = await run_in_threadpool(_record, db, who, slug, pipeline_name, version_id, digest, p, params, snapshots,
                                  replay_of, dagster_id)
    await exp.changes.bump(slug)
    return await _describe(request, db, slug, rec, pipeline_name, digest)


async def _describe(request: Request, db: DB, slug: str, rec: PipelineRunRecord, pipeline: str,
                    digest: str) -> PipelineRunOut:
    """Current state from Dagster; a run that just ended closes its MLflow parent run and is stored as ended."""
    app = request.app
    home = app.state.settings.home
    desc = json.loads((home / "pipelines" / slug / digest / "pipeline.json").read_text())
    stages = {s["name"]: StageStatus(name=s["name"], status="PENDING") for s in desc["stages"]}
    if rec.stage_status:
        stages.update({k: StageStatus(**v) for k, v in json.loads(rec.stage_status).items()})
    status = rec.status
    if rec.status not in TERMINAL and not rec.dagster_run_id and rec.schedule_id is not None:
        await _adopt_scheduled(request, db, rec)
    if rec.status not in TERMINAL and rec.dagster_run_id:
        # A poll always answers the run with a status: when Dagster cannot say (unreachable, slower than
        # STATUS_TIMEOUT, an error) or the end cannot be recorded yet, it is the status last recorded, and a later
        # poll tries again. (A 500 here once reached a client as a run without a status, under heavy load.)
        try:
            run = await app.state.dagster.run(rec.dagster_run_id)
        except DagsterUnavailable as e:
            log.warning("pipeline run %s: Dagster could not say its status, answering %s: %s", rec.id, status, e)
            run = None
        if run is not None and run.get("status"):
            for step in run.get("stepStats") or []:
                stage = step["stepKey"].rsplit("__", 1)[-1]
                match = next((n for n in stages if n.replace("-", "_") == stage), None)
                if match:
                    stages[match] = StageStatus(name=match, status=step["status"] or "PENDING",
                                                start_time=step.get("startTime"), end_time=step.get("endTime"))
            status = run["status"]
            if status in TERMINAL:
                try:
                    await _close(request, db, rec, status, stages, slug, pipeline)
                except Exception as e:  # noqa: BLE001 - MLflow or the database failing: the next poll tries again
                    log.warning("pipeline run %s ended (%s) but its end could not be recorded yet: %s: %s",
                                rec.id, status, type(e).__name__, e)
                    status = await run_in_threadpool(_recorded_status, db, rec)
    run_dir = home / "pipeline-runs" / slug / rec.id
    for name, st in stages.items():
        err = run_dir / f"{name}.error.json"
        if err.exists():
            st.error = json.loads(err.read_text())
            st.status = "FAILURE"
        elif status not in TERMINAL and st.status not in TERMINAL | {"SKIPPED"}:
            st.progress = _last_line(run_dir / f"{name}.build.log")
    return PipelineRunOut(run_id=rec.id, pipeline=pipeline, version=digest, status=status,
                          parameters=json.loads(rec.parameters), created_by=rec.created_by,
                          snapshots=json.loads(rec.snapshots or "{}"), replay_of=rec.replay_of,
                          created_at=_iso(rec.created_at), mlflow_run_id=rec.mlflow_run_id,
                          executor=rec.executor, schedule_id=rec.schedule_id, stages=list(stages.values()))


def _recorded_status(db: DB, rec: PipelineRunRecord) -> str:
    """The status the database holds for a run (after a failed attempt to record its end)."""
    try:
        db.rollback()
        db.refresh(rec)
        db.commit()
        return rec.status
    except Exception:  # noqa: BLE001 - the database cannot say either: the run is not recorded as ended
        db.rollback()
        return "STARTED"


def _last_line(path) -> str | None:  # noqa: ANN001
    """The last line of a (build) log, read from its end: what the stage is doing now."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - 4096))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return None
    return lines[-1][:500] if lines else None


async def _adopt_scheduled(request: Request, db: DB, rec: PipelineRunRecord) -> None:
    """A schedule's run is launched by Dagster's daemon: find it by our run id tag and remember its Dagster id."""
    try:
        found = await request.app.state.dagster.run_by_tag("mlp/run_id", rec.id)
    except DagsterUnavailable:
        return
    if found is None:
        return

    def store() -> None:
        rec.dagster_run_id, rec.status = found, "STARTED"
        db.add(rec)
        db.commit()

    await run_in_threadpool(store)


_closing: dict[str, list] = {}  # run id -> [lock, how many hold or wait for it]


async def _close(request: Request, db: DB, rec: PipelineRunRecord, status: str, stages: dict,
                 slug: str, pipeline: str) -> None:
    """Record the end of a run once, however many requests (and the watcher) notice it at the same time.

    One lock per run while anyone holds or waits for it; whoever gets it second finds the run recorded as ended.
    A close that failed half-way (models registered, then MLflow or the database failing) is retried by the next
    poll or round of the watcher: registration skips the models already registered from the run."""
    entry = _closing.setdefault(rec.id, [asyncio.Lock(), 0])
    entry[1] += 1
    try:
        async with entry[0]:
            await _close_locked(request, db, rec, status, stages, slug, pipeline)
    finally:
        entry[1] -= 1
        if not entry[1]:
            _closing.pop(rec.id, None)


async def _close_locked(request: Request, db: DB, rec: PipelineRunRecord, status: str, stages: dict,
                        slug: str, pipeline: str) -> None:
    def ended() -> bool:
        db.refresh(rec)
        db.commit()
        return rec.status in TERMINAL

    if await run_in_threadpool(ended):
        return
    exp = request.app.state.experiments
    if status == "SUCCESS" and rec.mlflow_run_id:
        # Models the stages logged are registered (signed, with lineage) before the run reads as ended; a run
        # that failed or was cancelled registers nothing.
        from ..registry.service import register_pipeline_models

        await register_pipeline_models(request, db, slug, rec, pipeline)
    if rec.mlflow_run_id:
        r = await exp.mlflow.client.post("/api/2.0/mlflow/runs/update", json={
            "run_id": rec.mlflow_run_id,
            "status": {"SUCCESS": "FINISHED", "CANCELED": "KILLED"}.get(status, "FAILED"),
            "end_time": int(time.time() * 1000)})
        if r.status_code >= 500:  # MLflow failing now: not recorded as ended, so that a later close ends it
            raise Unavailable(f"MLflow could not end the run's parent run: {r.text[:300]}")

    def store() -> None:
        rec.status, rec.finished_at = status, utcnow()
        rec.stage_status = json.dumps({k: v.model_dump(exclude={"error"}) for k, v in stages.items()})
        db.add(rec)
        db.commit()

    await run_in_threadpool(store)
    # The parent run's end is written to MLflow here, not through the gateway: tell the panels' live feed.
    await exp.changes.bump(slug)


WATCH_SECONDS = 3.0  # how often the watcher looks for runs that ended without anyone polling them


class _AppRequest:
    """What a poll uses of its request, the app, for the watcher, which has no request."""

    def __init__(self, app):  # noqa: ANN001
        self.app = app


def _open_runs(db: DB) -> list[tuple[PipelineRunRecord, str, str, str]]:
    """(record, project slug, pipeline, version digest) of every run not recorded as ended."""
    from ..orm import Project

    rows = db.execute(select(PipelineRunRecord, Project.slug, Pipeline.name, PipelineVersion.digest)
                      .join(PipelineVersion, PipelineRunRecord.version_id == PipelineVersion.id)
                      .join(Pipeline, PipelineVersion.pipeline_id == Pipeline.id)
                      .join(Project, Pipeline.project_id == Project.id)
                      .where(PipelineRunRecord.status.not_in(TERMINAL))).all()
    db.commit()
    return [tuple(r) for r in rows]


async def watch_once(app) -> int:  # noqa: ANN001
    """Look at every run not recorded as ended, as a poll would (closing those Dagster says ended); how many.

    Dagster is asked only once this backend has started it (a run launched or a schedule ticked since): runs left
    by an earlier backend wait for a poll, which starts it, rather than the watcher starting it unasked."""
    with app.state.db.session() as db:
        rows = await run_in_threadpool(_open_runs, db)
        if not rows or not app.state.dagster.started:
            return 0
        for rec, slug, pipeline, digest in rows:
            try:
                await _describe(_AppRequest(app), db, slug, rec, pipeline, digest)
            except Exception:  # noqa: BLE001 - one run failing to be described must not stop the others
                log.exception("watching pipeline run %s", rec.id)
                await run_in_threadpool(db.rollback)
        return len(rows)


async def watch(app, interval: float = WATCH_SECONDS) -> None:  # noqa: ANN001
    """Close the runs nobody polls (a scheduled run, `mlp pipelines run` without --wait, a closed browser tab):
    their MLflow parent run ends and their models are registered as soon as Dagster says they ended. With no run
    open this is one query of the run records every `interval` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            await watch_once(app)
        except Exception:  # noqa: BLE001 - the database or Dagster failing now: the next round tries again
            log.exception("watching the pipeline runs")


def _load_run(db: DB, who: Caller, slug: str, run_id: str, action: Action):  # noqa: ANN202
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


@router.get("/projects/{slug}/pipeline-runs/{run_id}", response_model=PipelineRunOut,
            summary="A pipeline run with the status of each stage")
async def get_run(slug: str, run_id: str, request: Request, db: DB, who: Caller) -> PipelineRunOut:
    rec, pipeline, digest = await run_in_threadpool(_load_run, db, who, slug, run_id, Action.read_pipelines)
    return await _describe(request, db, slug, rec, pipeline, digest)


@router.get("/projects/{slug}/pipelines/{name}/runs", response_model=PipelineRunPage,
            summary="Runs of a pipeline, newest first")
async def list_runs(slug: str, name: str, request: Request, db: DB, who: Caller, page: Paging) -> PipelineRunPage:
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
        rows = db.execute(q.order_by(PipelineRunRecord.created_at.desc()).limit(page.limit).offset(page.offset)).all()
        db.commit()
        return rows, total

    rows, total = await run_in_threadpool(load)
    return PipelineRunPage(items=[await _describe(request, db, slug, r, name, d) for r, d in rows], total=total)


@router.post("/projects/{slug}/pipeline-runs/{run_id}/cancel", response_model=PipelineRunOut,
             summary="Cancel a running pipeline run")
async def cancel_run(slug: str, run_id: str, request: Request, db: DB, who: Caller) -> PipelineRunOut:
    rec, pipeline, digest = await run_in_threadpool(_load_run, db, who, slug, run_id, Action.run_pipelines)
    if rec.status in TERMINAL:
        raise Conflict(f"Run '{run_id}' already ended ({rec.status})")
    if rec.dagster_run_id:
        await request.app.state.dagster.terminate(rec.dagster_run_id)
    # Dagster stops the run worker; its stage container goes with it, and at once rather than when it notices.
    await run_in_threadpool(containers.kill_run, request.app.state.settings, rec.id)
    return await _describe(request, db, slug, rec, pipeline, digest)


class ExecutorOut(BaseModel):
    kind: str = Field(description="docker: stages run in containers; subprocess: in a local process")
    detail: str
    base_image: dict[str, Any] | None = Field(
        default=None, description="What the platform found of the stage base image when it started (state: "
        "building, ready, failed; image; detail; since): a first run waits while it is building")


@router.get("/pipeline-executor", response_model=ExecutorOut, summary="Where pipeline stages run on this platform")
async def get_executor(request: Request, who: Caller) -> ExecutorOut:
    settings = request.app.state.settings
    base = containers.base_image_status(settings)
    try:
        out = ExecutorOut(**await run_in_threadpool(containers.executor, settings), base_image=base)
    except containers.ContainerError as e:
        return ExecutorOut(kind="unavailable", detail=str(e), base_image=base)
    if out.kind == "docker" and base and base.get("state") in ("building", "failed"):
        out.detail += f" Base image {base['image']}: {base['detail']}"
    return out


@router.get("/projects/{slug}/pipeline-runs/{run_id}/stages/{stage}/log", response_class=PlainTextResponse,
            summary="What a stage printed (papermill, the kernel's stderr, the container), last megabyte",
            responses={200: {"content": {"text/plain": {}}}})
async def stage_log(slug: str, run_id: str, stage: str, request: Request, db: DB, who: Caller) -> PlainTextResponse:
    rec, pipeline, digest = await run_in_threadpool(_load_run, db, who, slug, run_id, Action.read_pipelines)
    desc = json.loads((request.app.state.settings.home / "pipelines" / slug / digest / "pipeline.json").read_text())
    if stage not in {s["name"] for s in desc["stages"]}:  # also keeps the name from reaching the file system
        raise NotFound(f"Stage '{stage}' not found in this run")
    run_dir = request.app.state.settings.home / "pipeline-runs" / slug / rec.id
    parts = []
    for name in (f"{stage}.build.log", f"{stage}.log"):
        f = run_dir / name
        if f.exists():
            with f.open("rb") as fh:
                fh.seek(max(0, f.stat().st_size - 1_000_000))
                parts.append(fh.read().decode(errors="replace"))
    return PlainTextResponse("".join(parts))
