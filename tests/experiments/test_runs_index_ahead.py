"""The runs search's indexes are built when the platform starts, not on the first user's call (issue 17): a store
that lacks them (here bulk-filled behind the platform's back, as the benchmark's is) has them before anyone asks for
a runs page, and a run MLflow writes after the start is on the first page."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import uvicorn
from sqlalchemy import select

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app
from jupyter_mlp_backend.experiments.search import INDEXES
from jupyter_mlp_backend.orm import Project, ProjectExperiment
from tests.bench._lab import free_port
from tests.bench.bench_run_search import start_mlflow
from tests.bench.runs_store import create_store, fill


def _mlp_indexes(db) -> set[str]:  # noqa: ANN001
    import sqlite3

    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'mlp_%'")}


def test_indexes_exist_before_the_first_call_and_a_run_written_after_start_is_on_the_first_page(tmp_path, mlp_home):
    db, artifacts = tmp_path / "mlflow.db", tmp_path / "artifacts"
    exp = create_store(db, artifacts)
    fill(db, exp, 1000)
    assert _mlp_indexes(db) == set()
    mlflow_proc, mlflow_url = start_mlflow(db, artifacts)
    settings = Settings(home=mlp_home, container_engine="none", admin_users=["admin"], mlflow_url=mlflow_url,
                        mlflow_backend_store_uri=f"sqlite:///{db}")
    app = create_app(settings, eager=True)  # as `python -m jupyter_mlp_backend` starts the platform
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 180
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        wanted = {ddl.split()[5] for ddl in INDEXES}
        while _mlp_indexes(db) != wanted and time.monotonic() < deadline:  # nobody has asked for runs
            time.sleep(0.5)
        assert _mlp_indexes(db) == wanted, "the platform's start did not build the runs search's indexes"
        while not app.state.experiments.store_open and time.monotonic() < deadline:
            time.sleep(0.2)
        assert app.state.experiments.store_open

        token = mint_token(read_secret(settings.secret_path), "admin", 600)
        client = httpx.Client(base_url=f"http://127.0.0.1:{server.config.port}/api",
                              headers={"Authorization": f"Bearer {token}"}, timeout=120)
        assert client.post("/projects", json={"slug": "ahead", "name": "Ahead"}).status_code == 201
        with app.state.db.session() as s:  # the experiment was made outside the gateway: map it by hand
            pid = s.execute(select(Project.id).where(Project.slug == "ahead")).scalar_one()
            s.add(ProjectExperiment(experiment_id=exp, project_id=pid, name="bench", created_by="admin"))
            s.commit()

        # a run MLflow writes after the start, best on m0 (the filled runs' m0 is below 1)
        from mlflow.tracking import MlflowClient

        mlflow = MlflowClient(tracking_uri=mlflow_url)
        run = mlflow.create_run(exp, run_name=f"late-{uuid.uuid4().hex[:6]}")
        mlflow.log_param(run.info.run_id, "p0", "v3")
        mlflow.log_metric(run.info.run_id, "m0", 2.0)
        page = client.get("/projects/ahead/runs", params={"filter": "params.p0 = 'v3'",
                                                            "order_by": "metrics.m0 DESC", "limit": 50})
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert items[0]["run_id"] == run.info.run_id
        assert len(items) == 50
    finally:
        server.should_exit = True
        thread.join(60)
        mlflow_proc.terminate()
        mlflow_proc.wait(30)
