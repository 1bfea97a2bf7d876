"""The live-updates stream through the server extension's proxy (`/mlp/api/events/stream`): each event reaches
the browser as it happens, not when the stream ends, and `Last-Event-ID` travels to the backend. A real Jupyter
server with its own backend; the event is written to that backend's outbox as a domain's transaction would."""

from __future__ import annotations

import asyncio
import json
import time

from jupyter_mlp.settings import load_settings
from jupyter_mlp_backend.db import Database
from jupyter_mlp_backend.events import note_event


def _frames(text: str) -> list[dict]:
    out = []
    for block in text.split("\n\n"):
        frame = dict(line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":"))
        if "data" in frame:
            out.append(frame)
    return out


async def test_events_stream_through_the_proxy_as_they_happen(jp_fetch):
    r = await jp_fetch("mlp", "api", "projects", method="POST", body=json.dumps({"slug": "acme", "name": "Acme"}),
                       headers={"Content-Type": "application/json"})
    assert r.code == 201
    db = Database(load_settings().effective_database_url)
    arrived: list[tuple[float, str]] = []

    def chunk(data: bytes) -> None:
        arrived.append((time.monotonic(), data.decode()))

    async def write_when_ready() -> float:
        while not any("event: ready" in text for _, text in arrived):
            await asyncio.sleep(0.05)
        with db.session() as s:
            note_event(s, "acme", "mlp.registry.alias.moved", "models/risk/aliases/champion",
                       {"model": "risk", "alias": "champion", "version": 2, "previous_version": 1})
            s.commit()
        return time.monotonic()

    writer = asyncio.ensure_future(write_when_ready())
    r = await jp_fetch("mlp", "api", "events", "stream", params={"duration": 6}, streaming_callback=chunk,
                       request_timeout=60)
    ended, written = time.monotonic(), await writer
    assert r.code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    frames = _frames("".join(text for _, text in arrived))
    moved = [f for f in frames if f["event"] == "mlp.registry.alias.moved"]
    assert len(moved) == 1 and json.loads(moved[0]["data"])["partitionkey"] == "acme"
    # It came through while the stream was open (within a few polling rounds), not with its end.
    got = next(t for t, text in arrived if "mlp.registry.alias.moved" in text)
    assert got - written < 4 and ended - got > 1
    ready = int(frames[0]["id"])

    # Resuming from the position before the event: Last-Event-ID reaches the backend.
    r = await jp_fetch("mlp", "api", "events", "stream", params={"duration": 1},
                       headers={"Last-Event-ID": str(ready)}, request_timeout=60)
    again = _frames(r.body.decode())
    assert [f["event"] for f in again if f["event"].startswith("mlp.")] == ["mlp.registry.alias.moved"]
    db.dispose()
