"""An MLflow run that ends through the backend's gateway (a notebook's `mlflow.end_run()`) writes the
`mlp.experiments.run.finished` event; a run that only logs does not. Real MLflow behind a real backend."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from jupyter_mlp_backend.db import Database
from jupyter_mlp_backend.orm import PlatformEvent


def test_a_run_that_ends_through_the_gateway_is_an_event(backend, project):
    env = backend.kernel_env("sam", project)
    h = {"Authorization": f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"}
    api = f"{env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow"
    r = httpx.post(f"{api}/runs/create", headers=h, timeout=60,
                   json={"experiment_id": env["MLFLOW_EXPERIMENT_ID"], "run_name": "fit", "start_time": 0})
    assert r.status_code == 200, r.text
    run_id = r.json()["run"]["info"]["run_id"]
    r = httpx.post(f"{api}/runs/log-metric", headers=h, timeout=60,
                   json={"run_id": run_id, "key": "auc", "value": 0.9, "timestamp": 0})
    assert r.status_code == 200, r.text
    r = httpx.post(f"{api}/runs/update", headers=h, timeout=60,
                   json={"run_id": run_id, "status": "FINISHED", "end_time": 1000})
    assert r.status_code == 200, r.text
    db = Database(backend.settings.effective_database_url)
    try:
        with db.session() as s:
            bodies = [json.loads(b) for b in s.execute(select(PlatformEvent.body)
                                                       .where(PlatformEvent.type.like("mlp.experiments.%"))).scalars()]
    finally:
        db.dispose()
    assert len(bodies) == 1
    (e,) = bodies
    assert (e["type"], e["subject"], e["partitionkey"]) == ("mlp.experiments.run.finished", f"runs/{run_id}", project)
    assert e["data"]["status"] == "FINISHED" and e["data"]["run_id"] == run_id
