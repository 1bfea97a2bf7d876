"""Live updates (GET /api/events/stream, docs/events.md): delivery latency from the event's commit to its arrival
at 20 subscribers, and the backend's CPU with 20 idle streams open.

A real backend process in a fresh MLP_HOME (SQLite), 20 users each a viewer of one project, each with their own
stream. Events 0.1 s apart, written two ways: by the backend itself (an MLflow run ended through its gateway:
`mlp.experiments.run.finished`, the commit wakes the streams at once) and by another process straight into the
outbox (the streams find it at their next round, every second).

Run: .venv/bin/python -m tests.bench.bench_live_events
"""
from __future__ import annotations

import getpass
import json
import os
import statistics
import tempfile
import threading
import time

import httpx

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.local_backend import ensure_backend
from jupyter_mlp.settings import load_settings
from jupyter_mlp_backend.db import Database
from jupyter_mlp_backend.events import note_event

for k in [k for k in os.environ if k.startswith("MLP_")]:
    del os.environ[k]
os.environ["MLP_HOME"] = tempfile.mkdtemp()

N_USERS, N_EVENTS = 20, 100
s = load_settings()
started = ensure_backend(s)
secret = read_secret(s.secret_path)
admin = {"Authorization": f"Bearer {mint_token(secret, getpass.getuser())}"}
url = started.url
httpx.post(f"{url}/api/projects", json={"slug": "acme", "name": "Acme"}, headers=admin, timeout=60)
for i in range(N_USERS):
    httpx.put(f"{url}/api/projects/acme/members/u{i}", json={"role": "viewer"}, headers=admin, timeout=60)
time.sleep(15)  # let the eager start-up (MLflow, Dagster) settle
arrivals = {}  # (user, event id) -> monotonic
ready = threading.Barrier(N_USERS + 1)

def listen(i):
    tok = mint_token(secret, f"u{i}")
    with httpx.stream("GET", f"{url}/api/events/stream", params={"duration": 600},
                      headers={"Authorization": f"Bearer {tok}"}, timeout=None) as r:
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
                        arrivals[(i, json.loads(line[6:])["subject"])] = time.monotonic()

for i in range(N_USERS):
    threading.Thread(target=listen, args=(i,), daemon=True).start()
ready.wait()

def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

pid = started.process.pid
c0, t0 = cpu_seconds(pid), time.monotonic()
time.sleep(20)
idle_cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100



def report(label: str, written: dict[str, float]) -> None:
    time.sleep(5)
    lat = sorted((arrivals[(i, k)] - w) * 1000 for k, w in written.items() for i in range(N_USERS)
                 if (i, k) in arrivals)
    missing = N_USERS * len(written) - len(lat)
    q = statistics.quantiles(lat, n=100)
    print(f"{label}: {N_USERS} streams, {len(written)} events 0.1 s apart: deliveries {len(lat)} (missing {missing}); "
          f"latency p50 {q[49]:.0f} ms, p95 {q[94]:.0f} ms, max {lat[-1]:.0f} ms")


# 1. By the backend: runs ended through its MLflow gateway (the project's kernel credentials).
from mlflow.tracking import MlflowClient  # noqa: E402

creds = httpx.post(f"{url}/api/projects/acme/kernel-token", headers=admin, timeout=60).json()
os.environ["MLFLOW_TRACKING_TOKEN"] = creds["token"]
mlflow = MlflowClient(tracking_uri=f"{url}{creds['tracking_path']}")
written = {}
for n in range(N_EVENTS):
    run = mlflow.create_run(creds["experiment_id"])
    mlflow.set_terminated(run.info.run_id, "FINISHED")
    written[f"runs/{run.info.run_id}"] = time.monotonic()
    time.sleep(0.1)
report("written by the backend", written)

# 2. By another process, straight into the outbox.
db = Database(s.effective_database_url)
written = {}
for n in range(N_EVENTS):
    with db.session() as sess:
        note_event(sess, "acme", "mlp.registry.alias.moved", f"e{n}", {})
        sess.commit()
    written[f"e{n}"] = time.monotonic()
    time.sleep(0.1)
report("written by another process", written)
print(f"backend CPU with {N_USERS} idle streams open: {idle_cpu:.1f}% of one core (20 s)")
started.stop(5)
db.dispose()
