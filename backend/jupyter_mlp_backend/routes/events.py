"""`GET /api/events/stream`: the platform events of the caller's projects as server-sent events (event_feed.py).

The panels' live updates: one stream per JupyterLab, fed from the events outbox (no broker needed). Each event's
SSE `id` is its outbox position; a client that reconnects with `Last-Event-ID` (or `?after=`) gets what it missed,
or a `reset` event when the events after its position were pruned. The stream ends after `duration` seconds and
the client reconnects: identity and membership are checked again then (membership also on every round).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..deps import INT64_MAX, Caller
from ..errors import Invalid
from ..event_feed import WAKEUP, Reader, is_stale, position_now

router = APIRouter(tags=["events"])

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0


def _frame(event: str, data: str, seq: int | None = None) -> str:
    return (f"id: {seq}\n" if seq is not None else "") + f"event: {event}\ndata: {data}\n\n"


@router.get(
    "/events/stream",
    summary="Server-sent platform events of the caller's projects (live updates), resumable with Last-Event-ID",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "`ready` (the position), then one event per platform event (`event:` its "
                                    "CloudEvents type, `data:` the CloudEvent, `id:` its position), `heartbeat`s, "
                                    "and `reset` when the position given is older than the events kept"}},
)
async def event_stream(
    request: Request,
    who: Caller,
    after: Annotated[int | None, Query(ge=0, le=INT64_MAX,
                                       description="Resume after this position (Last-Event-ID wins)")] = None,
    duration: Annotated[int, Query(ge=1, le=3600, description="Seconds before the server ends the stream "
                                                                "(the client reconnects with Last-Event-ID)")] = 300,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    if last_event_id:
        if not last_event_id.isdigit() or int(last_event_id) > INT64_MAX:
            raise Invalid("Last-Event-ID must be an event position (a non-negative integer)")
        after = int(last_event_id)
    db = request.app.state.db
    reset = after is not None and await run_in_threadpool(is_stale, db, after)
    start = await run_in_threadpool(position_now, db) if after is None or reset else after
    reader = Reader(db, who, start)

    async def stream():
        if reset:
            yield _frame("reset", json.dumps({"position": start, "requested": after}), start)
        yield _frame("ready", json.dumps({"position": start}), start)
        ends, beat = time.monotonic() + duration, time.monotonic() + HEARTBEAT_SECONDS
        woken = WAKEUP.register()  # a commit with events in this process ends the wait at once
        try:
            # Until `duration` is over, the client is gone, or the backend stops (__main__ sets `stopping`).
            while (time.monotonic() < ends and not getattr(request.app.state, "stopping", False)
                   and not await request.is_disconnected()):
                woken.clear()
                for seq, body in await run_in_threadpool(reader.poll):
                    yield _frame(json.loads(body)["type"], body, seq)
                if time.monotonic() >= beat:
                    beat = time.monotonic() + HEARTBEAT_SECONDS
                    yield _frame("heartbeat", json.dumps({"position": reader.position}), reader.position)
                try:
                    await asyncio.wait_for(woken.wait(), min(POLL_SECONDS, max(0.0, ends - time.monotonic())))
                except asyncio.TimeoutError:
                    pass
        finally:
            WAKEUP.unregister(woken)
        # The position reached, so that a reconnect skips what was read but not for this caller.
        yield _frame("heartbeat", json.dumps({"position": reader.position}), reader.position)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
