"""How the backend's gateway talks to a serving worker: length-prefixed frames over one Unix socket.

Many requests share one connection (each frame carries an id), so the gateway never waits for a connection and
never pays HTTP parsing twice; the worker answers in any order, a whole micro-batch at a time. Request frame:
id, body length, kind, then the 32-character prediction id and the client's body as sent. Answer: id, body length,
status, then the JSON body.

The gateway reads its side as a protocol (`Answers`): answers are cut from the bytes as they arrive and each
request's future is resolved inside that read, with no stream reader and no reader task in between, so an answer
costs the backend one task step less (issue 17; `MLP_SERVING_FAST=0` keeps the stream reader and its task).
"""

from __future__ import annotations

import asyncio
import os
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
        self._transport: asyncio.Transport | None = None  # the protocol front (Answers); None with the stream reader
        self.closed = False

    @property
    def inflight(self) -> int:
        return len(self._pending)

    async def connect(self) -> None:
        if os.environ.get(FAST_ENV, "1") != "0":
            self._transport, _ = await asyncio.get_running_loop().create_unix_connection(
                lambda: Answers(self), self.socket_path)
            return
        self._reader, self._writer = await asyncio.open_unix_connection(self.socket_path, limit=1 << 24)
        self._task = asyncio.create_task(self._read())

    def _resolve(self, rid: int, status: int, body: bytes) -> None:
        fut = self._pending.pop(rid, None)
        if fut is not None and not fut.done():
            fut.set_result((status, body))

    async def _read(self) -> None:
        assert self._reader is not None
        try:
            while True:
                head = await self._reader.readexactly(ANSWER.size)
                rid, n, status = ANSWER.unpack(head)
                self._resolve(rid, status, await self._reader.readexactly(n))
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
        out = self._transport or self._writer
        if self.closed or out is None:
            raise WorkerGone("the worker is not connected")
        self._next = (self._next + 1) & 0xFFFFFFFF
        rid = self._next
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        payload = pid.encode()[:PID_LEN].ljust(PID_LEN, b"0") + body
        try:
            out.write(REQUEST.pack(rid, len(payload), kind) + payload)
        except (ConnectionError, RuntimeError) as e:
            self._pending.pop(rid, None)
            raise WorkerGone(str(e)) from None
        return await fut

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
        self._fail_all()


class Answers(asyncio.Protocol):
    """The gateway's side of a worker's connection, read as a protocol: answers are cut from the bytes as they
    arrive (split across reads, or several in one) and each one resolves its request's future right there."""

    def __init__(self, conn: WorkerConnection):
        self.conn = conn
        self.buf = bytearray()  # the start of an answer not whole yet
        self.need = 0  # the bytes `buf` must hold before an answer can be cut from it

    def data_received(self, data: bytes) -> None:
        if self.buf:
            self.buf += data
            if len(self.buf) < self.need:  # a large answer still arriving: no copy until it is whole
                return
            data, self.buf = bytes(self.buf), bytearray()
        head, at, end = ANSWER.size, 0, len(data)
        while end - at >= head:
            rid, n, status = ANSWER.unpack_from(data, at)
            if end - at - head < n:
                break
            self.conn._resolve(rid, status, data[at + head:at + head + n])
            at += head + n
        if at < end:
            self.buf = bytearray(data[at:])
            self.need = head + ANSWER.unpack_from(data, at)[1] if end - at >= head else head

    def connection_lost(self, exc: Exception | None) -> None:
        self.buf = bytearray()
        self.conn._fail_all()


def answer(rid: int, status: int, body: bytes) -> bytes:
    return ANSWER.pack(rid, len(body), status) + body


def error_body(code: str, message: str, **extra: Any) -> bytes:
    import json

    return json.dumps({"error": {"code": code, "message": message, "detail": extra or None}}).encode()
