"""Prediction log and feedback: every answered prediction, appended to the deployment's Iceberg table in batches.

The gateway hands each answered request to `PredictionLog.add` — one tuple appended to a list, nothing else on the
request path. A background task swaps the lists every few seconds and appends them to
`predictions_<deployment>` in the project's Iceberg namespace from a thread (one commit per flush, so the table's
snapshots stay few). Requests and answers are kept as the JSON the client sent and received; monitoring decodes
them per window. Ground-truth labels posted later by prediction id go to `feedback_<deployment>`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
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


class PredictionLog:
    def __init__(self, catalog):  # noqa: ANN001
        self.catalog = catalog
        self.buffers: dict[tuple[str, str], list[tuple]] = {}
        self.dropped = 0
        self.written = 0
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="predlog")

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
            await asyncio.sleep(FLUSH_S)
            try:
                await self.flush()
            except Exception:  # keep logging what comes next; the reason is in the log
                log.exception("writing the prediction log")

    async def flush(self) -> int:
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

        cols = list(zip(*rows))
        schema = _schema("predictions")
        data = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema)], schema=schema)
        self.catalog.append_arrow(project, table_name("predictions", deployment), data)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        try:
            await self.flush()
        except Exception:
            log.exception("writing the prediction log at shutdown")


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
        if not isinstance(label, (int, float, str, bool)) or isinstance(label, str) and len(label) > 1000:
            raise FeedbackError(f"labels[{i}].label must be a number, a string or true/false")
        out.append((pid, now, json.dumps(label), who))
    return out


def write_feedback(catalog, project: str, deployment: str, rows: list[tuple]) -> int:  # noqa: ANN001
    import pyarrow as pa

    schema = _schema("feedback")
    cols = list(zip(*rows))
    data = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema)], schema=schema)
    return catalog.append_arrow(project, table_name("feedback", deployment), data)
