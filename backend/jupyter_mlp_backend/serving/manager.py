"""Serving workers: started, watched, restarted, scaled and switched by the backend.

A deployment holds one *pool* of workers, all serving the same verified version. Deploying another version starts
a new pool beside the old one; traffic moves (one pointer, atomically) only once every new worker has verified
and loaded its model and answered a ping; the old pool then drains its in-flight requests and stops. A worker
that dies is replaced; the requests it held fail with 503 and Retry-After, nothing else does. When the p95 latency
of a window breaches the deployment's SLA the pool grows by one worker (up to the maximum); after a window idle it
shrinks (down to the minimum).

Kept in one file over ~500 lines on purpose: pools, supervision, restarts, autoscaling and switching all change
the same per-deployment state (`Live`, its pool) under the same event-loop discipline; one file keeps that state
machine readable in one place.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlp.at_rest import AtRestError
from jupyter_mlp.local_backend import clean_stale_socket_dirs, note_socket_dir
from jupyter_mlp.user_env import user_code_env

from . import sealed_model
from .wire import FAST_ENV, PING, WorkerConnection, WorkerGone
from ..children import child_options

log = logging.getLogger(__name__)

WINDOW_S = 10.0  # one point of the charts, and the autoscaler's window
KEEP_WINDOWS = 360  # one hour of history
BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
# A worker that cannot be started again (its model refused at verification, a load that fails) is retried after
# 1, 2, 4, … seconds; after RESTART_TRIES failures in a row the pool stops trying, the deployment is marked failed
# with the reason, and when nothing of that version still serves, the version that served before it is started.
RESTART_BACKOFF_S = 1.0
RESTART_BACKOFF_MAX_S = 60.0
RESTART_TRIES = 5
WARM_KEEP_S = 3600.0  # a worker warmed ahead of a deploy that does not come (a pending approval) stops after this


class StartFailed(Exception):
    """A worker did not become ready; the message says why (verification refused, load failed, timeout)."""


@dataclass
class Spec:
    """What a pool serves and how."""

    deployment_id: int
    project: str
    deployment: str
    model: str
    version: int
    version_id: int
    folder: Path  # <root>/model, beside statement.json, signature, trusted.json
    max_batch: int
    max_wait_ms: float
    lookup: Any = None  # the project's data-key lookup: opens a sealed copy of the folder (sealed_model.py)


class Worker:
    def __init__(self, spec: Spec, index: int, socket_dir: Path, log_dir: Path):
        self.spec, self.index = spec, index
        self.socket = socket_dir / f"{spec.deployment_id}-{spec.version}-{index}-{os.urandom(3).hex()}.sock"
        self.log_path = log_dir / f"worker-v{spec.version}-{index}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.conn: WorkerConnection | None = None
        self.started_at = 0.0
        self.started_mono = 0.0
        self.signature: list[dict[str, Any]] = []
        self.outputs: list[dict[str, Any]] = []  # v2 metadata of what the model returns (from its signature)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and self.conn is not None and \
            not self.conn.closed

    async def start(self, timeout: float) -> None:
        try:  # a sealed copy (encryption at rest) is opened on tmpfs for the load, and removed once loaded
            async with sealed_model.opened(self.spec.folder, self.spec.lookup) as folder:
                await self._start(timeout, folder)
        except AtRestError as e:
            raise StartFailed(f"version {self.spec.version} cannot be opened: {e}") from None

    async def _start(self, timeout: float, folder: Path) -> None:
        s = self.spec
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logf = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "jupyter_mlp_backend.serving.worker", "--dir", str(folder),
                "--socket", str(self.socket), "--project", s.project, "--model", s.model, "--version", str(s.version),
                "--max-batch", str(s.max_batch), "--max-wait-ms", str(s.max_wait_ms),
                stdout=asyncio.subprocess.PIPE, stderr=logf, **child_options(),
                # no __pycache__ in the verified model folder (a models-from-code model's .py is imported from there):
                # the next worker, batch or restart, would find a file added and refuse the model
                # the model's own code runs there (models-from-code): none of the backend's secrets (user_env)
                env=user_code_env({"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
                                   "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
                                   **({FAST_ENV: os.environ[FAST_ENV]} if FAST_ENV in os.environ else {})}))
        finally:
            logf.close()
        assert self.proc.stdout is not None
        try:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), timeout)).decode().strip()
        except asyncio.TimeoutError:
            await self.stop(0)
            raise StartFailed(f"worker did not load the model within {timeout:.0f} s") from None
        if not line.startswith("READY"):
            await self.stop(0)
            reason = line[len("REFUSED "):] if line.startswith("REFUSED") else self._tail()
            raise StartFailed(f"version {s.version} refused: {reason}" if line.startswith("REFUSED")
                              else f"worker exited while loading the model: {reason}")
        with contextlib.suppress(ValueError):
            ready = json.loads(line[len("READY"):].strip() or "{}")
            self.signature, self.outputs = ready.get("signature", []), ready.get("outputs", [])
        self.conn = WorkerConnection(str(self.socket))
        await self.conn.connect()
        status, _ = await asyncio.wait_for(self.conn.call(PING, b""), 10)
        if status != 200:
            raise StartFailed("worker did not answer its first ping")
        self.started_at = time.time()
        self.started_mono = time.monotonic()  # uptime is measured on this clock: it never jumps
        asyncio.get_running_loop().create_task(self._drain_stdout())

    async def _drain_stdout(self) -> None:
        with contextlib.suppress(Exception):
            while self.proc and self.proc.stdout and await self.proc.stdout.readline():
                pass

    def _tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace").strip().splitlines()[-1]
        except (OSError, IndexError):
            return "no output"

    async def stop(self, grace: float = 10.0) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        if self.conn is not None:
            await self.conn.close()
        self.socket.unlink(missing_ok=True)


class Pool:
    """The workers of one version. `pick` sends a request to the least busy live worker."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.workers: list[Worker] = []
        self.next_index = 0
        self.failures = 0  # failed starts in a row
        self.retry_at = 0.0  # monotonic time of the next start attempt
        self.gave_up = False

    def live(self) -> list[Worker]:
        return [w for w in self.workers if w.alive]

    def pick(self) -> Worker | None:
        best, load = None, math.inf
        for w in self.workers:
            if w.alive and w.conn.inflight < load:  # type: ignore[union-attr]
                best, load = w, w.conn.inflight  # type: ignore[union-attr]
        return best

    def inflight(self) -> int:
        return sum(w.conn.inflight for w in self.workers if w.conn is not None)


@dataclass
class Window:
    start: float
    count: int = 0
    errors: int = 0
    rejected: int = 0  # 429
    latencies: list[float] = field(default_factory=list)  # ms of answered requests


class Stats:
    """Latency and traffic of one deployment: Prometheus buckets (with the SLA among them) and 10-second windows
    for the panel's charts and the autoscaler."""

    def __init__(self, sla_ms: float):
        self.set_sla(sla_ms)
        self.windows: deque[Window] = deque(maxlen=KEEP_WINDOWS)
        self.total = 0
        self.sum_ms = 0.0
        self.by_status: dict[str, int] = {}
        self.last_request = 0.0
        # Counters live in the backend's memory: they start again from zero when it restarts (Prometheus' rate()
        # handles the reset); /metrics gives this start time, so that a reset is visible as one.
        self.started = time.time()

    def set_sla(self, sla_ms: float) -> None:
        old = getattr(self, "bucket_counts", None)
        self.sla_ms = sla_ms
        self.buckets = tuple(sorted(set(BUCKETS_MS) | {sla_ms}))
        self.bucket_counts = [0] * len(self.buckets)
        if old is not None:  # counts stay cumulative per bound; re-derive is impossible, so restart them
            self.total, self.sum_ms = 0, 0.0

    def _window(self, now: float) -> Window:
        start = now - now % WINDOW_S
        if not self.windows or self.windows[-1].start != start:
            self.windows.append(Window(start))
        return self.windows[-1]

    def record(self, ms: float, status: int) -> None:
        now = time.time()
        self.last_request = now
        w = self._window(now)
        key = str(status)
        self.by_status[key] = self.by_status.get(key, 0) + 1
        if status == 429:
            w.rejected += 1
            return
        w.count += 1
        if status >= 500:
            w.errors += 1
        w.latencies.append(ms)
        self.total += 1
        self.sum_ms += ms
        for i, b in enumerate(self.buckets):
            if ms <= b:
                self.bucket_counts[i] += 1
                break

    def series(self, since: float | None = None) -> list[dict[str, Any]]:
        out = []
        for w in self.windows:
            if since is not None and w.start < since:
                continue
            lat = sorted(w.latencies)
            out.append({"start": w.start, "requests": w.count, "errors": w.errors, "rejected": w.rejected,
                        "p50_ms": _q(lat, 0.50), "p95_ms": _q(lat, 0.95), "p99_ms": _q(lat, 0.99)})
        return out


def _q(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(math.ceil(q * len(sorted_values))) - 1)]


class Live:
    """A deployment as the gateway sees it: the pool in service, limits, stats."""

    def __init__(self, deployment_id: int, project_id: int, project: str, name: str, model: str, sla_ms: float,
                 min_workers: int, max_workers: int):
        self.id, self.project_id, self.project, self.name, self.model = deployment_id, project_id, project, name, model
        self.min_workers, self.max_workers = min_workers, max_workers
        self.pool: Pool | None = None
        self.stats = Stats(sla_ms)
        self.lock = asyncio.Lock()
        self.status = "deploying"
        self.message: str | None = None
        self.last_scale = 0.0
        self.log_predictions = True
        self.previous: Spec | None = None  # what served before the pool in service: the fallback when it fails

    @property
    def version(self) -> int | None:
        return self.pool.spec.version if self.pool else None


class Manager:
    """Every live deployment of this backend, by (project, name)."""

    def __init__(self, home: Path, start_timeout: float):
        self.home = home
        self.start_timeout = start_timeout
        self.live: dict[tuple[str, str], Live] = {}
        self.resuming = False  # the deployments of before a restart are being read: an unknown one may be one of them
        # Unix socket paths are limited to ~100 bytes: keep them short, private, out of MLP_HOME. The folder is
        # noted under MLP_HOME/run, so that the next start removes it when this backend is killed before shutdown.
        for stale in clean_stale_socket_dirs(home / "run"):
            log.info("removed the socket folder of a backend that is gone: %s", stale)
        self.socket_dir = Path(tempfile.mkdtemp(prefix="mlp-serve-"))
        os.chmod(self.socket_dir, 0o700)
        self._socket_note = note_socket_dir(home / "run", self.socket_dir)
        self._supervisor: asyncio.Task | None = None
        self.on_event = None  # callable(live, action, detail) set by the app: records restarts and scaling
        # Workers started ahead of a deploy (`warm`), by (project, deployment, version): the deploy adopts one
        # instead of starting it; one nobody adopts within WARM_KEEP_S is stopped.
        self.warm: dict[tuple[str, str, int], asyncio.Task] = {}

    def folder(self, project: str, deployment: str, version: int) -> Path:
        return self.home / "serving" / project / deployment / f"v{version}"

    def log_dir(self, project: str, deployment: str) -> Path:
        return self.home / "serving" / project / deployment / "logs"

    def _scale_path(self, project: str, deployment: str) -> Path:
        return self.home / "serving" / project / deployment / "scale.json"

    def remember_scale(self, live: Live, workers: int) -> None:
        """Keep the number of workers the autoscaler reached, so that a restarted backend starts that many."""
        path = self._scale_path(live.project, live.name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".scale.{os.getpid()}")
            tmp.write_text(json.dumps({"workers": workers, "at": time.time()}))
            tmp.replace(path)
        except OSError:
            log.exception("could not keep the scale of %s/%s", live.project, live.name)

    def remembered_scale(self, project: str, deployment: str) -> int | None:
        try:
            n = json.loads(self._scale_path(project, deployment).read_text()).get("workers")
        except (OSError, ValueError, AttributeError):
            return None
        return n if isinstance(n, int) and n > 0 else None

    @staticmethod
    def write_meta(root: Path, statement: str, signature: str, trusted: dict[str, bytes]) -> None:
        (root / "statement.json").write_text(statement)
        (root / "signature").write_text(signature)
        (root / "trusted.json").write_text(json.dumps({k: base64.b64encode(v).decode() for k, v in trusted.items()}))

    def get(self, project: str, name: str) -> Live | None:
        return self.live.get((project, name))

    def start_warm(self, spec: Spec) -> asyncio.Task:
        """Start one worker for spec's version before the deploy asks for it (a Ship warms one as soon as the
        version passed its gates, while a lead's approval is pending): the deploy then adopts it already loaded.
        Idempotent per (project, deployment, version)."""
        key = (spec.project, spec.deployment, spec.version)
        task = self.warm.get(key)
        if task is not None:
            return task

        w = Worker(spec, 0, self.socket_dir, self.log_dir(spec.project, spec.deployment))
        w.log_path = w.log_path.with_name(f"worker-v{spec.version}-warm.log")

        async def run() -> Worker:
            await w.start(self.start_timeout)
            log.info("deployment %s/%s: a worker of v%d is warm (pid %s)", spec.project, spec.deployment,
                     spec.version, w.proc.pid if w.proc else None)
            return w

        loop = asyncio.get_running_loop()
        task = loop.create_task(run())
        task.worker = w  # type: ignore[attr-defined] - stopped by drop_warm even while it loads
        self.warm[key] = task

        def expire() -> None:
            if self.warm.get(key) is task:
                loop.create_task(self.drop_warm(*key))

        loop.call_later(WARM_KEEP_S, expire)
        return task

    async def drop_warm(self, project: str, deployment: str, version: int) -> None:
        """Stop a warm worker nobody adopted (the version was rejected, or never deployed)."""
        task = self.warm.pop((project, deployment, version), None)
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await task.worker.stop(0)  # type: ignore[attr-defined]

    async def _adopt_warm(self, spec: Spec) -> Worker | None:
        """The warm worker of spec's version, once loaded (its start is awaited: it began earlier), or None."""
        task = self.warm.pop((spec.project, spec.deployment, spec.version), None)
        if task is None:
            return None
        try:
            w = await task
        except BaseException as e:  # noqa: BLE001 - a warm start that failed: the deploy starts its own
            log.info("deployment %s/%s: the warm worker of v%d did not start (%s); starting one", spec.project,
                     spec.deployment, spec.version, e)
            return None
        if not w.alive or w.spec.folder != spec.folder:
            await w.stop(0)
            return None
        w.spec = spec
        return w

    async def _start_pool(self, spec: Spec, n: int) -> Pool:
        pool = Pool(spec)
        warm = await self._adopt_warm(spec)
        if warm is not None:
            pool.next_index = 1
        workers = [self._new_worker(pool) for _ in range(n - (warm is not None))]
        results = await asyncio.gather(*(w.start(self.start_timeout) for w in workers), return_exceptions=True)
        if warm is not None:
            workers.insert(0, warm)
            results.insert(0, None)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await asyncio.gather(*(w.stop(0) for w in workers), return_exceptions=True)
            e = errors[0]
            raise e if isinstance(e, StartFailed) else StartFailed(f"{type(e).__name__}: {e}")
        pool.workers = workers
        return pool

    def _new_worker(self, pool: Pool) -> Worker:
        w = Worker(pool.spec, pool.next_index, self.socket_dir, self.log_dir(pool.spec.project, pool.spec.deployment))
        pool.next_index += 1
        return w

    async def deploy(self, live: Live, spec: Spec, workers: int | None = None) -> int | None:
        """Serve spec's version; returns the version it replaced. Traffic moves only once the new pool is ready;
        on failure the old pool keeps serving and StartFailed is raised. `workers`: grow to that many (within the
        deployment's bounds) once the minimum serves — the scale a restarted backend restores."""
        async with live.lock:
            self.live[(live.project, live.name)] = live
            base = max(1, live.min_workers)
            n = max(base, min(workers or 0, live.max_workers))
            new = await self._start_pool(spec, base)
            if n > base:  # the first answers do not wait for the others to load
                live.last_scale = time.time()  # restored: idle time counts from now, not from the last request
                asyncio.get_running_loop().create_task(self._grow(live, new, n))
            old, live.pool = live.pool, new
            live.status, live.message = "ready", None
            if old is not None and old.spec.version != spec.version:
                live.previous = old.spec
        if old is not None:
            asyncio.get_running_loop().create_task(self._drain(old))
        return old.spec.version if old else None

    async def _grow(self, live: Live, pool: Pool, n: int) -> None:
        """Add workers to a pool that serves already, up to `n` (a restored scale)."""
        workers = [self._new_worker(pool) for _ in range(n - len(pool.workers))]
        results = await asyncio.gather(*(w.start(self.start_timeout) for w in workers), return_exceptions=True)
        for w, r in zip(workers, results):
            if r is None and live.pool is pool:
                pool.workers.append(w)
            else:  # failed (the supervisor keeps the minimum), or the pool was switched meanwhile
                await w.stop(0)
        log.info("deployment %s/%s: restored to %d worker(s)", live.project, live.name, len(pool.workers))

    async def _drain(self, pool: Pool, timeout: float = 30.0) -> None:
        deadline = time.time() + timeout
        while pool.inflight() and time.time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.gather(*(w.stop() for w in pool.workers), return_exceptions=True)

    async def stop(self, project: str, name: str) -> None:
        self._scale_path(project, name).unlink(missing_ok=True)
        live = self.live.pop((project, name), None)
        if live is not None and live.pool is not None:
            async with live.lock:
                pool, live.pool = live.pool, None
                live.status = "stopped"
            await self._drain(pool, 10)

    async def forward(self, live: Live, kind: int, body: bytes, pid: str, wait: float = 30.0) -> tuple[int, bytes]:
        """Send to the least busy worker. While a replacement worker starts (none alive), new requests wait for it
        rather than fail: only the requests a dying worker held fail."""
        pool = live.pool
        w = pool.pick() if pool else None
        if w is None:
            deadline = time.monotonic() + wait
            while w is None and time.monotonic() < deadline and live.status == "ready":
                await asyncio.sleep(0.02)
                pool = live.pool
                w = pool.pick() if pool else None
            if w is None:
                raise WorkerGone("no worker is ready")
        return await w.conn.call(kind, body, pid)  # type: ignore[union-attr]

    # -- supervision ----------------------------------------------------------------------------------------------

    def start_supervisor(self) -> None:
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for live in list(self.live.values()):
                try:
                    await self._check(live)
                except Exception:  # keep supervising the others
                    log.exception("supervising %s/%s", live.project, live.name)

    async def _check(self, live: Live) -> None:
        pool = live.pool
        if pool is None or live.lock.locked():
            return
        dead = [w for w in pool.workers if not w.alive]
        for w in dead:
            pool.workers.remove(w)
            code = w.proc.returncode if w.proc else None
            await w.stop(0)
            self._event(live, "restart", {"worker": w.index, "exit_code": code, "version": pool.spec.version})
        want = max(live.min_workers, len(pool.workers) + len(dead))
        want = min(want, live.max_workers)
        now = time.time()
        # Autoscale on the last complete window.
        windows = live.stats.windows
        # The window that just closed; an older one (traffic stopped) says nothing about now.
        last = next((w for w in reversed(windows) if now - 2 * WINDOW_S <= w.start <= now - WINDOW_S), None)
        if last is not None and now - live.last_scale > WINDOW_S:
            p95 = _q(sorted(last.latencies), 0.95)
            if p95 is not None and p95 > live.stats.sla_ms and len(pool.workers) < live.max_workers:
                want = len(pool.workers) + 1
                live.last_scale = now
                self._event(live, "scale", {"from": len(pool.workers), "to": want, "p95_ms": round(p95, 2),
                                            "sla_ms": live.stats.sla_ms})
        idle = now - max(live.stats.last_request, live.last_scale) > 3 * WINDOW_S
        if idle and len(pool.workers) > live.min_workers:
            victim = max(pool.workers, key=lambda w: w.index)
            pool.workers.remove(victim)
            live.last_scale = now
            self._event(live, "scale", {"from": len(pool.workers) + 1, "to": len(pool.workers), "reason": "idle"})
            asyncio.get_running_loop().create_task(self._drain_worker(victim))
            return
        while len(pool.workers) < want:
            if pool.gave_up or time.monotonic() < pool.retry_at:
                return
            w = self._new_worker(pool)
            try:
                await w.start(self.start_timeout)
            except StartFailed as e:
                pool.failures += 1
                live.message = str(e)
                if pool.failures >= RESTART_TRIES:
                    pool.gave_up = True
                    await self._give_up(live, pool, str(e))
                    return
                delay = min(RESTART_BACKOFF_MAX_S, RESTART_BACKOFF_S * 2 ** (pool.failures - 1))
                pool.retry_at = time.monotonic() + delay
                self._event(live, "failed", {"message": str(e), "attempt": pool.failures,
                                             "retry_in_s": round(delay, 2), "version": pool.spec.version})
                return
            pool.failures = 0
            if live.pool is pool:
                pool.workers.append(w)
            else:  # switched meanwhile
                await w.stop(0)
                return

    async def _give_up(self, live: Live, pool: Pool, reason: str) -> None:
        """Stop restarting `pool`'s version: mark the deployment failed with the reason; where none of its workers
        still serves, start the version that served before it (verified again), so that something good serves."""
        version, tries = pool.spec.version, pool.failures
        message = f"Version {version} could not be restarted ({tries} tries): {reason}"
        fallback = None
        prev = live.previous
        if not pool.live() and prev is not None and live.pool is pool:
            try:
                async with live.lock:
                    new = await self._start_pool(prev, max(1, live.min_workers))
                    old, live.pool = live.pool, new
                    live.previous = old.spec if old is not None else None
                fallback = prev.version
                message += f". Version {fallback}, which served before it, serves again"
                if old is not None:
                    asyncio.get_running_loop().create_task(self._drain(old))
            except StartFailed as e:
                message += f". Version {prev.version}, which served before it, did not start either: {e}"
        elif pool.live():
            message += f". Its {len(pool.live())} running worker(s) go on serving"
        if fallback is None and not pool.live():
            live.status = "failed"
        live.message = message
        self._event(live, "failed", {"message": message, "gave_up": True, "attempts": tries, "version": version,
                                     "fallback_version": fallback})

    async def _drain_worker(self, w: Worker) -> None:
        deadline = time.time() + 30
        while w.conn is not None and w.conn.inflight and time.time() < deadline:
            await asyncio.sleep(0.05)
        await w.stop()

    def _event(self, live: Live, action: str, detail: dict[str, Any]) -> None:
        log.info("deployment %s/%s: %s %s", live.project, live.name, action, detail)
        if action == "scale":
            self.remember_scale(live, detail["to"])
        if self.on_event is not None:
            try:
                self.on_event(live, action, detail)
            except Exception:
                log.exception("recording a deployment event")

    async def shutdown(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        try:
            for project, deployment, version in list(self.warm):
                await self.drop_warm(project, deployment, version)
            for key in list(self.live):
                live = self.live.pop(key)
                if live.pool is not None:
                    await asyncio.gather(*(w.stop(5) for w in live.pool.workers), return_exceptions=True)
        finally:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self._socket_note.unlink(missing_ok=True)
