"""Retention of the events outbox (event_feed.prune, run by the backend every few minutes): an event every
configured consumer has (the Kafka relay's `sent_at` when a broker is configured, the webhooks' `hooks_at` for
alert events) and older than `events_retention_seconds` is deleted; an unsent one never is, nor the newest row.
On a real database (SQLite and, with `make test`, PostgreSQL) and a real backend app."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from jupyter_mlp.settings import Settings
from jupyter_mlp_backend.app import create_app
from jupyter_mlp_backend.db import Database
from jupyter_mlp_backend.event_feed import prune
from jupyter_mlp_backend.events import note_event
from jupyter_mlp_backend.orm import PlatformEvent, utcnow

ALERT = "mlp.monitoring.alert.firing"
MOVED = "mlp.registry.alias.moved"


@pytest.fixture
def db(database_url):
    d = Database(database_url)
    d.migrate()
    yield d
    d.dispose()


def _add(db, types: list[str], age_days: float = 30, sent: bool = False, hooked: bool = False) -> list[int]:
    """Events of the given types, created `age_days` ago."""
    with db.session() as s:
        for t in types:
            note_event(s, "acme", t, "x", {"alert_id": 1})
        s.commit()
        seqs = list(s.execute(select(PlatformEvent.seq).order_by(PlatformEvent.seq.desc()).limit(len(types)))
                    .scalars())[::-1]
        then = utcnow() - timedelta(days=age_days)
        s.execute(update(PlatformEvent).where(PlatformEvent.seq.in_(seqs)).values(
            created_at=then, sent_at=then if sent else None, hooks_at=then if hooked else None))
        s.commit()
        return seqs


def _left(db) -> list[int]:
    with db.session() as s:
        return list(s.execute(select(PlatformEvent.seq).order_by(PlatformEvent.seq)).scalars())


def test_old_events_every_consumer_has_go_and_unsent_ones_stay(db):
    week = 7 * 86400
    delivered = _add(db, [MOVED, MOVED], sent=True)
    unsent = _add(db, [MOVED])  # the relay has not had it yet
    after = _add(db, [MOVED], sent=True)
    young = _add(db, [MOVED], age_days=1, sent=True)
    # A broker is configured: the unsent row and everything after it stay (a prefix goes, so positions hold).
    assert prune(db, week, relay=True) == 2
    assert _left(db) == unsent + after + young
    assert prune(db, week, relay=True) == 0
    # Once the relay sent it, it goes too; the young one stays.
    with db.session() as s:
        s.execute(update(PlatformEvent).where(PlatformEvent.seq.in_(unsent)).values(sent_at=utcnow()))
        s.commit()
    assert prune(db, week, relay=True) == 2 and _left(db) == young
    # Retention 0 keeps everything.
    _add(db, [MOVED], sent=True)
    assert prune(db, 0, relay=True) == 0


def test_with_no_broker_the_webhooks_are_the_only_consumer(db):
    week = 7 * 86400
    moved = _add(db, [MOVED])  # never sent: no relay is configured, nothing waits for it
    alert = _add(db, [ALERT])  # not yet claimed by the webhooks: stays, with what follows
    later = _add(db, [MOVED, MOVED])
    assert prune(db, week, relay=False) == 1 and _left(db) == alert + later
    with db.session() as s:
        s.execute(update(PlatformEvent).where(PlatformEvent.seq.in_(alert)).values(hooks_at=utcnow()))
        s.commit()
    # Claimed: it goes, and so does every old row but the newest (SQLite must not reuse its seq).
    assert prune(db, week, relay=False) == 2 and _left(db) == later[-1:]
    assert moved[0] < alert[0]


def _wait_for(check, seconds: float = 30.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.2)
    return check()


def test_the_backend_prunes_periodically_but_never_an_unsent_event(mlp_home, database_url):
    # A broker that is never there: the relay keeps every event unsent, so none may go.
    settings = Settings(home=mlp_home, database_url=database_url, admin_users=["admin"],
                        events_retention_seconds=1, kafka_bootstrap="127.0.0.1:9")
    with TestClient(create_app(settings)) as client:
        db = client.app.state.db
        unsent = _add(db, [MOVED, MOVED, MOVED])
        time.sleep(3)  # several rounds of the pruner (every second with this retention)
        assert _left(db) == unsent
    # No broker: the same kind of rows are delivered to every consumer there is, and the backend deletes them.
    settings = Settings(home=mlp_home, database_url=database_url, admin_users=["admin"], events_retention_seconds=1)
    with TestClient(create_app(settings)) as client:
        db = client.app.state.db
        more = _add(db, [MOVED, MOVED])
        assert _wait_for(lambda: _left(db) == more[-1:])
