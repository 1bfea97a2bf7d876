"""Project datasets on Iceberg: register and read back through the backend; snapshots recorded in lineage."""

from __future__ import annotations

import httpx
import mlflow
import pandas as pd
import pytest

from jupyter_mlp import datasets


@pytest.fixture
def kernel(backend, project, use_mlflow, monkeypatch):
    env = backend.kernel_env("sam", project)
    use_mlflow(env)
    monkeypatch.setenv("MLP_PROJECT", project)
    monkeypatch.delenv("MLP_DATASET_SNAPSHOTS", raising=False)
    datasets.clear()
    yield env
    datasets.clear()


def test_register_read_time_travel_and_lineage(backend, project, kernel, tmp_path):
    first = datasets.register("credit", pd.DataFrame({"x": [1, 2], "y": [0.5, 1.5]}))
    csv = tmp_path / "more.csv"
    pd.DataFrame({"x": [3], "y": [2.5]}).to_csv(csv, index=False)
    second = datasets.register("credit", csv, mode="append")
    assert second != first
    assert len(datasets.read("credit")) == 3
    old = datasets.read("credit", snapshot_id=first)
    assert old["x"].tolist() == [1, 2]
    with mlflow.start_run() as run:
        pass
    lineage = backend.client("sam").get(f"/projects/{project}/runs/{run.info.run_id}").json()["lineage"]
    snaps = {d["snapshot_id"] for d in lineage["datasets"] if d["name"] == "credit"}
    assert {str(first), str(second)} <= snaps
    listed = backend.client("vic").get(f"/projects/{project}/datasets").json()
    assert listed["items"][0]["name"] == "credit" and len(listed["items"][0]["snapshots"]) == 2


def test_pinned_snapshot_wins(backend, project, kernel, monkeypatch):
    first = datasets.register("t", pd.DataFrame({"a": [1]}))
    datasets.register("t", pd.DataFrame({"a": [1, 2, 3]}))
    monkeypatch.setenv("MLP_DATASET_SNAPSHOTS", f'{{"t": {first}}}')
    assert len(datasets.read("t")) == 1


def test_isolation_roles_and_bad_input(backend, project, kernel):
    datasets.register("secret", pd.DataFrame({"a": [1]}))
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    gus = backend.kernel_env("gus", "globex")
    h = {"Authorization": f"Bearer {gus['MLFLOW_TRACKING_TOKEN']}"}
    theirs = httpx.get(f"{kernel['MLFLOW_TRACKING_URI']}/mlp/datasets/secret", headers=h)
    assert theirs.status_code == 404  # gus's token does not open acme
    own = httpx.get(f"{gus['MLFLOW_TRACKING_URI']}/mlp/datasets/secret", headers=h)
    assert own.status_code == 404  # and globex has no such table
    vic = backend.kernel_env("vic", project)
    r = httpx.put(f"{vic['MLFLOW_TRACKING_URI']}/mlp/datasets/x", content=b"x",
                  headers={"Authorization": f"Bearer {vic['MLFLOW_TRACKING_TOKEN']}"})
    assert r.status_code == 403  # viewers read, they do not write
    sam = {"Authorization": f"Bearer {kernel['MLFLOW_TRACKING_TOKEN']}"}
    bad = httpx.put(f"{kernel['MLFLOW_TRACKING_URI']}/mlp/datasets/x", content=b"not parquet", headers=sam)
    assert bad.status_code == 400 and "not a Parquet file" in bad.json()["message"]
    bad = httpx.put(f"{kernel['MLFLOW_TRACKING_URI']}/mlp/datasets/Bad-Name", content=b"x", headers=sam)
    assert bad.status_code == 400 and "lowercase" in bad.json()["message"]
    with pytest.raises(RuntimeError, match="not found"):
        datasets.read("nope")


def test_masked_read_is_in_the_runs_lineage(backend, project, kernel):
    """Issue 20 item 1: a lead masks a column for scientists; the kernel's read gets the token, and the run that
    follows records the policy with the read, so a model trained on it says so in its lineage."""
    datasets.register("people", pd.DataFrame({"ssn": ["111-22-3333"], "age": [41]}))
    r = backend.client("lena").put(f"/projects/{project}/datasets/people/policies",
                                   json={"column": "ssn", "role": "scientist", "action": "mask"})
    assert r.status_code == 200, r.text
    df = datasets.read("people")
    assert df["ssn"].tolist() == ["***"] and df["age"].tolist() == [41]
    with mlflow.start_run() as run:
        pass
    lineage = backend.client("sam").get(f"/projects/{project}/runs/{run.info.run_id}").json()["lineage"]
    read = [d for d in lineage["datasets"] if d["name"] == "people" and d.get("policies")]
    assert read and read[0]["policies"] == ["people.ssn:scientist=mask"]
