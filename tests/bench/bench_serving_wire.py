"""The gateway's side of the worker wire alone: the protocol front (`wire.Answers`, answers resolved inside the read)
against the stream reader with its reader task (`MLP_SERVING_FAST=0`), alternated in one process (issue 17).

A stand-in worker in its own process answers every frame at once with a fixed MLflow answer (no model), so what is
left is the gateway's cost per call: writing the frame, reading the answer, waking the caller. Cells of `--calls`
calls at 1 and 64 callers on one connection, old and new alternated (`--rounds`); p50/p99 of a call and the
gateway process's CPU per call (time.process_time), which the machine's load inflates far less than latency.

Run: nice -n 10 .venv/bin/python -m tests.bench.bench_serving_wire [--rounds 4] [--calls 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_mlp_backend.serving import wire

from tests.bench._floor import print_ratios

WORKER = """
import asyncio, sys
from jupyter_mlp_backend.serving import wire
class Conn(asyncio.Protocol):
    def connection_made(self, t):
        self.t, self.buf = t, b""
    def data_received(self, d):
        d, at, h = self.buf + d, 0, wire.REQUEST.size
        while len(d) - at >= h:
            rid, n, kind = wire.REQUEST.unpack_from(d, at)
            if len(d) - at - h < n:
                break
            pid = d[at + h:at + h + wire.PID_LEN]
            self.t.write(wire.answer(rid, 200, b'{"predictions": [1], "prediction_id": "' + pid + b'"}'))
            at += h + n
        self.buf = d[at:]
async def main():
    await asyncio.get_running_loop().create_unix_server(Conn, path=sys.argv[1])
    print("READY", flush=True)
    await asyncio.sleep(1e6)
import uvloop
uvloop.run(main())
"""
BODY = b'{"dataframe_split": {"columns": ["f0", "f1"], "data": [[0.5, -1.0]]}}'


async def cell(sock: str, fast: bool, calls: int, callers: int) -> tuple[float, float, float]:
    os.environ[wire.FAST_ENV] = "1" if fast else "0"  # read by connect()
    conn = wire.WorkerConnection(sock)
    await conn.connect()
    lat: list[float] = []

    async def caller(k: int) -> None:
        for _ in range(k):
            t = time.perf_counter()
            await conn.call(wire.MLFLOW, BODY, "a" * wire.PID_LEN)
            lat.append(time.perf_counter() - t)

    await caller(200)  # warm
    lat.clear()
    c0 = time.process_time()
    await asyncio.gather(*(caller(calls // callers) for _ in range(callers)))
    cpu = (time.process_time() - c0) / len(lat) * 1e6
    await conn.close()
    lat.sort()
    return statistics.median(lat) * 1e3, lat[int(0.99 * (len(lat) - 1))] * 1e3, cpu


async def run(sock: str, rounds: int, calls: int) -> None:
    res: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    for r in range(rounds):
        for callers in (1, 64):
            order = (("stream reader", False), ("protocol", True))
            for name, fast in order if r % 2 == 0 else order[::-1]:
                res.setdefault((name, callers), []).append(await cell(sock, fast, calls, callers))
    for callers in (1, 64):
        meds = {}
        for name in ("stream reader", "protocol"):
            cells = res[(name, callers)]
            meds[name] = statistics.median(c[2] for c in cells)
            print(f"{name:13s} {callers:2d} callers: p50 ms {[round(c[0], 3) for c in cells]}  p99 ms "
                  f"{[round(c[1], 3) for c in cells]}  gateway CPU us/call {[round(c[2], 1) for c in cells]} "
                  f"(median {meds[name]:.1f})")
        # The peer is the path it replaces (MLP_SERVING_FAST=0); the floor of a whole call is bench_serving's
        # (in-process predict + a loopback round trip): this bench isolates one part of it and measures none.
        print_ratios(meds["stream reader"] / meds["protocol"],
                     f"stream reader / protocol, gateway CPU per call at {callers} callers", None,
                     "none here: the whole call's floor is bench_serving's")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--calls", type=int, default=3000)
    args = ap.parse_args()
    import uvloop

    with tempfile.TemporaryDirectory() as d:
        sock = str(Path(d) / "w.sock")
        proc = subprocess.Popen([sys.executable, "-c", WORKER, sock], stdout=subprocess.PIPE)
        try:
            assert proc.stdout is not None and proc.stdout.readline().startswith(b"READY")
            uvloop.run(run(sock, args.rounds, args.calls))
        finally:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
