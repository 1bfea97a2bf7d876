"""Object storage for a team (issue 15): MLflow's artifacts and the Iceberg warehouse on an S3-compatible bucket.

The bucket is a real S3 server on loopback (moto's, standing in for MinIO or AWS as a local HTTP server stands in for
Slack); credentials reach the managed MLflow and the backend's catalog the way they reach any S3 client, from
AWS_* environment variables. A kernel logs with plain mlflow and writes a dataset through the platform; both land
in the bucket (listed with boto3, not through the platform) and read back, the model by `models:/name@alias`."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
import uuid

import boto3
import numpy as np
import pandas as pd
import pytest
import uvicorn
from moto.server import ThreadedMotoServer

from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app
from jupyter_mlp_backend.mlflow_service import MlflowService
from tests.conftest import Backend

BUCKET = "team-bucket"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    """An S3 endpoint on loopback with one empty bucket; returns (endpoint URL, boto3 client)."""
    for k, v in {"AWS_ACCESS_KEY_ID": "team-key", "AWS_SECRET_ACCESS_KEY": "team-secret",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)  # what a team's deployment sets for its S3 clients; children inherit them
    for k in ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


def _keys(client, prefix: str) -> list[str]:  # noqa: ANN001
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture
def team_backend(s3, mlp_home, tmp_path):
    """A managed MLflow with `s3://` artifacts and a live backend whose Iceberg warehouse is in the same bucket."""
    endpoint, _ = s3
    mlflow_settings = Settings(home=tmp_path / "mlflow-home", s3_endpoint_url=endpoint,
                               mlflow_artifacts_destination=f"s3://{BUCKET}/mlflow")
    mlflow_settings.run_dir.mkdir(parents=True, exist_ok=True)
    mlflow = MlflowService(mlflow_settings)
    mlflow.start()
    asyncio.run(mlflow.wait_ready(180))
    settings = Settings(home=mlp_home, container_engine="none", admin_users=["admin"],
                        mlflow_url=f"unix://{mlflow.socket}", mlflow_backend_store_uri=mlflow.backend_store_uri,
                        mlflow_experiment_prefix=f"t{uuid.uuid4().hex[:8]}-", s3_endpoint_url=endpoint,
                        iceberg_warehouse=f"s3://{BUCKET}/iceberg/")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(600):
        if server.started:
            break
        time.sleep(0.05)
    backend = Backend(f"http://127.0.0.1:{port}", settings)
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "acme", "name": "Acme credit"}).status_code == 201
    assert admin.put("/projects/acme/members/sam", json={"role": "scientist"}).status_code == 200
    yield backend, mlflow_settings
    server.should_exit = True
    thread.join(30)
    asyncio.run(mlflow.stop())


def test_artifacts_and_datasets_live_in_the_bucket(team_backend, s3, use_mlflow):
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlp import datasets

    backend, mlflow_settings = team_backend
    _, bucket = s3
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"x1": rng.normal(size=300), "x2": rng.normal(size=300)})
    y = (x.x1 + 0.5 * x.x2 > 0).astype(int)
    estimator = LogisticRegression().fit(x, y)

    # A run logged with plain mlflow from sam's kernel: its files are objects in the bucket.
    use_mlflow(backend.kernel_env("sam", "acme"))
    with mlflow.start_run() as run:
        mlflow.log_text("team notes", "notes/hello.txt")
        mlflow.sklearn.log_model(estimator, name="model", pip_requirements=["scikit-learn"])
    keys = _keys(bucket, "mlflow/")
    assert any(k.endswith(f"{run.info.run_id}/artifacts/notes/hello.txt") for k in keys), keys
    assert any(k.endswith("/MLmodel") for k in keys), keys
    body = bucket.get_object(Bucket=BUCKET, Key=next(k for k in keys if k.endswith("notes/hello.txt")))["Body"]
    assert body.read() == b"team notes"
    assert not (mlflow_settings.home / "mlflow" / "artifacts").exists()  # nothing on the MLflow machine's disk

    # Registered through the platform (signed: its files are read back from the bucket), promoted, loaded by alias.
    assert mlflow.register_model(f"runs:/{run.info.run_id}/model", "churn").version == "1"
    assert backend.client("sam").get("/projects/acme/models/churn/versions/1").json()["signed"]
    promoted = backend.client("sam").post("/projects/acme/models/churn/versions/1/promote", json={"alias": "champion"})
    assert promoted.status_code == 201 and promoted.json()["alias_moved"], promoted.text
    model = mlflow.pyfunc.load_model("models:/churn@champion")
    assert np.array_equal(np.asarray(model.predict(x)), estimator.predict(x))

    # A dataset written through the platform: Iceberg data and metadata files in the bucket, read back whole.
    snapshot = datasets.register("customers", x.assign(churned=y), target="churned")
    keys = _keys(bucket, "iceberg/")
    assert any(k.startswith("iceberg/p_acme/customers/data/") and k.endswith(".parquet") for k in keys), keys
    assert any(k.startswith("iceberg/p_acme/customers/metadata/") and k.endswith(".metadata.json")
               for k in keys), keys
    back = datasets.read("customers")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), x.assign(churned=y).reset_index(drop=True),
                                  check_dtype=False)
    listed = backend.client("sam").get("/projects/acme/datasets").json()["items"]
    assert [d["name"] for d in listed] == ["customers"] and snapshot
    assert not (backend.settings.home / "iceberg" / "warehouse").exists()  # only the catalog stays local

    # The bucket gone (or the store down): a clear 503 to the kernel and the panel, never the bucket's keys.
    for key in _keys(bucket, ""):
        bucket.delete_object(Bucket=BUCKET, Key=key)
    bucket.delete_bucket(Bucket=BUCKET)
    for call in (lambda: datasets.read("customers"), lambda: datasets.register("more", x)):
        with pytest.raises(RuntimeError, match=r"\(503\): The dataset store is not available") as e:
            call()
        assert BUCKET not in str(e.value)
    r = backend.client("sam").get("/projects/acme/datasets")
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
    assert "dataset store is not available" in r.json()["error"]["message"] and BUCKET not in r.text


def test_the_prediction_log_committer_writes_to_the_same_bucket(s3, tmp_path):
    """The committer process the backend starts opens the backend's warehouse (its arguments say which)."""
    from jupyter_mlp_backend.datasets.catalog import Catalog
    from jupyter_mlp_backend.serving import predlog
    from jupyter_mlp_backend.serving.predlog import PredictionLog

    endpoint, bucket = s3
    home = tmp_path / "home"
    catalog = Catalog(home, f"s3://{BUCKET}/iceberg", endpoint)
    log = PredictionLog(catalog, home)
    ids = [uuid.uuid4().hex for _ in range(20)]
    for i, pid in enumerate(ids):
        log.add("acme", "churn-api", predlog.row(pid, "churn", 1, "mlflow", 1.0, b'{"inputs": [[%d]]}' % i,
                                                  b'{"predictions": [0]}'))
    assert asyncio.run(log.flush()) == 20
    # the real committer process, with the arguments the backend gives it; a gone parent: one round, then it stops
    p = subprocess.run([sys.executable, "-m", "jupyter_mlp_backend.serving.predlog", "--home", str(home),
                        "--parent", "999999999", *log.catalog_args()], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    table = predlog.table_name("predictions", "churn-api")
    assert catalog.scan("acme", table).column("prediction_id").to_pylist() == ids
    assert any(k.startswith(f"iceberg/p_acme/{table}/data/") for k in _keys(bucket, "iceberg/"))
    assert not (home / "iceberg" / "warehouse").exists()


@pytest.mark.parametrize("name,value", [("s3_endpoint_url", "127.0.0.1:9000"), ("iceberg_warehouse", "ftp://host/wh"),
                                        ("iceberg_warehouse", "relative/folder")])
def test_a_bad_object_storage_setting_is_named(mlp_home, monkeypatch, name, value):
    from pydantic import ValidationError

    from jupyter_mlp.settings import load_settings

    monkeypatch.setenv(f"MLP_{name.upper()}", value)
    with pytest.raises(ValidationError, match=name):
        load_settings()
