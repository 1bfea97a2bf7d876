"""The run watcher: closes the pipeline runs nobody polls, as a poll would (run_status.describe), every few
seconds; the app factory starts it."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..deps import DB
from ..orm import Pipeline, PipelineRunRecord, PipelineVersion
from .run_status import TERMINAL, describe

log = logging.getLogger(__name__)


WATCH_SECONDS = 3.0  # how often the watcher looks for runs that ended without anyone polling them


class AppRequest:
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
                await describe(AppRequest(app), db, slug, rec, pipeline, digest)
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
