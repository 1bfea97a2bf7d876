"""A pipeline run's state, as a poll (or the run watcher) sees it: Dagster's status of each stage, the stage errors and
build progress the stages wrote, and, once Dagster says the run ended, its end recorded once: the models its
stages logged registered (registry.service), its MLflow parent run ended, the record stored as ended.

`request` here is anything with the app as `.app` (a route's request, or the watcher's `AppRequest`)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timezone

from starlette.concurrency import run_in_threadpool

from ..deps import DB
from ..errors import MLPError
from ..orm import PipelineRunRecord, utcnow
from .dagster_service import DagsterUnavailable
from .schemas import PipelineRunOut, StageStatus

log = logging.getLogger(__name__)
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


class Unavailable(MLPError):
    status = 503
    code = "unavailable"


def iso(dt) -> str:  # noqa: ANN001
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


async def describe(request, db: DB, slug: str, rec: PipelineRunRecord, pipeline: str,  # noqa: ANN001
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
                          created_at=iso(rec.created_at), mlflow_run_id=rec.mlflow_run_id,
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


async def _adopt_scheduled(request, db: DB, rec: PipelineRunRecord) -> None:  # noqa: ANN001
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


async def _close(request, db: DB, rec: PipelineRunRecord, status: str, stages: dict,  # noqa: ANN001
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


async def _close_locked(request, db: DB, rec: PipelineRunRecord, status: str, stages: dict,  # noqa: ANN001
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
