"""Live updates (GET /api/events/stream, docs/events.md): delivery latency from the event's commit to its arrival
at 20 subscribers, and the backend's CPU with 20 idle streams open.

A real backend process in a fresh MLP_HOME (SQLite), 20 users each a viewer of one project, each with their own
stream. Events 0.1 s apart, written two ways: by the backend itself (an MLflow run ended through its gateway:
`mlp.experiments.run.finished`, the commit wakes the streams at once) and by another process straight into the
outbox (the streams find it at their next round, every second).

Floor, in the same run: a bare SSE round trip on this machine. A minimal FastAPI app on uvicorn in its own process
holds 20 streams (one asyncio queue each); the bench POSTs an event to it, the app puts it on every queue, and the
same 20 listeners time its arrival as they time the backend's events, but from the POST's start (its events
arrive before the POST returns, so from its return the floor would be 0): write, fan-out and delivery. No
authentication, no database, no outbox. The `ratios:` lines (tests/bench/_floor.py) give each path's p50 over the
floor's p50; no peer product is measured.

Run: .venv/bin/python -m tests.bench.bench_live_events
"""
from __future__ import annotations

import getpass
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx

from tests.bench._floor import print_ratios

N_USERS, N_EVENTS = 20, 100

BARE_SSE = """
import asyncio, json, sys, uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
app = FastAPI()
queues = set()
@app.get("/stream")
async def stream():
    q = asyncio.Queue()
    queues.add(q)
    async def gen():
        try:
            yield "event: ready\\ndata: {}\\n\\n"
            while True:
                subject = await q.get()
                yield "data: " + json.dumps({"specversion": "1.0", "subject": subject}) + "\\n\\n"
        finally:
            queues.discard(q)
    return StreamingResponse(gen(), media_type="text/event-stream")
@app.post("/emit/{subject}")
async def emit(subject: str):
    for q in queues:
        q.put_nowait(subject)
    return {"streams": len(queues)}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def listen(url: str, headers: dict[str, str], user: int, arrivals: dict, ready: threading.Barrier) -> None:
    """One subscriber: notes the arrival time of every CloudEvent by (user, subject), until its server goes."""
    try:
        _listen(url, headers, user, arrivals, ready)
    except httpx.HTTPError:
        pass


def _listen(url: str, headers: dict[str, str], user: int, arrivals: dict, ready: threading.Barrier) -> None:
    with httpx.stream("GET", url, params={"duration": 600}, headers=headers, timeout=None) as r:
        buf = ""
        first = True
        for chunk in r.iter_text():
            buf += chunk
            while "\n\n" in buf:
                block, buf = buf.split("\n\n", 1)
                if first and "event: ready" in block:
                    first = False
                    ready.wait()
                for line in block.split("\n"):
                    if line.startswith("data: ") and '"specversion"' in line:
                        arrivals[(user, json.loads(line[6:])["subject"])] = time.monotonic()


def latencies(arrivals: dict, written: dict[str, float]) -> tuple[list[float], int]:
    time.sleep(5)
    lat = sorted((arrivals[(i, k)] - w) * 1000 for k, w in written.items() for i in range(N_USERS)
                 if (i, k) in arrivals)
    return lat, N_USERS * len(written) - len(lat)


def report(label: str, arrivals: dict, written: dict[str, float]) -> float:
    lat, missing = latencies(arrivals, written)
    q = statistics.quantiles(lat, n=100)
    print(f"{label}: {N_USERS} streams, {len(written)} events 0.1 s apart: deliveries {len(lat)} (missing {missing}); "
          f"latency p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, max {lat[-1]:.0f} ms", flush=True)
    return q[49]


def cpu_seconds(pid: int) -> float:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def bare_floor() -> float:
    """The floor: the same 20 listeners and 100 events through a bare SSE app; returns its p50 in ms."""
    from tests.bench._lab import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_SSE, str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.post(f"{base}/emit/warm", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        arrivals: dict = {}
        ready = threading.Barrier(N_USERS + 1)
        for i in range(N_USERS):
            threading.Thread(target=listen, args=(f"{base}/stream", {}, i, arrivals, ready), daemon=True).start()
        ready.wait()
        written = {}
        with httpx.Client(timeout=60) as client:
            for n in range(N_EVENTS):
                written[f"f{n}"] = time.monotonic()  # before the POST: its event can arrive before it returns
                client.post(f"{base}/emit/f{n}")
                time.sleep(0.1)
        return report("floor: a bare SSE app (FastAPI/uvicorn, one queue per stream)", arrivals, written)
    finally:
        proc.kill()  # uvicorn's graceful stop waits for the open streams to end, which they never do
        proc.wait(10)


def main() -> None:
    from jupyter_mlp.identity import mint_token, read_secret
    from jupyter_mlp.local_backend import ensure_backend
    from jupyter_mlp.settings import load_settings
    from jupyter_mlp_backend.db import Database
    from jupyter_mlp_backend.events import note_event

    for k in [k for k in os.environ if k.startswith("MLP_")]:
        del os.environ[k]
    os.environ["MLP_HOME"] = tempfile.mkdtemp()

    s = load_settings()
    started = ensure_backend(s, wait_seconds=300)  # a loaded 2-core machine took over 60 s
    secret = read_secret(s.secret_path)

    # minted per call: one minted at the start expired before a loaded machine reached the kernel token
    def admin() -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(secret, getpass.getuser())}"}

    url = started.url
    r = httpx.post(f"{url}/api/projects", json={"slug": "acme", "name": "Acme"}, headers=admin(), timeout=60)
    assert r.status_code == 201, r.text
    for i in range(N_USERS):
        httpx.put(f"{url}/api/projects/acme/members/u{i}", json={"role": "viewer"}, headers=admin(), timeout=60)
    time.sleep(15)  # let the eager start-up (MLflow, Dagster) settle
    arrivals: dict = {}  # (user, event id) -> monotonic
    ready = threading.Barrier(N_USERS + 1)
    for i in range(N_USERS):
        headers = {"Authorization": f"Bearer {mint_token(secret, f'u{i}')}"}
        threading.Thread(target=listen, args=(f"{url}/api/events/stream", headers, i, arrivals, ready),
                         daemon=True).start()
    ready.wait()

    pid = started.process.pid
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(20)
    idle_cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100

    # 1. By the backend: runs ended through its MLflow gateway (the project's kernel credentials).
    from mlflow.tracking import MlflowClient

    for _ in range(300):  # the project's experiment needs MLflow, which the eager start brings up in the background
        r = httpx.post(f"{url}/api/projects/acme/kernel-token", headers=admin(), timeout=60)
        if r.status_code == 200:
            break
        time.sleep(1)
    assert r.status_code == 200, r.text
    creds = r.json()
    os.environ["MLFLOW_TRACKING_TOKEN"] = creds["token"]
    mlflow = MlflowClient(tracking_uri=f"{url}{creds['tracking_path']}")
    written = {}
    for _ in range(N_EVENTS):
        run = mlflow.create_run(creds["experiment_id"])
        mlflow.set_terminated(run.info.run_id, "FINISHED")
        written[f"runs/{run.info.run_id}"] = time.monotonic()
        time.sleep(0.1)
    by_backend = report("written by the backend", arrivals, written)

    # 2. By another process, straight into the outbox.
    db = Database(s.effective_database_url)
    written = {}
    for n in range(N_EVENTS):
        with db.session() as sess:
            note_event(sess, "acme", "mlp.registry.alias.moved", f"e{n}", {})
            sess.commit()
        written[f"e{n}"] = time.monotonic()
        time.sleep(0.1)
    by_other = report("written by another process", arrivals, written)
    print(f"backend CPU with {N_USERS} idle streams open: {idle_cpu:.1f}% of one core (20 s)")
    started.stop(5)
    db.dispose()

    floor = bare_floor()
    print_ratios(None, "no peer; written by the backend", by_backend / floor, "p50 backend's stream / bare SSE")
    print_ratios(None, "no peer; written by another process", by_other / floor,
                 "p50 backend's stream / bare SSE; its 1 s poll")


if __name__ == "__main__":
    main()
