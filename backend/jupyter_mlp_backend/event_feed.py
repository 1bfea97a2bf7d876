"""The events outbox read by people: the panels' live updates, and the outbox's retention.

Live updates (`GET /api/events/stream`, routes/events.py) read the same `events` rows the Kafka relay and the
webhooks consume, so they work with no broker at all. A reader holds a position (the last `seq` it handed out)
and each round takes the rows after it, keeping those of the projects the caller may read (deny by default: a
project the caller is not a member of never passes; membership is read again every round, so a member removed
from a project stops receiving its events at the next round). On PostgreSQL a transaction that took a lower
`seq` may commit after a higher one: a reader that meets a hole waits up to `GAP_WAIT` seconds for it before
passing it (a rolled-back insert leaves a hole forever). SQLite serializes writers, so holes never fill there.

Retention (`prune`): an event is deleted once it is older than `events_retention_seconds` and every configured
consumer has it (`sent_at` when a broker is configured; `hooks_at` for the alert events webhooks take). Only a
prefix of the table is deleted, up to the first row that must stay, and never the newest row, so the rows left
are every event after the oldest one kept, `seq` keeps growing on SQLite (which reuses the highest free rowid),
and a reader whose position is older than that prefix is told to reload (`stale`).

Shared core (like events.py): imports no domain.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, delete, func, or_, select

from .access import MIN_ROLE, Action
from .db import Database
from .events import COMMITTED, family
from .identity import Identity
from .orm import Membership, PlatformEvent, Project, utcnow
from .schemas import Role

GAP_WAIT = 3.0
BATCH = 500
# The action that reads each family's objects: its least role is the least role that sees the family's events.
FAMILY_ACTION = {"experiments": Action.read_runs, "pipelines": Action.read_pipelines, "registry": Action.read_models,
                 "serving": Action.read_serving, "monitoring": Action.read_monitoring}
HOOKED_TYPES = ("mlp.monitoring.alert.firing", "mlp.monitoring.alert.resolved")  # what the webhooks claim


class Wakeup:
    """Wakes this process's streams as soon as a transaction that wrote events commits (events.COMMITTED), so
    they need not wait for their next polling round; events written by other processes wait for that round."""

    def __init__(self) -> None:
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()

    def register(self) -> asyncio.Event:
        ev = asyncio.Event()
        with self._lock:
            self._waiters.add((asyncio.get_running_loop(), ev))
        return ev

    def unregister(self, ev: asyncio.Event) -> None:
        with self._lock:
            self._waiters = {w for w in self._waiters if w[1] is not ev}

    def notify(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, ev in waiters:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # its loop is closed: the stream is gone
                self.unregister(ev)


WAKEUP = Wakeup()
COMMITTED.append(WAKEUP.notify)


def readable(db: Database, who: Identity) -> dict[str, Role] | None:
    """The caller's role per project (None: a platform admin, who reads every project)."""
    if who.is_admin:
        return None
    with db.session() as s:
        return {slug: Role(role) for slug, role in s.execute(
            select(Project.slug, Membership.role).join(Membership, Membership.project_id == Project.id)
            .where(Membership.user == who.user))}


def may_read(roles: dict[str, Role] | None, project: str, type_: str) -> bool:
    if roles is None:
        return True
    role = roles.get(project)
    if role is None:
        return False
    action = FAMILY_ACTION.get(family(type_))
    needed = MIN_ROLE.get(action) if action else None
    return needed is not None and role.rank >= needed.rank


def position_now(db: Database) -> int:
    """The newest event's `seq` (0 when there is none): where a reader without a position starts."""
    with db.session() as s:
        return s.execute(select(func.max(PlatformEvent.seq))).scalar_one() or 0


def is_stale(db: Database, position: int) -> bool:
    """Whether events after `position` may have been pruned (or `position` is not from this database): the reader
    cannot resume and should reload what it shows."""
    with db.session() as s:
        low, high = s.execute(select(func.min(PlatformEvent.seq), func.max(PlatformEvent.seq))).one()
    if high is None:
        return position > 0
    return position > high or position < low - 1


@dataclass
class Reader:
    """One subscriber's position in the outbox."""

    db: Database
    who: Identity
    position: int
    _gaps: dict[int, float] = field(default_factory=dict)  # a hole's first `seq` -> when this reader first saw it

    def poll(self) -> list[tuple[int, str]]:
        """The events after the position the caller may read, as (seq, CloudEvents JSON); moves the position."""
        waits = self.db.engine.dialect.name != "sqlite"
        with self.db.session() as s:
            rows = s.execute(select(PlatformEvent.seq, PlatformEvent.project, PlatformEvent.type)
                             .where(PlatformEvent.seq > self.position)
                             .order_by(PlatformEvent.seq).limit(BATCH)).all()
        if not rows:
            return []
        roles = readable(self.db, self.who)
        now, wanted = time.monotonic(), []
        for seq, project, type_ in rows:
            if waits and seq != self.position + 1:
                first = self._gaps.setdefault(self.position + 1, now)
                if now - first < GAP_WAIT:
                    break  # an earlier transaction may still commit its event
            self.position = seq
            if may_read(roles, project, type_):
                wanted.append(seq)
        self._gaps = {k: v for k, v in self._gaps.items() if k > self.position}
        if not wanted:
            return []
        with self.db.session() as s:
            bodies = dict(s.execute(select(PlatformEvent.seq, PlatformEvent.body)
                                    .where(PlatformEvent.seq.in_(wanted))).all())
        return [(seq, bodies[seq]) for seq in wanted if seq in bodies]


def prune(db: Database, retention_seconds: int, relay: bool) -> int:
    """Delete the events older than the retention that every consumer has; returns how many. `relay`: a Kafka
    relay is configured, so an event needs `sent_at` too."""
    if retention_seconds <= 0:
        return 0
    cutoff = utcnow() - timedelta(seconds=retention_seconds)
    must_stay = or_(PlatformEvent.created_at >= cutoff,
                    and_(PlatformEvent.type.in_(HOOKED_TYPES), PlatformEvent.hooks_at.is_(None)))
    if relay:
        must_stay = or_(must_stay, PlatformEvent.sent_at.is_(None))
    with db.session() as s:
        newest = s.execute(select(func.max(PlatformEvent.seq))).scalar_one()
        if newest is None:
            return 0
        first_kept = s.execute(select(func.min(PlatformEvent.seq)).where(must_stay)).scalar_one()
        upto = newest if first_kept is None else min(first_kept, newest)
        gone = s.execute(delete(PlatformEvent).where(PlatformEvent.seq < upto)).rowcount
        s.commit()
        return gone or 0
