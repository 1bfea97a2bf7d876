"""First page of runs at 100,000 runs × 20 params × 20 metrics: our API vs MLflow's own search, same store.

One MLflow store is filled by bulk insert (MLflow creates the schema); one `mlflow server` serves it, and the
platform backend runs in front of that same server and store. The query: runs with `params.p0 = 'v3'` (10% of
runs), sorted by `metrics.m0 DESC`, first 50. Timings alternate between the two, warm (each timed after one
untimed call), over HTTP on loopback; MLflow's in-process `SqlAlchemyStore.search_runs` is timed too, as the
most generous baseline. Budget (issue 3): ≥ 5× faster than MLflow and a first page under 300 ms.

Beside the peer ratio it prints the floor ratio: the same page as one SQL statement on the indexes alone, timed in
the same run; and the cold first page of a fresh backend process on the existing store (issue 17).

Run: .venv/bin/python -m tests.bench.bench_run_search [--runs 100000] [--rounds 5] [--postgres]
(--postgres: the store on PostgreSQL, from MLP_TEST_POSTGRES_URL or tests/services/postgres.sh, filled by the
server itself: runs_store.fill_postgres, whose metric history table stays empty — the page reads latest_metrics)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from tests.bench._floor import print_ratios
from tests.bench._lab import free_port
from tests.bench.runs_store import N_METRICS, N_PARAMS, create_store, fill, fill_postgres

FILTER = "params.p0 = 'v3'"
ORDER = "metrics.m0 DESC"


def start_mlflow(store_url: str | Path, artifacts: Path) -> tuple[subprocess.Popen, str]:
    store_url = str(store_url)  # most callers pass the SQLite file's Path
    if not store_url.startswith(("sqlite:", "postgresql")):  # a SQLite file path
        store_url = f"sqlite:///{store_url}"
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_url,
                             "--artifacts-destination", str(artifacts), "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("mlflow server did not start")


def start_backend(home: Path, mlflow_url: str, store_url: str, experiment_id: str):  # noqa: ANN201
    """The backend as `python -m jupyter_mlp_backend` starts it (eager), in this process; returns once its start
    has opened MLflow's store (the runs search's indexes built), with the seconds that took."""
    from jupyter_mlp.identity import mint_token, read_secret
    from jupyter_mlp.settings import Settings
    from jupyter_mlp_backend import create_app
    from jupyter_mlp_backend.orm import Project, ProjectExperiment
    from sqlalchemy import select

    settings = Settings(home=home, admin_users=["bench"], mlflow_url=mlflow_url, container_engine="none",
                        mlflow_backend_store_uri=store_url)
    app = create_app(settings, eager=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t0 = time.perf_counter()
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started or not getattr(app.state, "experiments", None) or not app.state.experiments.store_open:
        time.sleep(0.05)
    t_prepare = time.perf_counter() - t0
    url = f"http://127.0.0.1:{port}/api"
    token = mint_token(read_secret(settings.secret_path), "bench", 3600)
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600)
    assert client.post("/projects", json={"slug": "bench", "name": "Bench"}).status_code == 201
    with app.state.db.session() as s:  # the bench experiment was made outside the gateway: map it by hand
        project_id = s.execute(select(Project.id).where(Project.slug == "bench")).scalar_one()
        s.add(ProjectExperiment(experiment_id=experiment_id, project_id=project_id, name="bench", created_by="bench"))
        s.commit()
    return server, client, t_prepare


def cold_start(home: Path, mlflow_url: str, store_url: str) -> tuple[float, float]:
    """A fresh backend process on the existing store: seconds until it answers /health, then the first page's
    seconds, asked at once (what a user opening the panel right after a restart waits)."""
    from jupyter_mlp.identity import mint_token, read_secret
    from jupyter_mlp.settings import Settings

    port = free_port()
    env = {**os.environ, "MLP_HOME": str(home), "MLP_MLFLOW_URL": mlflow_url, "MLP_CONTAINER_ENGINE": "none",
           "MLP_MLFLOW_BACKEND_STORE_URI": store_url, "MLP_ADMIN_USERS": '["bench"]', "MLP_LOG_LEVEL": "WARNING"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_mlp_backend", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api"
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("the backend process exited")
            time.sleep(0.05)
        t_up = time.perf_counter() - t0
        token = mint_token(read_secret(Settings(home=home).secret_path), "bench", 3600)
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600)
        t_first = timed(lambda: client.get("/projects/bench/runs", params={"filter": FILTER, "order_by": ORDER,
                                                                            "limit": 50}).raise_for_status())
        return t_up, t_first
    finally:
        proc.terminate()
        proc.wait(60)


# The floor: the same page as one SQL statement on the indexes alone (a range scan of latest_metrics' (key, is_nan,
# value) index, each run checked against params and runs by their keys), no API, no hydration of the rows.
FLOOR_SQL = """SELECT r.run_uuid FROM latest_metrics lm
  JOIN params p ON p.run_uuid = lm.run_uuid AND p.key = 'p0' AND p.value = 'v3'
  JOIN runs r ON r.run_uuid = lm.run_uuid AND r.experiment_id = :exp AND r.lifecycle_stage = 'active'
  WHERE lm.key = 'm0' AND lm.is_nan = :nan ORDER BY lm.value DESC LIMIT 50"""


def timed(fn) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def postgres_store() -> tuple[str, object]:
    from tests.conftest import fresh_postgres_database

    if not os.environ.get("MLP_TEST_POSTGRES_URL"):
        os.environ["MLP_TEST_POSTGRES_URL"] = subprocess.run(
            ["bash", "tests/services/postgres.sh"], check=True, capture_output=True, text=True).stdout.strip()
    return fresh_postgres_database("mlp_bench")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--postgres", action="store_true", help="the MLflow store on PostgreSQL (tests/services)")
    ap.add_argument("--params", type=int, default=N_PARAMS, help="params per run (PostgreSQL fill only; >= 3)")
    ap.add_argument("--metrics", type=int, default=N_METRICS, help="metrics per run (PostgreSQL fill only; >= 2)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-search-"))
    db, artifacts = tmp / "mlflow.db", tmp / "artifacts"
    drop = None
    if args.postgres:
        store_url, drop = postgres_store()
    else:
        store_url = f"sqlite:///{db}"
    try:
        _bench(args, tmp, db, artifacts, store_url)
    finally:
        if drop:
            drop()


def _bench(args, tmp: Path, db: Path, artifacts: Path, store_url: str) -> None:  # noqa: ANN001, PLR0915
    import sqlalchemy as sa

    t0 = time.perf_counter()
    target = store_url if args.postgres else db
    exp = create_store(target, artifacts)
    if args.postgres:  # generated by the server, indexes made after (runs_store.fill_postgres; metric history empty)
        fill_postgres(store_url, exp, args.runs, n_params=args.params, n_metrics=args.metrics,
                      log=lambda m: print(m, flush=True))
    else:
        fill(target, exp, args.runs)
    shape = (args.params, args.metrics) if args.postgres else (N_PARAMS, N_METRICS)
    print(f"store ({'PostgreSQL' if args.postgres else 'SQLite'}): {args.runs} runs x {shape[0]} params x "
          f"{shape[1]} metrics in {time.perf_counter() - t0:.0f} s", flush=True)
    pristine = None
    if not args.postgres:
        pristine = tmp / "pristine.db"  # the store as MLflow ships it, before the backend adds its indexes
        shutil.copy(db, pristine)
    mlflow_proc, mlflow_url = start_mlflow(store_url, artifacts)
    server, ours, t_prepare = start_backend(tmp / "home", mlflow_url, store_url, exp)
    page = {"filter": FILTER, "order_by": ORDER, "limit": 50}
    try:
        t_first = timed(lambda: ours.get("/projects/bench/runs", params=page).raise_for_status())
        first_ours = ours.get("/projects/bench/runs", params=page).json()
        theirs_http = httpx.Client(base_url=f"{mlflow_url}/api/2.0/mlflow", timeout=600)
        body = {"experiment_ids": [exp], "filter": FILTER, "order_by": [ORDER], "max_results": 50}
        first_theirs = theirs_http.post("/runs/search", json=body).json()  # warm-up, and the answer to compare
        same = [r["run_id"] for r in first_ours["items"]] == [r["info"]["run_id"] for r in first_theirs["runs"]]
        floor_engine = sa.create_engine(store_url)
        with floor_engine.connect() as conn:
            floor = lambda: conn.execute(sa.text(FLOOR_SQL), {"exp": int(exp), "nan": False}).scalars().all()  # noqa: E731
            floor_same = floor() == [r["run_id"] for r in first_ours["items"]]
            t_ours, t_theirs, t_floor = [], [], []
            for _ in range(args.rounds):
                t_ours.append(timed(lambda: ours.get("/projects/bench/runs", params=page).raise_for_status()))
                t_theirs.append(timed(lambda: theirs_http.post("/runs/search", json=body).raise_for_status()))
                t_floor.append(timed(floor))
        floor_engine.dispose()
        from mlflow.entities import ViewType
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = SqlAlchemyStore(store_url, str(artifacts))
        t_inproc = timed(lambda: store.search_runs([exp], FILTER, ViewType.ACTIVE_ONLY, 50, [ORDER]))
        store.engine.dispose()
        t_shipped = None
        if pristine is not None:
            shipped = SqlAlchemyStore(f"sqlite:///{pristine}", str(artifacts))
            t_shipped = timed(lambda: shipped.search_runs([exp], FILTER, ViewType.ACTIVE_ONLY, 50, [ORDER]))
        t_sort_only = statistics.median(timed(lambda: ours.get("/projects/bench/runs", params={
            "order_by": ORDER, "limit": 50}).raise_for_status()) for _ in range(3))
        # What the Experiments panel asks when it opens: no filter, the newest runs first (MLflow's default order)
        t_default = statistics.median(timed(lambda: ours.get("/projects/bench/runs", params={
            "limit": 50}).raise_for_status()) for _ in range(3))
        server.should_exit = True
        time.sleep(2)
        t_up, t_cold = cold_start(tmp / "home", mlflow_url, store_url)
    finally:
        server.should_exit = True
        mlflow_proc.terminate()
    mo, mt, mf = statistics.median(t_ours), statistics.median(t_theirs), statistics.median(t_floor)
    print(f"first page, {FILTER!r} sorted by {ORDER!r}, 50 rows (median of {args.rounds}, HTTP, warm):")
    print(f"  jupyter-mlp API:                {mo * 1000:9.1f} ms")
    print(f"  MLflow REST runs/search:        {mt * 1000:9.1f} ms   (same store, our indexes helping it too)")
    print(f"  floor, one SQL on the indexes:  {mf * 1000:9.1f} ms   (in-process, same run; same page: {floor_same})")
    print(f"  MLflow search_runs, in-process: {t_inproc * 1000:9.1f} ms   (same store, one call)")
    if t_shipped is not None:
        print(f"  MLflow search_runs, as shipped: {t_shipped * 1000:9.1f} ms   (copy of the store without our indexes)")
    print(f"  peer ratio (MLflow REST / ours): {mt / mo:.1f}x; floor ratio (ours / floor): {mo / mf:.1f}x; "
          f"vs in-process: {t_inproc / mo:.1f}x; same first page as MLflow: {same}")
    print_ratios(mt / mo, "MLflow REST / ours", mo / mf, "ours / one SQL on the indexes")
    print(f"  start: indexes built and store opened {t_prepare:.1f} s after the start; first call after that: "
          f"{t_first * 1000:.0f} ms")
    print(f"  cold: fresh backend process on this store answered /health after {t_up:.1f} s; its first page at once: "
          f"{t_cold * 1000:.0f} ms")
    print(f"  unfiltered, sorted by {ORDER!r}: {t_sort_only * 1000:.1f} ms")
    print(f"  the panel's opening page (no filter, newest first): {t_default * 1000:.1f} ms")


if __name__ == "__main__":
    main()
