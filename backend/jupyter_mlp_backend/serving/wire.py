"""How the backend's gateway talks to a serving worker: length-prefixed frames over one Unix socket.

Many requests share one connection (each frame carries an id), so the gateway never waits for a connection and
never pays HTTP parsing twice; the worker answers in any order, a whole micro-batch at a time. Request frame:
id, body length, kind, then the 32-character prediction id and the client's body as sent. Answer: id, body length,
status, then the JSON body.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

REQUEST = struct.Struct("!IIB")
ANSWER = struct.Struct("!IIH")
PID_LEN = 32

MLFLOW, V2, PING = 1, 2, 3

FAST_ENV = "MLP_SERVING_FAST"  # "0": workers score DataFrames in a thread, as before issue 17 (worker.py)


class WorkerGone(Exception):
    """The worker's connection closed: requests in flight on it failed."""


class WorkerConnection:
    """The gateway's side of one worker: multiplexed calls, futures resolved by a reader task."""

    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._next = 0
        self._task: asyncio.Task | None = None
        self.closed = False

    @property
    def inflight(self) -> int:
        return len(self._pending)

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_unix_connection(self.socket_path, limit=1 << 24)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._reader is not None
        try:
            while True:
                head = await self._reader.readexactly(ANSWER.size)
                rid, n, status = ANSWER.unpack(head)
                body = await self._reader.readexactly(n)
                fut = self._pending.pop(rid, None)
                if fut is not None and not fut.done():
                    fut.set_result((status, body))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._fail_all()

    def _fail_all(self) -> None:
        self.closed = True
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(WorkerGone("the worker stopped while answering"))

    async def call(self, kind: int, body: bytes, pid: str = "0" * PID_LEN) -> tuple[int, bytes]:
        if self.closed or self._writer is None:
            raise WorkerGone("the worker is not connected")
        self._next = (self._next + 1) & 0xFFFFFFFF
        rid = self._next
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        payload = pid.encode()[:PID_LEN].ljust(PID_LEN, b"0") + body
        try:
            self._writer.write(REQUEST.pack(rid, len(payload), kind) + payload)
        except (ConnectionError, RuntimeError) as e:
            self._pending.pop(rid, None)
            raise WorkerGone(str(e)) from None
        return await fut

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
        self._fail_all()


def answer(rid: int, status: int, body: bytes) -> bytes:
    return ANSWER.pack(rid, len(body), status) + body


def error_body(code: str, message: str, **extra: Any) -> bytes:
    import json

    return json.dumps({"error": {"code": code, "message": message, "detail": extra or None}}).encode()
