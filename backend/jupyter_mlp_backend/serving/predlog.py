"""Prediction log and feedback: every answered prediction, appended to the deployment's Iceberg table in batches.

The gateway hands each answered request to `PredictionLog.add` — one tuple appended to a list, nothing else on the
request path. Every few seconds the lists are turned into Arrow tables and written as Parquet files to a spool
folder (pyarrow, off the event loop). A separate committer process appends the spooled files to
`predictions_<deployment>` in the project's Iceberg namespace and deletes them: pyiceberg's commit is Python work
that would otherwise hold the backend's interpreter lock while requests wait. Spooled files outlive a crash and
are committed at the next start. Requests and answers are kept as the JSON the client sent and received;
monitoring decodes them per window. Ground-truth labels posted later by prediction id go to
`feedback_<deployment>`.

    python -m jupyter_mlp_backend.serving.predlog --home MLP_HOME     (the committer; the backend starts it)
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
from typing import Any

log = logging.getLogger(__name__)

FLUSH_S = 2.0
MAX_BUFFERED = 500_000  # beyond this (a writer that cannot keep up) the oldest rows are dropped and counted
PID = re.compile(r"^[0-9a-f]{32}$")


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


def spool_root(home: Path) -> Path:
    return home / "serving" / "spool"


class PredictionLog:
    def __init__(self, catalog, home: Path | None = None):  # noqa: ANN001
        self.catalog = catalog
        self.home = home
        self.buffers: dict[tuple[str, str], list[tuple]] = {}
        self.dropped = 0
        self.written = 0
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="predlog")
        self._committer: asyncio.subprocess.Process | None = None

    def add(self, project: str, deployment: str, row: tuple) -> None:
        buf = self.buffers.get((project, deployment))
        if buf is None:
            buf = self.buffers[(project, deployment)] = []
        buf.append(row)
        if len(buf) > MAX_BUFFERED:
            del buf[: len(buf) - MAX_BUFFERED]
            self.dropped += 1

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
        if not any(spool_root(self.home).rglob("*.parquet")) and not self.buffers:
            return  # nothing to commit yet: no process
        self._committer = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jupyter_mlp_backend.serving.predlog", "--home", str(self.home),
            "--parent", str(os.getpid()), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True)

    async def flush(self) -> int:
        """Spool what is buffered (or, with no home, append it to Iceberg here)."""
        buffers, self.buffers = self.buffers, {}
        n = 0
        loop = asyncio.get_running_loop()
        for (project, deployment), rows in buffers.items():
            if rows:
                await loop.run_in_executor(self._pool, self._write, project, deployment, rows)
                n += len(rows)
        self.written += n
        return n

    def _write(self, project: str, deployment: str, rows: list[tuple]) -> None:
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
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}.parquet"
        pq.write_table(data, folder / f".{name}.tmp")
        os.replace(folder / f".{name}.tmp", folder / name)  # the committer sees whole files only

    async def drain(self, project: str, deployment: str, timeout: float = 60.0) -> None:
        """Wait until what was answered so far is in the Iceberg table."""
        await self.flush()
        if self.home is None:
            return
        await self._ensure_committer()
        folder = spool_root(self.home) / project / deployment
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and folder.is_dir() and any(folder.glob("*.parquet")):
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        try:
            await self.flush()  # spooled: committed now, or by the next start's committer
            if self.home is not None and self._committer is not None and self._committer.returncode is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._drain_all(), 10)
        except Exception:
            log.exception("writing the prediction log at shutdown")
        if self._committer is not None and self._committer.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._committer.terminate()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._committer.wait(), 10)

    async def _drain_all(self) -> None:
        root = spool_root(self.home)  # type: ignore[arg-type]
        while any(root.rglob("*.parquet")):
            await asyncio.sleep(0.05)


def commit_spool(catalog, root: Path) -> int:  # noqa: ANN001
    """Append every spooled file to its deployment's table, oldest first, one commit per deployment."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 0
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        files = sorted(folder.glob("*.parquet"))
        if not files:
            continue
        project, deployment = folder.parent.name, folder.name
        data = pa.concat_tables([pq.read_table(f) for f in files])
        catalog.append_arrow(project, table_name("predictions", deployment), data)
        for f in files:
            f.unlink()
        n += data.num_rows
    return n


def committer_main(argv: list[str] | None = None) -> None:
    import argparse

    from ..datasets.catalog import Catalog

    ap = argparse.ArgumentParser(prog="jupyter_mlp_backend.serving.predlog")
    ap.add_argument("--home", required=True)
    ap.add_argument("--parent", type=int, help="stop when this process is gone")
    args = ap.parse_args(argv)
    home = Path(args.home)
    catalog, root = Catalog(home), spool_root(home)
    while True:
        try:
            commit_spool(catalog, root)
        except Exception as e:  # a busy catalog: try again at the next round
            print(f"commit failed: {e}", file=sys.stderr, flush=True)
        if args.parent and not _alive(args.parent):
            commit_spool(catalog, root)
            return
        time.sleep(0.5)


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
    return catalog.append_arrow(project, table_name("feedback", deployment), data)


if __name__ == "__main__":
    committer_main()
