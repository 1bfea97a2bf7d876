"""A pipeline stage run as a local process sees none of the platform's secrets (the backend's environment), yet
still reads its dataset and logs to MLflow as the user who launched it."""

from __future__ import annotations

import json

from tests.helpers import notebook as _nb
from tests.helpers import wait_run as _wait

SECRETS = {
    "MLP_DATABASE_URL": "postgresql://mlp:db-pass-7f3a@db.invalid:5432/mlp",
    "AWS_ACCESS_KEY_ID": "AKIAMLPTESTKEY0001",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-9c1e",
    "MLP_HUB_API_TOKEN": "hub-token-51d2",
    "JUPYTERHUB_API_TOKEN": "jhub-token-0b77",
    "JUPYTER_TOKEN": "jupyter-token-e4a0",
    "MLP_LLM_API_KEY": "llm-key-a8f6",
}


def test_a_local_stage_sees_no_platform_secret_but_reads_its_dataset_and_logs(backend, project, use_mlflow,
                                                                             monkeypatch):
    import pandas as pd

    from jupyter_mlp import datasets

    use_mlflow(backend.kernel_env("sam", project))
    monkeypatch.setenv("MLP_PROJECT", project)
    datasets.register("obs", pd.DataFrame({"v": [1.0, 2.0, 3.0]}))
    # the platform's secrets in the environment of the backend and of every process it starts from now on (Dagster's
    # webserver and run workers start with the first run)
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)

    sam = backend.client("sam")
    stage = (
        "import os\n"
        f"secrets = {json.dumps(SECRETS)}\n"
        "names = sorted(k for k in secrets if k in os.environ)\n"
        "values = sorted(k for k, v in os.environ.items() if any(s in v for s in secrets.values()))\n"
        "mlflow.log_dict(dict(os.environ), 'environ.json')\n"
        "assert not names and not values, f'platform secrets reached the stage: {names} {values}'\n"
        "df = datasets.read('obs')\n"
        "mlflow.log_metric('total', float(df.v.sum()))"
    )
    nb = _nb([("import mlflow\nfrom jupyter_mlp import datasets", ["imports"]), (stage, ["stage:dump"])])
    assert sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "env.ipynb",
                                                           "name": "env"}).status_code == 201
    run = _wait(sam, project, sam.post(f"/projects/{project}/pipelines/env/runs", json={}).json()["run_id"])
    child = sam.get(f"/projects/{project}/runs", params={
        "filter": f"tags.mlflow.parentRunId = '{run['mlflow_run_id']}'"}).json()["items"]
    error = sam.get(f"/projects/{project}/pipeline-runs/{run['run_id']}").json()
    assert run["status"] == "SUCCESS", json.dumps(error)[:3000]
    assert child and child[0]["metrics"]["total"] == 6.0  # its dataset read, its metric logged as sam

    import mlflow

    seen = mlflow.artifacts.load_dict(f"runs:/{child[0]['run_id']}/environ.json")
    assert not set(SECRETS) & set(seen)
    # what it does get: its own run, its gateway token, its I/O folder, and what a process needs
    assert seen["MLFLOW_RUN_ID"] == child[0]["run_id"] and seen["MLFLOW_TRACKING_TOKEN"]
    assert {"PATH", "HOME", "MLP_STAGE_IO", "MLP_DATASET_SNAPSHOTS"} <= set(seen)
    assert not {"DAGSTER_HOME", "JUPYTER_MLP_DAGSTER_PG_URL"} & set(seen)
