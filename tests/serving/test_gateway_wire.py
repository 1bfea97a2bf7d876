"""The gateway's side of the worker wire (serving/wire.py): answers cut from the bytes as they arrive, each request's
future resolved inside the read (no reader task), and every request in flight failed when the worker goes."""

from __future__ import annotations

import asyncio
import struct
import tempfile
from pathlib import Path

import pytest

from jupyter_mlp_backend.serving import wire


async def _fake_worker(sock: str, got: list[tuple[int, int, bytes]], writers: list[asyncio.StreamWriter]):
    """A worker stand-in that records each request frame and answers only when the test tells it to."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            while True:
                rid, n, kind = wire.REQUEST.unpack(await reader.readexactly(wire.REQUEST.size))
                got.append((rid, kind, await reader.readexactly(n)))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    return await asyncio.start_unix_server(serve, path=sock)


async def _until(cond, timeout: float = 10.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("fast", ["1", "0"])
def test_answers_are_cut_as_bytes_arrive_and_resolved_without_a_reader_task(fast, monkeypatch):
    monkeypatch.setenv(wire.FAST_ENV, fast)

    async def main() -> None:
        with tempfile.TemporaryDirectory() as d:
            sock = str(Path(d) / "w.sock")
            got: list[tuple[int, int, bytes]] = []
            writers: list[asyncio.StreamWriter] = []
            server = await _fake_worker(sock, got, writers)
            conn = wire.WorkerConnection(sock)
            await conn.connect()
            # the protocol front has no task per worker connection; MLP_SERVING_FAST=0 keeps the reader task
            readers = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__.startswith("WorkerConnection.")]
            assert len(readers) == (0 if fast == "1" else 1)
            calls = [asyncio.ensure_future(conn.call(wire.MLFLOW, f'{{"n": {i}}}'.encode(), f"{i:032d}"))
                     for i in range(4)]
            await _until(lambda: len(got) == 4 and bool(writers))
            assert conn.inflight == 4
            assert [g[2] for g in got] == [f"{i:032d}".encode() + f'{{"n": {i}}}'.encode() for i in range(4)]
            rid = {g[2][wire.PID_LEN:]: g[0] for g in got}
            big = b"x" * 200_000  # an answer larger than one read
            out = (wire.answer(rid[b'{"n": 2}'], 200, b"two") + wire.answer(rid[b'{"n": 0}'], 400, b"zero")
                   + wire.answer(rid[b'{"n": 3}'], 200, big))
            w = writers[0]
            for at in range(0, 20, 3):  # the first answers byte by byte (split inside the header too) ...
                w.write(out[at:at + 3])
                await w.drain()
                await asyncio.sleep(0.001)
            w.write(out[21:])  # ... then the rest, several answers and part of one in one write
            await w.drain()
            assert await calls[2] == (200, b"two")
            assert await calls[0] == (400, b"zero")
            assert await calls[3] == (200, big)
            assert not calls[1].done() and conn.inflight == 1
            w.close()  # the worker goes: what it held fails, new calls are refused
            with pytest.raises(wire.WorkerGone):
                await asyncio.wait_for(calls[1], 10)
            with pytest.raises(wire.WorkerGone):
                await conn.call(wire.MLFLOW, b"{}")
            await conn.close()
            server.close()

    asyncio.run(main())


def test_an_answer_header_has_the_length_the_protocol_cuts_by():
    assert wire.ANSWER.size == struct.calcsize("!IIH") and wire.REQUEST.size == struct.calcsize("!IIB")
