"""MLflow runs in the assistant's index feed: a run written through the gateway (created, updated, logged to,
deleted, restored) is noted in the outbox (outbox.note_change) once MLflow said yes. MLflow's store is not our
database, so this is the one feed row that follows its change instead of sharing its transaction; a run noted
twice is indexed once, and the feed reads the run as it is when the AI services process asks. A run that ends
(runs/update with FINISHED, FAILED or KILLED) also gets its platform event (events.py) in the same write."""

from __future__ import annotations

import json

from fastapi import Response
from starlette.concurrency import run_in_threadpool

from ..events import note_event
from ..outbox import DELETE, UPSERT, note_change
from .gateway import Call

RUN_ENDED = {"FINISHED", "FAILED", "KILLED"}
RUN_WRITES = {"runs/create", "runs/update", "runs/delete", "runs/restore", "runs/log-metric", "runs/log-parameter",
              "runs/log-batch", "runs/set-tag", "runs/delete-tag", "runs/log-inputs", "runs/outputs",
              "runs/log-model"}


def _run_id(call: Call, endpoint: str, resp: Response) -> str | None:
    if endpoint == "runs/create":
        try:
            return json.loads(resp.body)["run"]["info"]["run_id"]
        except (ValueError, KeyError, TypeError):
            return None
    q = call.request.query_params
    rid = call.body.get("run_id") or call.body.get("run_uuid") or q.get("run_id") or q.get("run_uuid")
    return str(rid) if rid else None


async def note_run_write(call: Call, endpoint: str, resp: Response) -> None:
    if endpoint not in RUN_WRITES or resp.status_code != 200:
        return
    run_id = _run_id(call, endpoint, resp)
    if not run_id:
        return

    def write() -> None:
        with call.request.app.state.db.session() as db:
            note_change(db, call.slug, "run", run_id, DELETE if endpoint == "runs/delete" else UPSERT)
            if endpoint == "runs/update" and call.body.get("status") in RUN_ENDED:  # the platform event
                note_event(db, call.slug, "mlp.experiments.run.finished", f"runs/{run_id}",
                           {"run_id": run_id, "status": call.body["status"], "end_time": call.body.get("end_time"),
                            "run_name": call.body.get("run_name")})
            db.commit()

    await run_in_threadpool(write)
