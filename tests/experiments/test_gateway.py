"""Plain MLflow clients through the gateway: runs land in the project, other projects' ids look missing."""

from __future__ import annotations

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException


def test_plain_mlflow_calls_land_in_the_project(backend, project, use_mlflow):
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("auc", 0.81, step=1)
        mlflow.log_metric("auc", 0.86, step=2)
        mlflow.set_tag("team", "risk")
        mlflow.log_text("hello", "notes/hello.txt")
    page = backend.client("vic").get(f"/projects/{project}/runs").json()
    assert page["total"] == 1
    r = page["items"][0]
    assert r["run_id"] == run.info.run_id and r["run_name"] == "first"
    assert r["params"] == {"alpha": "0.5"} and r["metrics"]["auc"] == 0.86
    assert r["user"] == "sam" and r["tags"]["mlflow.user"] == "sam" and r["tags"]["mlp.project"] == project
    hist = backend.client("vic").get(f"/projects/{project}/runs/{run.info.run_id}/metrics/auc").json()
    assert [p["value"] for p in hist["points"]] == [0.81, 0.86]
    arts = backend.client("vic").get(f"/projects/{project}/runs/{run.info.run_id}/artifacts",
                                     params={"path": "notes"}).json()
    assert [a["path"] for a in arts["items"]] == ["notes/hello.txt"]
    f = backend.client("vic").get(f"/projects/{project}/runs/{run.info.run_id}/artifact",
                                  params={"path": "notes/hello.txt"})
    assert f.status_code == 200 and f.content == b"hello" and "attachment" in f.headers["content-disposition"]


def test_user_id_and_platform_tags_come_from_the_token(backend, project, use_mlflow):
    use_mlflow(backend.kernel_env("sam", project))
    client = MlflowClient()
    run = client.create_run(backend.kernel_env("sam", project)["MLFLOW_EXPERIMENT_ID"],
                            tags={"mlflow.user": "mallory", "mlp.project": "globex"})
    got = client.get_run(run.info.run_id)
    assert got.info.user_id == "sam"
    assert got.data.tags["mlflow.user"] == "sam" and got.data.tags["mlp.project"] == project
    with pytest.raises(MlflowException, match="set by the platform"):
        client.set_tag(run.info.run_id, "mlp.project", "globex")


def test_experiments_are_namespaced_and_artifact_location_refused(backend, project, use_mlflow):
    use_mlflow(backend.kernel_env("sam", project))
    eid = mlflow.create_experiment("churn")
    assert mlflow.get_experiment(eid).name == "churn"
    assert mlflow.get_experiment_by_name("churn").experiment_id == eid
    with pytest.raises(MlflowException, match="Artifact locations"):
        mlflow.create_experiment("elsewhere", artifact_location="file:///tmp/steal")
    names = {e["name"] for e in backend.client("vic").get(f"/projects/{project}/experiments").json()["items"]}
    assert {"Default", "churn"} <= names


def test_viewer_cannot_write_runs(backend, project, use_mlflow):
    use_mlflow(backend.kernel_env("vic", project))
    with pytest.raises(MlflowException) as e:
        mlflow.start_run()
    assert "PERMISSION_DENIED" in str(e.value) or "does not allow" in str(e.value)


def test_unlisted_endpoints_are_refused(backend, project):
    env = backend.kernel_env("sam", project)
    headers = {"Authorization": f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"}
    for method, path in [("DELETE", "registered-models/delete"), ("GET", "experiments/list"),
                         ("POST", "experiments/delete"), ("POST", "model-versions/transition-stage")]:
        r = httpx.request(method, f"{env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/{path}", headers=headers, json={})
        assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND", path
