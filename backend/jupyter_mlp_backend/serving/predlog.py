"""Prediction log and feedback: every answered prediction, appended exactly once to the deployment's Iceberg table.

The gateway hands each answered request to `PredictionLog.add` — one tuple appended to a list, nothing else on the
request path. Every few seconds the lists are turned into Arrow tables and written as Parquet files to a spool
folder, `MLP_HOME/serving/spool/<project>/<deployment>/` (pyarrow, off the event loop). A separate committer
process appends the spooled files to `predictions_<deployment>` in the project's Iceberg namespace and deletes them:
pyiceberg's commit is Python work that would otherwise hold the backend's interpreter lock while requests wait.
Requests and answers are kept as the JSON the client sent and received; monitoring decodes them per window.
Ground-truth labels posted later by prediction id go to `feedback_<deployment>`.

Exactly once, whatever fails:
- a spool write that fails keeps its rows in memory, in order, and is tried again at the next flush (beyond
  MAX_BUFFERED rows the oldest are dropped and counted);
- the committer records the names of the files it appends in a property of the Iceberg table (`mlp.spool-files`),
  in the same commit, and skips names already recorded: a commit that failed after it landed, a delete that failed,
  or a committer killed between commit and delete never appends a file twice. A name is dropped from the record
  once its file is gone from the spool folder (it cannot be offered again), so the record holds only the files
  committed and not yet deleted; being no snapshot's summary, it lets the log keep a constant number of snapshots
  (`LOG_SNAPSHOTS`) whatever its commit rate. Spooled files outlive a crash and are committed at the next start.
Failures are retried (the committer backs off to 5 s), written to `MLP_HOME/run/predlog.log` (the committer's
stderr and the backend's spool errors), counted in Prometheus (`mlp_serving_prediction_log_*`) and recorded as
deployment events (`log_failed` once per episode, `log_recovered` when it heals). `drain` is the barrier readers
call: it returns once what was answered before the call is in the table, or says how many rows are still pending.

    python -m jupyter_mlp_backend.serving.predlog --home MLP_HOME     (the committer; the backend starts it)

Kept in one file over ~500 lines on purpose: the spool writer, the committer process and the failure episodes
are one exactly-once protocol whose invariants (above) are read across all three.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from jupyter_mlp import at_rest

log = logging.getLogger(__name__)

FLUSH_S = 2.0
MAX_BUFFERED = 500_000  # beyond this (a writer that cannot keep up) the oldest rows are dropped and counted
PID = re.compile(r"^[0-9a-f]{32}$")
RECORD = "mlp.spool-files"  # table property: the spool files committed and still in the spool folder
MAX_FILES = 200  # spool files per commit
CLOCK_SLACK_MS = 600_000  # records an earlier release kept in snapshot summaries: looked for this far back
LOG_SNAPSHOTS = 8  # snapshots a log table keeps (up to twice as many between trims); older ones are expired
STAGES = ("spool", "commit", "delete")


def table_name(kind: str, deployment: str) -> str:
    return f"{kind}_{deployment.replace('-', '_')}"


def _schema(kind: str):  # noqa: ANN202
    import pyarrow as pa

    if kind == "predictions":
        return pa.schema([("prediction_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")),
                          ("model", pa.string()), ("version", pa.int64()), ("protocol", pa.string()),
                          ("latency_ms", pa.float64()), ("request", pa.string()), ("response", pa.string())])
    return pa.schema([("prediction_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("label", pa.string()),
                      ("submitted_by", pa.string())])


DATABASE_ENV = "MLP_PREDLOG_DATABASE_URL"  # given to the committer (its environment, not its command line)
MASTER_KEY_ENV = "MLP_PREDLOG_AT_REST_MASTER_KEY"


def spool_root(home: Path) -> Path:
    return home / "serving" / "spool"


def log_path(home: Path) -> Path:
    return home / "run" / "predlog.log"


def _name_ms(name: str) -> int:
    try:
        return int(name.split("-", 1)[0]) // 1_000_000
    except ValueError:
        return 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


Key = tuple[str, str]


class PredictionLog:
    def __init__(self, catalog, home: Path | None = None):  # noqa: ANN001
        self.catalog = catalog
        self.home = home
        self.committer_env: dict[str, str] = {}  # what the committer opens the data keys with (encryption at rest)
        self.buffers: dict[Key, list[tuple]] = {}
        self.dropped: dict[Key, int] = {}  # rows dropped because nothing could be written for too long
        self.added: dict[Key, int] = {}  # rows handed over, ever
        self.spooled: dict[Key, int] = {}  # rows written (or dropped), ever: the barrier's spool phase
        self.committed: dict[Key, int] = {}  # rows the committer appended
        self.failures: dict[tuple[str, str, str], int] = {}  # (project, deployment, stage) -> failures
        self.failing: dict[tuple[str, str, str], dict] = {}  # the episodes under way
        self.on_event: Callable[[str, str, str, dict], None] | None = None  # (project, deployment, action, detail)
        self.written = 0
        self._files: dict[Key, dict[str, int]] = {}  # spooled by this process, not yet committed: name -> rows
        self._done: dict[Key, set[str]] = {}  # committed, still in the spool folder (a delete failed)
        self._task: asyncio.Task | None = None
        self._reader: asyncio.Task | None = None
        self._lock: asyncio.Lock | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="predlog")
        # Events are written in the order they happen: with the default pool a log_recovered right after a
        # log_failed could be recorded first (seen in a full run: [deploy, log_failed, log_recovered, log_failed]).
        self._events = ThreadPoolExecutor(1, thread_name_prefix="predlog-events")
        self._committer: asyncio.subprocess.Process | None = None

    def add(self, project: str, deployment: str, row: tuple) -> None:
        key = (project, deployment)
        buf = self.buffers.get(key)
        if buf is None:
            buf = self.buffers[key] = []
        buf.append(row)
        self.added[key] = self.added.get(key, 0) + 1
        if len(buf) > MAX_BUFFERED:
            self._drop(key, buf)

    def _drop(self, key: Key, buf: list) -> None:
        n = len(buf) - MAX_BUFFERED
        del buf[:n]
        self.dropped[key] = self.dropped.get(key, 0) + n
        self.spooled[key] = self.spooled.get(key, 0) + n
        self._note(f"{key[0]}/{key[1]}: dropped the {n} oldest unwritten rows (more than {MAX_BUFFERED} waiting)")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self._ensure_committer()
            except Exception:
                log.exception("starting the prediction log committer")
            await asyncio.sleep(FLUSH_S)
            try:
                await self.flush()
            except Exception:  # keep logging what comes next; the reason is in the log
                log.exception("writing the prediction log")

    async def _ensure_committer(self) -> None:
        if self.home is None or (self._committer is not None and self._committer.returncode is None):
            return
        if self._committer is not None:
            self._note(f"the committer exited with code {self._committer.returncode}; starting it again")
        root = spool_root(self.home)
        if not self.buffers and not (root.is_dir() and any(root.rglob("*.parquet"))):
            return  # nothing to commit yet: no process
        path = log_path(self.home)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as errors:  # the committer's own account of what failed, kept under MLP_HOME
            self._committer = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "jupyter_mlp_backend.serving.predlog", "--home", str(self.home),
                "--parent", str(os.getpid()), *self.catalog_args(), stdout=asyncio.subprocess.PIPE, stderr=errors,
                start_new_session=True, env={**os.environ, **self.committer_env} if self.committer_env else None)
        self._reader = asyncio.get_running_loop().create_task(self._read(self._committer))

    def catalog_args(self) -> list[str]:
        """The committer opens the same warehouse as the backend's catalog (a folder or an `s3://` bucket)."""
        warehouse, endpoint = getattr(self.catalog, "warehouse", None), getattr(self.catalog, "s3_endpoint", None)
        return [*(["--warehouse", warehouse] if warehouse else []), *(["--s3-endpoint", endpoint] if endpoint else [])]

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        """The committer's reports, one JSON object a line, into counters, events and the barrier's state."""
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            try:
                self._report(json.loads(line))
            except Exception:
                log.exception("reading the prediction log committer's report %r", line[:200])

    def _report(self, m: dict) -> None:
        key, stage, names = (m["project"], m["deployment"]), m["stage"], m.get("names", [])
        if stage == "commit" and m.get("ok"):
            self._done.setdefault(key, set()).update(names)
            files = self._files.get(key, {})
            for n in names:
                files.pop(n, None)
            self.committed[key] = self.committed.get(key, 0) + m.get("rows", 0)
        elif stage == "delete":
            self._done.get(key, set()).difference_update(names)
        if m.get("ok"):
            self._healed(key, stage)
        else:
            self._failed(key, stage, m.get("error", "?"), log_it=False)  # the committer wrote it to the log

    def _note(self, message: str) -> None:
        log.warning("prediction log: %s", message)
        if self.home is not None:
            with contextlib.suppress(OSError):
                path = log_path(self.home)
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a") as f:
                    f.write(f"{_now()} backend: {message}\n")

    def _failed(self, key: Key, stage: str, error: str, log_it: bool = True) -> None:
        k = (key[0], key[1], stage)
        self.failures[k] = self.failures.get(k, 0) + 1
        if log_it:
            self._note(f"{key[0]}/{key[1]}: {stage} failed, will retry: {error}")
        if k not in self.failing:
            self.failing[k] = {"since": time.time(), "error": error}
            self._event(key, "log_failed", {"stage": stage, "error": error[:500], "pending_rows": self.pending(*key)})

    def _healed(self, key: Key, stage: str) -> None:
        episode = self.failing.pop((key[0], key[1], stage), None)
        if episode is not None:
            self._note(f"{key[0]}/{key[1]}: {stage} works again after {time.time() - episode['since']:.1f} s")
            self._event(key, "log_recovered", {"stage": stage, "failed_for_s": round(time.time() - episode["since"], 1),
                                               "error": episode["error"][:500]})

    def _event(self, key: Key, action: str, detail: dict) -> None:
        if self.on_event is None:
            return
        try:  # a database write: off the event loop
            fut = asyncio.get_running_loop().run_in_executor(self._events, self.on_event, key[0], key[1], action,
                                                             detail)
            fut.add_done_callback(lambda f: f.exception() and log.error("recording %s: %s", action, f.exception()))
        except RuntimeError:  # no loop (a test calling directly)
            self.on_event(key[0], key[1], action, detail)

    def pending(self, project: str, deployment: str) -> int:
        """Rows answered and not yet in the table: in memory, plus spooled by this process and not committed."""
        key = (project, deployment)
        return len(self.buffers.get(key, ())) + sum(self._files.get(key, {}).values())

    async def flush(self) -> int:
        """Spool what is buffered (or, with no home, append it to Iceberg here). A write that fails keeps its rows,
        in order, for the next flush. Flushes run one at a time, so a flush returns after any that was under way."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            buffers, self.buffers = self.buffers, {}
            n = 0
            loop = asyncio.get_running_loop()
            for key, rows in buffers.items():
                if not rows:
                    continue
                name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}.parquet"
                files = self._files.setdefault(key, {})
                if self.home is not None:
                    files[name] = len(rows)  # before the file exists: the committer's report may come first
                try:
                    await loop.run_in_executor(self._pool, self._write, key[0], key[1], rows, name)
                except Exception as e:  # noqa: BLE001 - kept and retried; the reason goes to the log and an event
                    files.pop(name, None)
                    buf = self.buffers[key] = rows + self.buffers.get(key, [])
                    if len(buf) > MAX_BUFFERED:
                        self._drop(key, buf)
                    self._failed(key, "spool", f"{type(e).__name__}: {e}")
                    continue
                self.spooled[key] = self.spooled.get(key, 0) + len(rows)
                n += len(rows)
                self._healed(key, "spool")
            self.written += n
            return n

    def _lookup(self, project: str):  # noqa: ANN202 - the key of a sealed spool file, asked only when one is sealed
        def lookup(key_id: bytes) -> bytes | None:
            found = self.catalog.sealing(project)[1] if hasattr(self.catalog, "sealing") else None
            return found(key_id) if found else None
        return lookup

    def _write(self, project: str, deployment: str, rows: list[tuple], name: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = list(zip(*rows))
        schema = _schema("predictions")
        data = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema)], schema=schema)
        if self.home is None:
            self.catalog.append_arrow(project, table_name("predictions", deployment), data)
            return
        folder = spool_root(self.home) / project / deployment
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.tmp"
        dk, _ = self.catalog.sealing(project) if hasattr(self.catalog, "sealing") else (None, None)
        try:
            if dk is None:
                pq.write_table(data, tmp)
            else:  # encryption at rest on for the project: the spool file is sealed too
                import io

                buf = io.BytesIO()
                pq.write_table(data, buf)
                at_rest.write_file(tmp, buf.getvalue(), dk)
            os.replace(tmp, folder / name)  # the committer sees whole files only
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    async def drain(self, project: str, deployment: str, timeout: float = 60.0) -> int:
        """The barrier before reading the log: wait until every prediction answered before this call is in the
        table. Returns the rows still pending when `timeout` ran out (0: all are in)."""
        key = (project, deployment)
        target = self.added.get(key, 0)
        deadline = time.monotonic() + timeout
        while True:  # 1. everything answered so far is in a spool file (or, with no home, in the table)
            await self.flush()
            if self.spooled.get(key, 0) >= target:
                break
            if time.monotonic() >= deadline:
                return self.pending(project, deployment)
            await asyncio.sleep(0.2)
        if self.home is None:
            return 0
        folder = spool_root(self.home) / project / deployment
        waiting = {f.name for f in folder.glob("*.parquet")} if folder.is_dir() else set()
        while True:  # 2. those files are committed (deleted, or recorded as committed by the committer)
            waiting -= self._done.get(key, set())
            waiting = {n for n in waiting if (folder / n).exists()}
            if not waiting:
                return 0
            if time.monotonic() >= deadline:
                known = self._files.get(key, {})
                return sum(known[n] if n in known else _rows_in(folder / n, self._lookup(project)) for n in waiting)
            await self._ensure_committer()
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        try:
            deadline = time.monotonic() + 10
            for key in list(self.added):
                left = await self.drain(*key, timeout=max(0.0, deadline - time.monotonic()))
                if left:
                    self._note(f"{key[0]}/{key[1]}: {left} rows not committed at shutdown"
                               + (" (spooled: the next start commits them)" if not self.buffers.get(key) else
                                  f"; {len(self.buffers[key])} could not be spooled and are lost"))
        except Exception:
            log.exception("writing the prediction log at shutdown")
        if self._committer is not None and self._committer.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._committer.terminate()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._committer.wait(), 10)


def event_recorder(app):  # noqa: ANN001, ANN201
    """The log's failures and recoveries, as events of the deployment (through the manager's event recorder)."""

    def record(project: str, deployment: str, action: str, detail: dict) -> None:
        manager = app.state.serving
        live = manager.get(project, deployment)
        if live is not None and manager.on_event is not None:
            manager.on_event(live, action, detail)

    return record


class LogCollector:
    """Prometheus view of the prediction log (registered by serving's /metrics)."""

    def __init__(self, app):  # noqa: ANN001
        self.app = app

    def collect(self):  # noqa: ANN201
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        plog: PredictionLog | None = getattr(getattr(self.app.state, "gateway", None), "predlog", None)
        labels = ["project", "deployment"]
        pending = GaugeMetricFamily("mlp_serving_prediction_log_pending_rows",
                                    "Answered predictions not yet in the log's table (in memory or spooled)", labels=labels)
        committed = CounterMetricFamily("mlp_serving_prediction_log_committed_rows",
                                        "Rows appended to the log's table", labels=labels)
        dropped = CounterMetricFamily("mlp_serving_prediction_log_dropped_rows",
                                      "Rows dropped because nothing could be written for too long", labels=labels)
        failures = CounterMetricFamily("mlp_serving_prediction_log_failures",
                                       "Failed attempts (retried) by step: spool, commit, delete",
                                       labels=[*labels, "stage"])
        failing = GaugeMetricFamily("mlp_serving_prediction_log_failing",
                                    "1 while a step keeps failing (until it works again)", labels=[*labels, "stage"])
        if plog is not None:
            for key in sorted(set(plog.added) | set(plog.committed)):
                pending.add_metric(list(key), plog.pending(*key))
                committed.add_metric(list(key), plog.committed.get(key, 0))
                dropped.add_metric(list(key), plog.dropped.get(key, 0))
                for stage in STAGES:
                    failures.add_metric([*key, stage], plog.failures.get((*key, stage), 0))
                    failing.add_metric([*key, stage], 1 if (*key, stage) in plog.failing else 0)
        yield from (pending, committed, dropped, failures, failing)


def _rows_in(path: Path, lookup=None) -> int:  # noqa: ANN001
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(at_rest.source(path, lookup)).num_rows
    except Exception:  # noqa: BLE001 - gone meanwhile, or unreadable
        return 0


def _report(**kw: Any) -> None:
    print(json.dumps(kw), flush=True)


def commit_folder(catalog, folder: Path, report: Callable[..., None] = _report) -> tuple[int, bool]:  # noqa: ANN001
    """Append one deployment's spooled files (oldest first, at most MAX_FILES) in one commit that records their
    names, then delete them. Returns (rows appended, whether every step worked)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for tmp in folder.glob(".*.tmp"):  # a spool write that failed between writing and renaming, and could not clean up
        with contextlib.suppress(OSError):
            if time.time() - tmp.stat().st_mtime > 600:
                tmp.unlink()
    files = sorted(folder.glob("*.parquet"))[:MAX_FILES]
    if not files:
        return 0, True
    project, deployment = folder.parent.name, folder.name
    where = {"project": project, "deployment": deployment}
    names = [f.name for f in files]
    rows = 0

    def lookup(key_id: bytes) -> bytes | None:  # asked only for a sealed spool file
        found = catalog.sealing(project)[1] if hasattr(catalog, "sealing") else None  # None: no keys given
        return found(key_id) if found else None

    def load(fresh: list[str]):  # noqa: ANN202
        nonlocal rows
        data = pa.concat_tables([pq.read_table(at_rest.source(folder / n, lookup)) for n in fresh])
        rows = data.num_rows
        return data

    try:
        fresh, _ = catalog.append_recorded(project, table_name("predictions", deployment), names, load,
                                           _schema("predictions"), RECORD, min(map(_name_ms, names)) - CLOCK_SLACK_MS,
                                           keep_last=LOG_SNAPSHOTS,  # the table's metadata stays short
                                           live=lambda recorded: {n for n in recorded if (folder / n).exists()})
    except Exception as e:  # noqa: BLE001 - retried at the next round; said in the log and to the backend
        error = f"{type(e).__name__}: {e}"
        print(f"{_now()} committer: {project}/{deployment}: commit of {len(names)} file(s) failed, will retry: "
              f"{error}", file=sys.stderr, flush=True)
        report(**where, stage="commit", ok=False, error=error)
        return 0, False
    report(**where, stage="commit", ok=True, names=names, rows=rows, already=len(names) - len(fresh))
    deleted, errors = [], []
    for f in files:
        try:
            f.unlink()
            deleted.append(f.name)
        except FileNotFoundError:
            deleted.append(f.name)
        except OSError as e:
            errors.append(f"{f.name}: {e}")
    report(**where, stage="delete", ok=not errors, names=deleted, **({"error": errors[0]} if errors else {}))
    if errors:
        print(f"{_now()} committer: {project}/{deployment}: {len(errors)} committed file(s) could not be deleted "
              f"(they are recorded as committed and will not be appended again): {errors[0]}", file=sys.stderr,
              flush=True)
    return rows, not errors


def commit_spool(catalog, root: Path, report: Callable[..., None] = _report) -> int:  # noqa: ANN001
    """Commit every deployment's spooled files; returns the rows appended. Raises nothing: failures are reported."""
    n, _ = commit_round(catalog, root, report)
    return n


def commit_round(catalog, root: Path, report: Callable[..., None] = _report) -> tuple[int, bool]:  # noqa: ANN001
    n, ok = 0, True
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        for _ in range(50):  # a backlog is committed MAX_FILES at a time
            rows, good = commit_folder(catalog, folder, report)
            n, ok = n + rows, ok and good
            if not good or not any(folder.glob("*.parquet")):
                break
    return n, ok


def committer_main(argv: list[str] | None = None) -> None:
    import argparse

    from ..datasets.catalog import Catalog

    ap = argparse.ArgumentParser(prog="jupyter_mlp_backend.serving.predlog")
    ap.add_argument("--home", required=True)
    ap.add_argument("--parent", type=int, help="stop when this process is gone")
    ap.add_argument("--warehouse", help="the Iceberg warehouse (setting iceberg_warehouse); default under --home")
    ap.add_argument("--s3-endpoint", help="the S3-compatible store's URL (setting s3_endpoint_url)")
    args = ap.parse_args(argv)
    home = Path(args.home)
    keys = None
    if url := os.environ.get(DATABASE_ENV):  # the backend's database: the projects' data keys, wrapped
        from .. import at_rest as keyring

        keys = keyring.standalone_keys(home, url, os.environ.get(MASTER_KEY_ENV) or None)
    catalog, root = Catalog(home, args.warehouse, args.s3_endpoint, keys=keys), spool_root(home)
    pause = 0.5
    while True:
        try:
            _, ok = commit_round(catalog, root)
        except Exception as e:  # noqa: BLE001 - the spool folder itself unreadable, and the like
            print(f"{_now()} committer: round failed, will retry: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            ok = False
        pause = 0.5 if ok else min(5.0, pause * 2)  # back off while something fails
        if args.parent and not _alive(args.parent):
            with contextlib.suppress(Exception):
                commit_round(catalog, root)
            return
        time.sleep(pause)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def row(pid: str, model: str, version: int | None, protocol: str, latency_ms: float, request: bytes,
        response: bytes) -> tuple:
    return (pid, datetime.fromtimestamp(time.time(), timezone.utc), model, version or 0, protocol, latency_ms,
            request.decode("utf-8", "replace"), response.decode("utf-8", "replace"))


class FeedbackError(ValueError):
    pass


def feedback_rows(body: bytes, who: str) -> list[tuple]:
    """`{"labels": [{"prediction_id": "…", "label": 1}, …]}` (or one object) -> rows; errors name the problem."""
    try:
        doc = json.loads(body, parse_constant=lambda c: (_ for _ in ()).throw(FeedbackError(f"{c} is not allowed")))
    except FeedbackError:
        raise
    except (ValueError, RecursionError) as e:
        raise FeedbackError(f"the body is not valid JSON: {e}") from None
    items = doc.get("labels") if isinstance(doc, dict) and "labels" in doc else [doc] if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise FeedbackError("send {\"labels\": [{\"prediction_id\": \"…\", \"label\": …}, …]}")
    if len(items) > 10_000:
        raise FeedbackError(f"{len(items)} labels in one request; send at most 10000")
    now = datetime.fromtimestamp(time.time(), timezone.utc)
    out = []
    for i, it in enumerate(items):
        if not isinstance(it, dict) or set(it) != {"prediction_id", "label"}:
            raise FeedbackError(f"labels[{i}] must have exactly prediction_id and label")
        pid, label = it["prediction_id"], it["label"]
        if not isinstance(pid, str) or not PID.match(pid):
            raise FeedbackError(f"labels[{i}].prediction_id must be the 32-character id a prediction returned")
        scalars = label if isinstance(label, list) else [label]
        if (not scalars or len(scalars) > 10_000
                or any(not isinstance(v, (int, float, str, bool)) or isinstance(v, str) and len(v) > 1000
                       for v in scalars)):
            raise FeedbackError(f"labels[{i}].label must be a number, a string or true/false — or, for a request "
                                "that scored several rows, a list of them, one per row in order")
        out.append((pid, now, json.dumps(label), who))
    return out


def write_feedback(catalog, project: str, deployment: str, rows: list[tuple]) -> int:  # noqa: ANN001
    import pyarrow as pa

    schema = _schema("feedback")
    cols = list(zip(*rows))
    data = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema)], schema=schema)
    return catalog.append_arrow(project, table_name("feedback", deployment), data, keep_last=LOG_SNAPSHOTS)


if __name__ == "__main__":
    committer_main()
