"""A serving worker: one process, one verified model, micro-batched predictions over a Unix socket.

    python -m jupyter_mlp_backend.serving.worker --dir FOLDER --socket PATH --project P --model M --version V
        [--max-batch 64] [--max-wait-ms 0] [--batch]

Before anything is deserialised the worker checks the folder against the version's signed statement
(`FOLDER/../statement.json`, `signature`) with the platform's trusted keys (`trusted.json`), then loads the model once with
`mlflow.pyfunc.load_model` and prints `READY` on stdout. Requests are parsed and checked against the model's
signature as they arrive (a bad one is answered alone); requests with the same columns are scored together, up to
`max-batch` rows: while one batch is being predicted the next one gathers, and `max-wait-ms` can hold a batch open
longer to make it bigger.

A classifier that has class probabilities (scikit-learn's, XGBoost's or CatBoost's `predict_proba`, the models
`mlflow.evaluate` takes them from) answers the MLflow protocol with `predictions` unchanged plus `probabilities`
(one list per row, in the order of `classes`): the prediction log keeps them, so monitoring scores AUC and
calibration from the same numbers the gates did.

A scikit-learn estimator whose inputs are all of one numeric type, in the order it was fitted on, is given a numpy
array instead of a DataFrame (issue 17): building a one-row DataFrame and scikit-learn's checks of it cost about
four times the prediction itself. The first batch is scored both ways and the array is used from then on only if
it gave exactly the same answer (a pipeline that selects columns by name fails or differs, and keeps the DataFrame).
A batch is predicted in a thread, so that pings and parsing go on meanwhile, unless the model's last batch took
under `INLINE_S`: then it is predicted on the event loop, without the two thread hand-overs (about 0.1 ms) that
would cost more than the prediction. `MLP_SERVING_FAST=0` in the backend's environment turns both off (the
benchmark's side-by-side "before", and an escape hatch).
The gateway's connection is read as a protocol (`Conn`): frames are cut from the bytes as they arrive, and such a
fast model's batch is scored inside the read that completed it, without waking the batching loop (issue 17;
`MLP_SERVING_FAST=0` keeps the stream reader and the loop). Once loaded, such a worker freezes its heap out of the
cyclic collector's sight (`heap.settle`: a full collection of it stopped the loop for 40-50 ms every few seconds
under load) and says in its READY line how many objects a full collection still walks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import sys
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .. import heap
from . import protocol, wire
from .model_loading import array_dtype, load, probabilities_of

INLINE_S = 0.002  # a model whose last batch took less is predicted on the event loop, not in a thread


class Item:
    __slots__ = ("rid", "writer", "kind", "pid", "parsed")

    def __init__(self, rid: int, writer: asyncio.StreamWriter, kind: int, pid: str, parsed: protocol.Parsed):
        self.rid, self.writer, self.kind, self.pid, self.parsed = rid, writer, kind, pid, parsed


class Worker:
    def __init__(self, model: Any, schema: protocol.Schema, *, name: str, version: int, max_batch: int,
                 max_wait: float):
        self.model = model
        self.schema = schema
        self.name, self.version = name, version
        self.max_batch = max(1, max_batch)
        self.max_wait = max(0.0, max_wait)
        self.queue: deque[Item] = deque()
        self.wake = asyncio.Event()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="predict")
        self.dtypes = ({c.name: protocol.CHECKS[c.type][1] for c in schema.columns} if schema.columns else {})
        self.proba, self.classes = probabilities_of(model)
        fast = os.environ.get(wire.FAST_ENV, "1") != "0"
        self.array_dtype = array_dtype(model, schema) if fast else None  # None: every batch as a DataFrame
        self.last_predict = float("inf") if fast else None  # seconds the last batch took (None: always a thread)
        self.inline_s = INLINE_S
        self.busy = False  # a batch is in the predict thread
        self.array_ok: bool | None = None  # the array's answer matched the DataFrame's (None: not compared yet)
        if self.array_dtype is not None:  # the array is in the fitted order, checked above: not a mistake here
            warnings.filterwarnings("ignore", message="X does not have valid feature names", category=UserWarning)

    # -- connections --------------------------------------------------------------------------------------------

    def frame(self, rid: int, kind: int, payload: bytes, writer: Any) -> None:
        """One request frame: a ping is answered at once, a bad body alone with 400; the others are queued."""
        pid, body = payload[:wire.PID_LEN].decode(), payload[wire.PID_LEN:]
        if kind == wire.PING:
            writer.write(wire.answer(rid, 200, json.dumps(
                {"ready": True, "model": self.name, "version": self.version, "pid": os.getpid(),
                 "queued": len(self.queue)}).encode()))
            return
        try:
            parsed = (protocol.parse_v2 if kind == wire.V2 else protocol.parse_mlflow)(body, self.schema)
        except protocol.BadRequest as e:
            writer.write(wire.answer(rid, 400, wire.error_body("bad_request", str(e))))
            return
        except Exception as e:  # never let one request take the worker down
            writer.write(wire.answer(rid, 400, wire.error_body("bad_request", f"cannot read the input: {e}")))
            return
        self.queue.append(Item(rid, writer, kind, pid, parsed))

    def inline(self) -> bool:
        """Whether the next batch is scored on the event loop: a fast model, and nothing held open or in the thread."""
        return (self.last_predict is not None and self.last_predict < self.inline_s and not self.max_wait
                and not self.busy)

    def kick(self) -> None:
        """Frames arrived: a fast model's batches are scored right here (no wake-up of the batching loop, one loop
        turn less per request); the others wake the loop."""
        while self.queue and self.inline():
            self._inline(self._take())
        if self.queue:
            self.wake.set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(wire.REQUEST.size)
                rid, n, kind = wire.REQUEST.unpack(head)
                payload = await reader.readexactly(n)
                self.frame(rid, kind, payload, writer)
                self.wake.set()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the gateway closed the connection, or the worker is stopping
        finally:
            writer.close()

    # -- batching -----------------------------------------------------------------------------------------------

    def _take(self) -> list[Item]:
        """The oldest request and every queued one with the same columns (and no params), up to max-batch rows."""
        first = self.queue.popleft()
        batch, rows = [first], first.parsed.rows
        if first.parsed.params:
            return batch
        keep: deque[Item] = deque()
        while self.queue and rows < self.max_batch:
            it = self.queue.popleft()
            if it.parsed.key == first.parsed.key and not it.parsed.params and rows + it.parsed.rows <= self.max_batch:
                batch.append(it)
                rows += it.parsed.rows
            else:
                keep.append(it)
        keep.extend(self.queue)
        self.queue = keep
        return batch

    def _frame(self, batch: list[Item]) -> Any:
        import numpy as np
        import pandas as pd

        cols: dict[str, Any] = {}
        for name in batch[0].parsed.columns:
            values = batch[0].parsed.columns[name] if len(batch) == 1 else [
                v for it in batch for v in it.parsed.columns[name]]
            dtype = self.dtypes.get(name)
            if dtype and dtype not in ("object", "datetime64[ns]") and None not in values:
                cols[name] = np.asarray(values, dtype=dtype)
            elif dtype == "datetime64[ns]":
                cols[name] = pd.to_datetime(values)
            else:
                cols[name] = values
        return pd.DataFrame(cols, copy=False)

    def _array(self, batch: list[Item]) -> Any:
        """The batch as a rows × columns numpy array of the signature's one type; None when a value is missing."""
        import numpy as np

        if len(batch) == 1:
            data = list(batch[0].parsed.columns.values())
        else:
            data = [[v for it in batch for v in it.parsed.columns[name]] for name in batch[0].parsed.columns]
        if any(None in values for values in data):
            return None
        return np.ascontiguousarray(np.array(data, dtype=self.array_dtype).T)

    def _predict(self, batch: list[Item]) -> tuple[list[Any], list[Any] | None]:
        params = batch[0].parsed.params
        x = self._array(batch) if self.array_dtype is not None and self.array_ok is not False and not params else None
        if x is not None and self.array_ok:
            return self._score(x, batch, params)
        result = self._score(self._frame(batch), batch, params)
        if x is not None:  # the first time: the array must give exactly the DataFrame's answer, or it is not used
            try:
                self.array_ok = self._score(x, batch, params) == result
            except Exception:  # noqa: BLE001 - e.g. a pipeline that selects columns by name
                self.array_ok = False
        return result

    def _timed(self, batch: list[Item]) -> tuple[list[Any], list[Any] | None]:
        t = time.perf_counter()
        try:
            return self._predict(batch)
        finally:
            if self.last_predict is not None:
                self.last_predict = time.perf_counter() - t

    def _score(self, x: Any, batch: list[Item], params: dict[str, Any] | None) -> tuple[list[Any], list[Any] | None]:
        out = self.model.predict(x, params=params) if params else self.model.predict(x)
        proba = None
        if self.proba is not None and any(it.kind != wire.V2 for it in batch):
            try:
                proba = protocol.jsonable(self.proba(x))
            except Exception:  # noqa: BLE001 - the predictions stand; only the probabilities are left out
                proba = None
        return protocol.jsonable(out), proba

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.queue:
                self.wake.clear()
                await self.wake.wait()
            if self.max_wait and sum(it.parsed.rows for it in self.queue) < self.max_batch:
                await asyncio.sleep(self.max_wait)
            if not self.queue:  # scored meanwhile by kick()
                continue
            batch = self._take()
            if self.inline():
                self._inline(batch)  # faster than handing it to the thread and back
                continue
            self.busy = True
            try:
                rows, proba = await loop.run_in_executor(self.pool, self._timed, batch)
            except Exception as e:  # the model raised: every request of the batch gets the reason
                self._failed(batch, e)
                continue
            finally:
                self.busy = False
            self._answer(batch, rows, proba)

    def _inline(self, batch: list[Item]) -> None:
        try:
            rows, proba = self._timed(batch)
        except Exception as e:  # noqa: BLE001 - the model raised: every request of the batch gets the reason
            self._failed(batch, e)
            return
        self._answer(batch, rows, proba)

    @staticmethod
    def _failed(batch: list[Item], e: Exception) -> None:
        body = wire.error_body("prediction_failed", f"the model raised {type(e).__name__}: {e}"[:2000])
        for it in batch:
            it.writer.write(wire.answer(it.rid, 500, body))

    def _answer(self, batch: list[Item], rows: list[Any], proba: list[Any] | None) -> None:
        at = 0
        for it in batch:
            part = rows[at:at + it.parsed.rows]
            at += it.parsed.rows
            if it.kind == wire.V2:
                doc = {"model_name": self.name, "model_version": str(self.version),
                       "id": it.parsed.request_id or it.pid, "parameters": {"prediction_id": it.pid},
                       "outputs": protocol.v2_outputs(part, self.schema.outputs)}
            else:
                doc = {"predictions": part, "prediction_id": it.pid}
                if proba is not None and len(proba) == len(rows):
                    doc["probabilities"] = proba[at - it.parsed.rows:at]
                    doc["classes"] = self.classes
            it.writer.write(wire.answer(it.rid, 200, _dumps(doc)))


class Conn(asyncio.Protocol):
    """The gateway's connection, read as a protocol: frames are cut from the bytes as they arrive and handed to the
    worker, with no stream reader and no task per connection in between (issue 17)."""

    def __init__(self, worker: Worker):
        self.worker = worker
        self.buf = bytearray()  # the start of a frame not whole yet
        self.need = 0  # the bytes `buf` must hold before a frame can be cut from it
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.buf:
            self.buf += data
            if len(self.buf) < self.need:  # a large body still arriving: no copy until it is whole
                return
            data, self.buf = bytes(self.buf), bytearray()
        head, at, end = wire.REQUEST.size, 0, len(data)
        while end - at >= head:
            rid, n, kind = wire.REQUEST.unpack_from(data, at)
            if end - at - head < n:
                break
            self.worker.frame(rid, kind, data[at + head:at + head + n], self.transport)
            at += head + n
        if at < end:
            self.buf = bytearray(data[at:])
            self.need = head + wire.REQUEST.unpack_from(data, at)[1] if end - at >= head else head
        self.worker.kick()

    def connection_lost(self, exc: Exception | None) -> None:
        self.buf = bytearray()


def _finite(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, list):
        return [_finite(x) for x in v]
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    return v


def _dumps(doc: dict[str, Any]) -> bytes:
    """Strict JSON: a model's NaN or infinity comes back as null rather than as an invalid token."""
    try:
        return json.dumps(doc, allow_nan=False).encode()
    except ValueError:
        return json.dumps(_finite(doc), allow_nan=False, default=str).encode()
    except TypeError:
        return json.dumps(_finite(doc), allow_nan=False, default=str).encode()


def batch_main(args: argparse.Namespace) -> None:
    """Batch mode: one JSON line per chunk on stdin ({"in": parquet, "out": parquet}), one JSON line back. The
    output is the chunk's rows with the prediction column(s) added, written to a temporary name and renamed, so
    a chunk file either is complete or does not exist."""
    import pandas as pd

    from .batch_chunks import chunk_key, read_chunk, write_chunk

    model, schema = load(Path(args.dir), args.project, args.model, args.version)
    print("READY", json.dumps({"pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        try:
            job = json.loads(line)
            dk = chunk_key(job)
            frame = read_chunk(job["in"], dk)
            if schema.columns is not None:
                missing = [c.name for c in schema.columns if c.name not in frame.columns and c.required]
                if missing:
                    raise ValueError(f"the input has no column(s) {missing}; the model expects {schema.names}")
                features = frame[[c.name for c in schema.columns if c.name in frame.columns]]
            else:
                features = frame
            out = model.predict(features)
            if isinstance(out, pd.DataFrame):
                scored = pd.concat([frame.reset_index(drop=True),
                                    out.add_prefix("prediction_").reset_index(drop=True)], axis=1)
            else:
                scored = frame.assign(prediction=list(out) if not hasattr(out, "shape") or len(out.shape) == 1
                                      else [list(r) for r in out])
            write_chunk(job["out"], scored, dk)
            print(json.dumps({"ok": True, "rows": len(frame)}), flush=True)
        except Exception as e:  # the chunk failed; the worker goes on
            print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"[:2000]}), flush=True)


async def main_async(args: argparse.Namespace) -> None:
    model, schema = load(Path(args.dir), args.project, args.model, args.version)
    worker = Worker(model, schema, name=args.model, version=args.version, max_batch=args.max_batch,
                    max_wait=args.max_wait_ms / 1000)
    sock = Path(args.socket)
    sock.unlink(missing_ok=True)
    if worker.last_predict is not None:  # the protocol front (issue 17); MLP_SERVING_FAST=0 keeps the stream reader
        server = await asyncio.get_running_loop().create_unix_server(lambda: Conn(worker), path=str(sock))
    else:
        server = await asyncio.start_unix_server(worker.serve, path=str(sock), limit=1 << 24)
    os.chmod(sock, 0o600)
    batcher = asyncio.create_task(worker.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()

    async def orphaned() -> None:  # the backend died without stopping us: do not serve on as an orphan
        while os.getppid() == parent:
            await asyncio.sleep(1.0)
        stop.set()

    watch = asyncio.create_task(orphaned())
    ready = {"pid": os.getpid(), "signature": schema.describe(), "outputs": schema.outputs}
    if worker.last_predict is not None:
        # The model's load (MLflow, pandas, scikit-learn: about a million objects) out of every later full
        # collection, which walked it for 40-50 ms every few seconds at thousands of requests a second, stopping
        # the loop with every request in flight (issue 17, heap.py). "heap": what a full collection walks now.
        ready["heap"] = {"frozen": heap.settle(), "walked": heap.walked()}
    print("READY", json.dumps(ready), flush=True)
    await stop.wait()
    watch.cancel()
    server.close()
    # drain: answer what is queued before leaving
    for _ in range(200):
        if not worker.queue:
            break
        await asyncio.sleep(0.01)
    batcher.cancel()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="jupyter_mlp_backend.serving.worker")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--socket", help="Unix socket to serve on (not with --batch)")
    ap.add_argument("--project", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--version", required=True, type=int)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--max-wait-ms", type=float, default=0.0)
    ap.add_argument("--batch", action="store_true", help="score Parquet chunks named on stdin instead of serving")
    args = ap.parse_args(argv)
    if args.batch:
        batch_main(args)
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
