"""The panels' live updates (`GET /api/events/stream`, event_feed.py): the events outbox as server-sent events,
with no broker configured. A caller gets the events of their own projects only (deny by default), resumes from a
position with Last-Event-ID, and is told to reload (`reset`) when the events after the position were pruned.
A real backend app on a real database (SQLite and, with `make test`, PostgreSQL); events written by the ORM
changes the domains make."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from jupyter_mlp_backend.event_feed import prune
from jupyter_mlp_backend.orm import ModelAlias, ModelVersion, PlatformEvent, Project, RegisteredModel


def _frames(text: str) -> list[dict]:
    """Parse an event stream into [{'event', 'id', 'data'}]."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        frame: dict = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            k, _, v = line.partition(": ")
            frame[k] = v
        if "data" in frame:
            frame["data"] = json.loads(frame["data"])
            out.append(frame)
    return out


def _stream(client, duration: int = 1, **params) -> tuple[int, list[dict], str]:
    headers = params.pop("headers", {})
    r = client.get("/events/stream", params={"duration": duration, **params}, headers=headers)
    return r.status_code, (_frames(r.text) if r.status_code == 200 else r.json()), r.headers.get("content-type", "")


def _register(api, slug: str, model: str, version: int) -> None:
    """What the registry does: a version row (its event is written in the same transaction)."""
    with api.db.session() as s:
        pid = s.execute(select(Project.id).where(Project.slug == slug)).scalar_one()
        m = s.execute(select(RegisteredModel).where(RegisteredModel.project_id == pid,
                                                    RegisteredModel.name == model)).scalar_one_or_none()
        if m is None:
            m = RegisteredModel(project_id=pid, name=model, mlflow_name=f"{slug}.{model}", created_by="sam")
            s.add(m)
            s.flush()
        v = ModelVersion(model_id=m.id, version=version, source="x", lineage="{}", created_by="sam")
        s.add(v)
        s.flush()
        alias = s.execute(select(ModelAlias).where(ModelAlias.model_id == m.id,
                                                   ModelAlias.alias == "champion")).scalar_one_or_none()
        if alias is None:
            s.add(ModelAlias(model_id=m.id, alias="champion", version_id=v.id))
        else:
            alias.version_id = v.id
        s.commit()


def _subjects(frames: list[dict]) -> list[tuple[str, str]]:
    return [(f["data"]["partitionkey"], f["data"]["subject"]) for f in frames if f["event"].startswith("mlp.")]


def test_each_caller_gets_only_their_projects_events_with_no_broker(api, acme, globex):
    assert api.client.app.state.event_relay is None  # no broker configured: the outbox alone feeds the stream
    _register(api, "acme", "risk", 1)
    _register(api, "globex", "churn", 1)
    _register(api, "acme", "risk", 2)

    code, sam, ctype = _stream(api.as_user("sam"), after=0)
    assert code == 200 and ctype.startswith("text/event-stream")
    assert sam[0]["event"] == "ready" and sam[0]["data"] == {"position": 0}
    assert _subjects(sam) == [("acme", "models/risk/versions/1"), ("acme", "models/risk/aliases/champion"),
                              ("acme", "models/risk/versions/2"), ("acme", "models/risk/aliases/champion")]
    moved = [f for f in sam if f["event"] == "mlp.registry.alias.moved"][-1]
    assert moved["data"]["data"] == {"model": "risk", "alias": "champion", "version": 2, "previous_version": 1}
    assert _subjects(_stream(api.as_user("gus"), after=0)[1]) == [("globex", "models/churn/versions/1"),
                                                                  ("globex", "models/churn/aliases/champion")]
    assert _subjects(_stream(api.as_user("nobody"), after=0)[1]) == []  # a member of nothing: nothing
    assert {p for p, _ in _subjects(_stream(api.as_user("admin"), after=0)[1])} == {"acme", "globex"}

    # Removed from acme: the next round passes none of acme's events, old or new.
    assert api.as_user("admin").delete("/projects/acme/members/sam").status_code in (200, 204)
    _register(api, "acme", "risk", 3)
    assert _subjects(_stream(api.as_user("sam"), after=0)[1]) == []


def test_resume_from_a_position_with_last_event_id(api, acme):
    _register(api, "acme", "risk", 1)
    first = _stream(api.as_user("vic"), after=0)[1]
    last = int(first[-1]["id"])  # the closing heartbeat carries the position reached
    assert last == max(int(f["id"]) for f in first if f["event"].startswith("mlp."))
    _register(api, "acme", "risk", 2)
    _, again, _ = _stream(api.as_user("vic"), headers={"Last-Event-ID": str(last)})
    assert _subjects(again) == [("acme", "models/risk/versions/2"), ("acme", "models/risk/aliases/champion")]
    assert all(int(f["id"]) > last for f in again if f["event"].startswith("mlp."))
    # Last-Event-ID wins over ?after=, and an id that is not a position is a JSON 422.
    _, same, _ = _stream(api.as_user("vic"), after=0, headers={"Last-Event-ID": str(last)})
    assert _subjects(same) == _subjects(again)
    code, body, _ = _stream(api.as_user("vic"), headers={"Last-Event-ID": "abc"})
    assert code == 422 and body["error"]["code"] == "validation_error"
    # No position: from now on (nothing of the past).
    assert _subjects(_stream(api.as_user("vic"))[1]) == []


def test_a_position_whose_events_were_pruned_gets_reset(api, acme):
    _register(api, "acme", "risk", 1)
    _register(api, "acme", "risk", 2)
    with api.db.session() as s:
        seqs = list(s.execute(select(PlatformEvent.seq).order_by(PlatformEvent.seq)).scalars())
        for row in s.execute(select(PlatformEvent)).scalars():
            row.created_at = row.created_at.replace(year=2000)
        s.commit()
    assert prune(api.db, 60, relay=False) == len(seqs) - 1  # all but the newest (seq keeps growing)
    _, frames, _ = _stream(api.as_user("sam"), after=seqs[0])
    assert frames[0]["event"] == "reset" and frames[0]["data"] == {"position": seqs[-1], "requested": seqs[0]}
    assert frames[1]["event"] == "ready"
    # A position at the newest kept event's predecessor is still whole: no reset.
    _, frames, _ = _stream(api.as_user("sam"), after=seqs[-2])
    assert frames[0]["event"] == "ready" and _subjects(frames) == [("acme", "models/risk/aliases/champion")]


def test_a_commit_with_events_wakes_the_streams_of_this_process_at_once(api, acme):
    """A stream waits up to a second between rounds; a transaction of this process that wrote events ends the
    wait when it commits (measured: p50 from ~520 ms to ~35 ms, tests/bench/bench_live_events.py). A commit
    without events, or a rolled-back one with events, does not."""
    import asyncio

    from jupyter_mlp_backend.event_feed import WAKEUP

    def no_event() -> None:
        with api.db.session() as s:
            s.add(Project(slug="quiet", name="quiet", created_by="admin"))
            s.commit()

    def rolled_back() -> None:
        with api.db.session() as s:
            m = RegisteredModel(project_id=s.execute(select(Project.id).where(Project.slug == "acme")).scalar_one(),
                                name="gone", mlflow_name="acme.gone", created_by="sam")
            s.add(m)
            s.flush()
            s.add(ModelVersion(model_id=m.id, version=1, source="x", lineage="{}", created_by="sam"))
            s.flush()  # its event row is written ...
            s.rollback()  # ... and goes
            s.add(Project(slug="quiet-too", name="quiet", created_by="admin"))
            s.commit()  # the same session commits something else, with no event

    async def scenario() -> None:
        woken = WAKEUP.register()
        try:
            await asyncio.to_thread(no_event)
            await asyncio.to_thread(rolled_back)
            await asyncio.sleep(0.3)
            assert not woken.is_set()
            await asyncio.to_thread(_register, api, "acme", "risk", 1)
            await asyncio.wait_for(woken.wait(), 2)
        finally:
            WAKEUP.unregister(woken)

    asyncio.run(scenario())


def test_the_stream_needs_an_identity(api):
    r = api.client.get("/api/events/stream", params={"duration": 1})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_open_streams_do_not_hold_the_backend_when_it_stops(mlp_home, monkeypatch):
    """uvicorn waits for every response to finish before it stops: a JupyterLab's open live-updates stream (300 s)
    and the Experiments panel's runs stream (endless) held a stopping backend (measured: still up after 60 s).
    Both end when it stops now."""
    import getpass
    import threading
    import time

    import httpx

    from jupyter_mlp.identity import mint_token, read_secret
    from jupyter_mlp.local_backend import ensure_backend
    from jupyter_mlp.settings import load_settings

    # no pipeline here: the backend leaves Dagster for its first use (test_stage_start covers the default)
    monkeypatch.setenv("MLP_DAGSTER_START_WITH_PLATFORM", "false")
    settings = load_settings()
    started = ensure_backend(settings)
    try:
        token = mint_token(read_secret(settings.secret_path), getpass.getuser())  # the local user: admin
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.post(f"{started.url}/api/projects", json={"slug": "acme", "name": "Acme"},
                          headers=auth, timeout=60).status_code == 201
        opened = {path: threading.Event() for path in ("events/stream", "projects/acme/runs/events")}

        def hold(path: str) -> None:
            try:
                with httpx.stream("GET", f"{started.url}/api/{path}", headers=auth, timeout=None) as r:
                    for chunk in r.iter_text():
                        if "event:" in chunk:
                            opened[path].set()
            except httpx.HTTPError:
                pass

        for path in opened:
            threading.Thread(target=hold, args=(path,), daemon=True).start()
        for path, ev in opened.items():
            assert ev.wait(120), path
        t0 = time.monotonic()
        started.process.terminate()
        started.process.wait(120)
        # Held, it would stay up for 300 s (live updates) or for good (runs); stopping MLflow and Dagster, and the
        # runs stream's 15 s wait, take their time on a loaded machine.
        assert time.monotonic() - t0 < 60
    finally:
        started.stop(5)


@pytest.mark.postgres
def test_a_reader_waits_for_an_earlier_transaction_on_postgresql(postgres_url, monkeypatch):
    """PostgreSQL hands out `seq` at insert and a transaction may commit after a later one: the reader must not
    pass the hole while the earlier event may still come, and passes a hole a rollback left after GAP_WAIT."""
    import time

    from jupyter_mlp_backend import event_feed
    from jupyter_mlp_backend.db import Database
    from jupyter_mlp_backend.events import note_event
    from jupyter_mlp_backend.identity import Identity

    monkeypatch.setattr(event_feed, "GAP_WAIT", 1.0)
    db = Database(postgres_url)
    db.migrate()
    try:
        reader = event_feed.Reader(db, Identity(user="admin", is_admin=True), event_feed.position_now(db))
        with db.session() as slow, db.session() as fast:
            note_event(slow, "acme", "mlp.registry.alias.moved", "first", {})  # takes the lower seq, uncommitted
            note_event(fast, "acme", "mlp.registry.alias.moved", "second", {})
            fast.commit()
            assert reader.poll() == []  # the hole may still fill: wait
            slow.commit()
        assert [json.loads(body)["subject"] for _, body in reader.poll()] == ["first", "second"]

        with db.session() as gone:
            note_event(gone, "acme", "mlp.registry.alias.moved", "rolled back", {})
            gone.rollback()  # a hole for good
        with db.session() as s:
            note_event(s, "acme", "mlp.registry.alias.moved", "third", {})
            s.commit()
        assert reader.poll() == []
        time.sleep(1.2)
        assert [json.loads(body)["subject"] for _, body in reader.poll()] == ["third"]
    finally:
        db.dispose()
