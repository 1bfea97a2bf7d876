"""A model's serving and batch workers run the model's own code (models-from-code): they see none of the
platform's secrets from the backend's environment."""

from __future__ import annotations

import io
import json

import pandas as pd

from tests.serving.test_batch import _wait

SECRETS = {
    "MLP_DATABASE_URL": "postgresql://mlp:db-pass-7f3a@db.invalid:5432/mlp",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-9c1e",
    "MLP_HUB_API_TOKEN": "hub-token-51d2",
    "JUPYTERHUB_API_TOKEN": "jhub-token-0b77",
}

# predicts, for every row, how many of the platform's secrets its process can read from its environment
CODE_MODEL = f"""
import os

import mlflow.pyfunc
from mlflow.models import set_model

SECRETS = {json.dumps(SECRETS)}


class Leaks(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        seen = sum(1 for k, v in os.environ.items() if k in SECRETS or any(s in v for s in SECRETS.values()))
        return [seen] * len(model_input)


set_model(Leaks())
"""


def test_serving_and_batch_workers_see_no_platform_secret(backend, project, deploy_code_model, xy, monkeypatch):
    for k, v in SECRETS.items():  # in the backend's environment, as a deployment would have them
        monkeypatch.setenv(k, v)
    x, _ = xy
    endpoint = deploy_code_model(CODE_MODEL, "leaks")
    sam = backend.client("sam")
    with endpoint.client() as c:
        answer = c.post("/invocations", json={"dataframe_records": x.iloc[:3].to_dict(orient="records")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == [0, 0, 0]  # the serving worker

    up = sam.post(f"/projects/{project}/deployments/leaks-api/batch/upload", params={"format": "csv"},
                  content=x.iloc[:5].to_csv(index=False).encode(), headers={"content-type": "application/octet-stream"})
    assert up.status_code == 202, up.text
    job = _wait(sam, project, up.json()["id"])
    assert job["status"] == "succeeded", job
    out = pd.read_parquet(io.BytesIO(sam.get(f"/projects/{project}/batch-jobs/{job['id']}/output").content))
    assert out.prediction.tolist() == [0] * 5  # the batch worker
