"""First page of runs at 100,000 runs × 20 params × 20 metrics: our API vs MLflow's own search, same store.

One MLflow store is filled by bulk insert (MLflow creates the schema); one `mlflow server` serves it, and the
platform backend runs in front of that same server and store. The query: runs with `params.p0 = 'v3'` (10% of
runs), sorted by `metrics.m0 DESC`, first 50. Timings alternate between the two, warm (each timed after one
untimed call), over HTTP on loopback; MLflow's in-process `SqlAlchemyStore.search_runs` is timed too, as the
most generous baseline. Budget (issue 3): ≥ 5× faster than MLflow and a first page under 300 ms.

Run: .venv/bin/python -m tests.bench.bench_run_search [--runs 100000] [--rounds 5]
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

from tests.bench._lab import free_port
from tests.bench.runs_store import N_METRICS, N_PARAMS, create_store, fill

FILTER = "params.p0 = 'v3'"
ORDER = "metrics.m0 DESC"


def start_mlflow(db: Path, artifacts: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
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


def start_backend(home: Path, mlflow_url: str, db: Path, experiment_id: str):  # noqa: ANN201
    from jupyter_mlp.identity import mint_token, read_secret
    from jupyter_mlp.settings import Settings
    from jupyter_mlp_backend import create_app
    from jupyter_mlp_backend.orm import Project, ProjectExperiment
    from sqlalchemy import select

    settings = Settings(home=home, admin_users=["bench"], mlflow_url=mlflow_url,
                        mlflow_backend_store_uri=f"sqlite:///{db}")
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/api"
    token = mint_token(read_secret(settings.secret_path), "bench", 3600)
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600)
    assert client.post("/projects", json={"slug": "bench", "name": "Bench"}).status_code == 201
    with app.state.db.session() as s:  # the bench experiment was made outside the gateway: map it by hand
        project_id = s.execute(select(Project.id).where(Project.slug == "bench")).scalar_one()
        s.add(ProjectExperiment(experiment_id=experiment_id, project_id=project_id, name="bench", created_by="bench"))
        s.commit()
    return server, client


def timed(fn) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-search-"))
    db, artifacts = tmp / "mlflow.db", tmp / "artifacts"
    t0 = time.perf_counter()
    exp = create_store(db, artifacts)
    fill(db, exp, args.runs)
    print(f"store: {args.runs} runs x {N_PARAMS} params x {N_METRICS} metrics in {time.perf_counter() - t0:.0f} s")
    pristine = tmp / "pristine.db"  # the store as MLflow ships it, before the backend adds its indexes
    shutil.copy(db, pristine)
    mlflow_proc, mlflow_url = start_mlflow(db, artifacts)
    server, ours = start_backend(tmp / "home", mlflow_url, db, exp)
    try:
        t_cold = timed(lambda: ours.get("/projects/bench/runs", params={"filter": FILTER, "order_by": ORDER,
                                                                        "limit": 50}).raise_for_status())
        first_ours = ours.get("/projects/bench/runs", params={"filter": FILTER, "order_by": ORDER, "limit": 50}).json()
        theirs_http = httpx.Client(base_url=f"{mlflow_url}/api/2.0/mlflow", timeout=600)
        body = {"experiment_ids": [exp], "filter": FILTER, "order_by": [ORDER], "max_results": 50}
        first_theirs = theirs_http.post("/runs/search", json=body).json()  # warm-up, and the answer to compare
        same = [r["run_id"] for r in first_ours["items"]] == [r["info"]["run_id"] for r in first_theirs["runs"]]
        t_ours, t_theirs = [], []
        for _ in range(args.rounds):
            t_ours.append(timed(lambda: ours.get("/projects/bench/runs", params={
                "filter": FILTER, "order_by": ORDER, "limit": 50}).raise_for_status()))
            t_theirs.append(timed(lambda: theirs_http.post("/runs/search", json=body).raise_for_status()))
        from mlflow.entities import ViewType
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = SqlAlchemyStore(f"sqlite:///{db}", str(artifacts))
        t_inproc = timed(lambda: store.search_runs([exp], FILTER, ViewType.ACTIVE_ONLY, 50, [ORDER]))
        shipped = SqlAlchemyStore(f"sqlite:///{pristine}", str(artifacts))
        t_shipped = timed(lambda: shipped.search_runs([exp], FILTER, ViewType.ACTIVE_ONLY, 50, [ORDER]))
        t_sort_only = statistics.median(timed(lambda: ours.get("/projects/bench/runs", params={
            "order_by": ORDER, "limit": 50}).raise_for_status()) for _ in range(3))
    finally:
        server.should_exit = True
        mlflow_proc.terminate()
    mo, mt = statistics.median(t_ours), statistics.median(t_theirs)
    print(f"first page, {FILTER!r} sorted by {ORDER!r}, 50 rows (median of {args.rounds}, HTTP, warm):")
    print(f"  jupyter-mlp API:                {mo * 1000:9.1f} ms   (cold, first call after start: {t_cold * 1000:.0f} ms)")
    print(f"  MLflow REST runs/search:        {mt * 1000:9.1f} ms   (same store, our indexes helping it too)")
    print(f"  MLflow search_runs, in-process: {t_inproc * 1000:9.1f} ms   (same store, one call)")
    print(f"  MLflow search_runs, as shipped: {t_shipped * 1000:9.1f} ms   (copy of the store without our indexes)")
    print(f"  speed-up vs MLflow REST: {mt / mo:.1f}x; vs in-process: {t_inproc / mo:.1f}x; "
          f"vs as shipped: {t_shipped / mo:.0f}x; same first page: {same}")
    print(f"  unfiltered, sorted by {ORDER!r}: {t_sort_only * 1000:.1f} ms")


if __name__ == "__main__":
    main()
