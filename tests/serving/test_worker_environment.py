"""A model's serving and batch workers run the model's own code (models-from-code): they see none of the
platform's secrets from the backend's environment."""

from __future__ import annotations

import io
import json
import time

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


def test_serving_and_batch_workers_see_no_platform_secret(backend, project, use_mlflow, tmp_path, xy, monkeypatch):
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    for k, v in SECRETS.items():  # in the backend's environment, as a deployment would have them
        monkeypatch.setenv(k, v)
    x, _ = xy
    code = tmp_path / "leaks_model.py"
    code.write_text(CODE_MODEL)
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run() as r:
        mlflow.pyfunc.log_model(name="model", python_model=str(code), pip_requirements=["pandas"],
                                signature=infer_signature(x, [0] * len(x)))
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/models", json={"name": "leaks", "run_id": r.info.run_id}).status_code == 201
    d = sam.post(f"/projects/{project}/models/leaks/versions/1/promote", json={"alias": "staging"})
    assert d.status_code == 201 and d.json()["status"] == "passed", d.text
    r = sam.post(f"/projects/{project}/deployments", json={"name": "leaks-api", "model": "leaks", "version": 1,
                                                           "max_workers": 1})
    assert r.status_code == 201, r.text
    deadline = time.time() + 180
    while (dep := sam.get(f"/projects/{project}/deployments/leaks-api").json())["status"] != "ready":
        assert dep["status"] != "failed" and time.time() < deadline, dep
        time.sleep(0.2)

    key = backend.client("lena").post(f"/projects/{project}/api-keys", json={"name": "crm"}).json()["key"]
    import httpx

    with httpx.Client(base_url=f"{backend.url}/serve/{project}/leaks-api",
                      headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
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
