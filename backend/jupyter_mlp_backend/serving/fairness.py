"""Fairness between projects at the serving gateway: one project's burst waits behind itself.

The gateway is one event loop shared by every project, so what a burst costs is the gateway's time. Three parts
keep that cost with the project that causes it:

- **Rejections are paced.** A request over its key's or project's limit is refused from its headers alone (the
  body is never read), and a project's 429s are answered at most `REJECT_RATE` per second at once; the others are
  held until their turn (at most `MAX_HOLD_S`, never longer than the `Retry-After` they carry), and meanwhile
  their connection is quiet. A client hammering with 64 connections thus costs the gateway about `REJECT_RATE`
  cheap answers a second instead of tens of thousands: nearly free, whatever it sends.
- **Work is scheduled per project, in turn.** Every forward to a worker takes a slot: while other projects are
  active, at most `PER_WORKER` in flight per live worker of the deployment, per project (alone, a full
  micro-batch per worker), and `SLOTS` in all. A project at its bound queues (a
  parked request costs nothing), and a freed slot goes to the next project in round-robin order that has a
  request waiting, so a burst's requests queue behind each other, not in front of another project's.
- **Project limits are sized from what is served.** While a project's queue is full, its completions per second
  are what its deployment's workers can serve through this gateway: that is measured (`capacity`). While other
  projects are active too (a request within `ACTIVE_S`), a project may send at most `SHARE / active projects` of
  its measured capacity per second (the configured rate when alone), and never more than the configured
  `serving_project_rate`. Until measured, the configured rate holds.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import AsyncIterator

REJECT_RATE = 100.0  # 429s per second and project answered at once
MAX_HOLD_S = 1.0  # the longest a 429 is held (Retry-After is at least 1 s)
PER_WORKER = 8  # requests in flight per live worker of a deployment, per project
SLOTS = 256  # requests in flight through the gateway in all
SHARE = 0.3  # of a project's measured capacity, split among the active projects, when it is not alone
ACTIVE_S = 2.0  # a project that sent a request this recently is active
WINDOW_S = 0.5  # saturated time needed for one capacity measurement
FLOOR = 10.0  # the least a project limit sized from capacity may be, per second


class _Project:
    __slots__ = ("inflight", "bound", "waiters", "capacity", "win_start", "win_done", "last_seen", "next_reject",
                 "served")

    def __init__(self) -> None:
        self.inflight = 0
        self.bound = PER_WORKER
        self.waiters: deque[asyncio.Future] = deque()
        self.capacity: float | None = None  # measured requests per second while saturated
        self.win_start: float | None = None
        self.win_done = 0
        self.last_seen = 0.0
        self.next_reject = 0.0
        self.served = 0


class Fairness:
    def __init__(self, *, slots: int = SLOTS, reject_rate: float = REJECT_RATE, max_hold: float = MAX_HOLD_S,
                 share: float = SHARE) -> None:
        self.slots, self.reject_rate, self.max_hold, self.share = slots, reject_rate, max_hold, share
        self.used = 0
        self.projects: dict[int, _Project] = {}
        self.ring: deque[int] = deque()  # projects with a request waiting, in turn order
        self._active = (0.0, 1)  # (computed at, count): recounted at most every 100 ms

    def _p(self, project_id: int) -> _Project:
        p = self.projects.get(project_id)
        if p is None:
            p = self.projects[project_id] = _Project()
        return p

    # -- limits --------------------------------------------------------------------------------------------------

    def seen(self, project_id: int) -> None:
        """A request of this project arrived (served or not): it is active."""
        self._p(project_id).last_seen = time.monotonic()

    def active(self) -> int:
        now = time.monotonic()
        at, n = self._active
        if now - at > 0.1:
            n = max(1, sum(1 for p in self.projects.values() if now - p.last_seen < ACTIVE_S))
            self._active = (now, n)
        return n

    def project_rate(self, project_id: int, configured: float) -> float:
        """Requests per second this project may send now: sized from its measured capacity and the number of
        active projects, never above `configured`."""
        cap = self._p(project_id).capacity
        if cap is None:
            return configured
        n = self.active()
        if n <= 1:  # alone, a project may use all the machine serves
            return configured
        return min(configured, max(FLOOR, cap * self.share / n))

    def bound(self, workers: int, max_batch: int) -> int:
        """Requests a project may have in flight to a deployment: a full micro-batch per worker while it is the only
        active project (nothing to be fair to), `PER_WORKER` per worker while others are active too."""
        return max(1, workers) * (max(PER_WORKER, max_batch) if self.active() <= 1 else PER_WORKER)

    def reject_delay(self, project_id: int, retry_after: float) -> float:
        """Seconds to hold this project's 429 before answering: 0 while its 429s stay under `reject_rate` a
        second; else until its turn, at most `max_hold` and `retry_after`."""
        p = self._p(project_id)
        now = time.monotonic()
        slot = min(max(now, p.next_reject), now + min(self.max_hold, retry_after))
        p.next_reject = slot + 1.0 / self.reject_rate
        return slot - now

    # -- scheduling ----------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def slot(self, project_id: int, bound: int) -> AsyncIterator[None]:
        """Hold one of the gateway's slots for this project while a worker answers."""
        await self.acquire(project_id, bound)
        try:
            yield
        finally:
            self.release(project_id)

    async def acquire(self, project_id: int, bound: int) -> None:
        p = self._p(project_id)
        p.bound = max(1, bound)
        if not p.waiters and p.inflight < p.bound and self.used < self.slots:
            p.inflight += 1
            self.used += 1
            return
        fut = asyncio.get_running_loop().create_future()
        p.waiters.append(fut)
        if len(p.waiters) == 1:
            self.ring.append(project_id)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted just as it was cancelled: hand it on
                self.release(project_id)
            else:
                self._forget(project_id, p, fut)
            raise

    def _forget(self, project_id: int, p: _Project, fut: asyncio.Future) -> None:
        try:
            p.waiters.remove(fut)
        except ValueError:
            pass
        if not p.waiters:
            self._unring(project_id)

    def _unring(self, project_id: int) -> None:
        try:
            self.ring.remove(project_id)
        except ValueError:
            pass

    def release(self, project_id: int) -> None:
        p = self._p(project_id)
        p.inflight -= 1
        p.served += 1
        self.used -= 1
        self._measure(p)
        self._dispatch()

    def _measure(self, p: _Project) -> None:
        """Completions per second while the project's queue is full are what its workers serve at most."""
        now = time.monotonic()
        if not p.waiters:
            p.win_start = None
            return
        if p.win_start is None:
            p.win_start, p.win_done = now, 0
            return
        p.win_done += 1
        if now - p.win_start >= WINDOW_S:
            rate = p.win_done / (now - p.win_start)
            p.capacity = rate if p.capacity is None else 0.7 * p.capacity + 0.3 * rate
            p.win_start, p.win_done = now, 0

    def _dispatch(self) -> None:
        """Give free slots to waiting projects, one request each in turn."""
        idle = 0  # projects in a row that could not take a slot (at their own bound)
        while self.used < self.slots and self.ring and idle < len(self.ring):
            project_id = self.ring[0]
            self.ring.rotate(-1)
            p = self.projects[project_id]
            while p.waiters and p.waiters[0].done():  # cancelled while waiting
                p.waiters.popleft()
            if not p.waiters:
                self._unring(project_id)
                continue
            if p.inflight >= p.bound:
                idle += 1
                continue
            idle = 0
            fut = p.waiters.popleft()
            p.inflight += 1
            self.used += 1
            fut.set_result(None)
            if not p.waiters:
                self._unring(project_id)

    def snapshot(self, project_id: int) -> dict[str, float | int | None]:
        p = self._p(project_id)
        return {"inflight": p.inflight, "waiting": len(p.waiters), "capacity_per_s": p.capacity,
                "served": p.served}
