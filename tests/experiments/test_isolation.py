"""Another project's experiments, runs, models and artifacts look exactly like missing ones, everywhere."""

from __future__ import annotations

import httpx
import mlflow
import pytest
from mlflow import MlflowClient


@pytest.fixture
def foreign_run(backend, project, use_mlflow):
    """A run (with an artifact and a logged model) in project `globex`, and the gateway env of `sam` in acme."""
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    use_mlflow(backend.kernel_env("gus", "globex"))
    with mlflow.start_run() as run:
        mlflow.log_metric("auc", 0.5)
        mlflow.log_text("secret", "secret.txt")
    model = MlflowClient().create_logged_model(experiment_id=run.info.experiment_id, name="m")
    use_mlflow(backend.kernel_env("sam", project))
    return run, model


def _gw(backend, user, slug):
    env = backend.kernel_env(user, slug)
    return env["MLFLOW_TRACKING_URI"], {"Authorization": f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"}


def test_gateway_answers_foreign_ids_like_missing_ones(backend, project, foreign_run):
    run, model = foreign_run
    base, headers = _gw(backend, "sam", project)
    api = f"{base}/api/2.0/mlflow"
    missing = "0" * 32
    pairs = [
        ("GET", "runs/get", {"run_id": run.info.run_id}, {"run_id": missing}, None),
        ("GET", "metrics/get-history", {"run_id": run.info.run_id, "metric_key": "auc"},
         {"run_id": missing, "metric_key": "auc"}, None),
        ("POST", "runs/log-metric", None, None, lambda rid: {"run_id": rid, "key": "x", "value": 1, "timestamp": 1}),
        ("POST", "runs/update", None, None, lambda rid: {"run_id": rid, "status": "KILLED"}),
        ("GET", "experiments/get", {"experiment_id": run.info.experiment_id}, {"experiment_id": "999999"}, None),
    ]
    for method, path, theirs_q, missing_q, body in pairs:
        if body:
            theirs = httpx.request(method, f"{api}/{path}", headers=headers, json=body(run.info.run_id))
            absent = httpx.request(method, f"{api}/{path}", headers=headers, json=body(missing))
        else:
            theirs = httpx.request(method, f"{api}/{path}", headers=headers, params=theirs_q)
            absent = httpx.request(method, f"{api}/{path}", headers=headers, params=missing_q)
        assert theirs.status_code == absent.status_code == 404, (path, theirs.text)
        assert theirs.json()["error_code"] == absent.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = httpx.post(f"{api}/runs/search", headers=headers, json={"experiment_ids": [run.info.experiment_id]})
    assert r.status_code == 404
    r = httpx.post(f"{api}/runs/search", headers=headers, json={})
    assert run.info.run_id not in r.text  # an unscoped search sees only acme
    r = httpx.get(f"{api}/logged-models/{model.model_id}", headers=headers)
    assert r.status_code == 404
    art = f"{base}/api/2.0/mlflow-artifacts/artifacts/{run.info.experiment_id}/{run.info.run_id}/artifacts/secret.txt"
    r = httpx.get(art, headers=headers)
    assert r.status_code == 404 and "secret" not in r.text
    r = httpx.put(art, headers=headers, content=b"overwritten")
    assert r.status_code == 404
    with mlflow.start_run():  # and sam's own work still goes through
        mlflow.log_metric("auc", 0.9)


def test_panel_api_answers_foreign_ids_like_missing_ones(backend, project, foreign_run):
    run, _ = foreign_run
    sam = backend.client("sam")
    rid = run.info.run_id
    for path, params in [(f"runs/{rid}", None), (f"runs/{rid}/metrics/auc", None), (f"runs/{rid}/artifacts", None),
                         (f"runs/{rid}/artifact", {"path": "secret.txt"})]:
        theirs = sam.get(f"/projects/{project}/{path}", params=params)
        absent = sam.get(f"/projects/{project}/{path.replace(rid, '0' * 32)}", params=params)
        assert theirs.status_code == absent.status_code == 404, path
        assert theirs.json()["error"]["code"] == absent.json()["error"]["code"] == "not_found"
    assert sam.get(f"/projects/{project}/runs", params={"experiment_id": run.info.experiment_id}).status_code == 404
    assert sam.get("/projects/globex/runs").status_code == 404
    assert rid not in sam.get(f"/projects/{project}/runs").text
    r = sam.get(f"/projects/{project}/compare", params={"run_ids": f"{rid},{'1' * 32}"})
    assert r.status_code == 404


def test_kernel_credentials_reach_only_their_project(backend, project, foreign_run):
    base, headers = _gw(backend, "sam", project)
    other = base.replace(f"/mlflow/{project}", "/mlflow/globex")
    r = httpx.post(f"{other}/api/2.0/mlflow/runs/search", headers=headers, json={})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # A kernel token is no user token: it opens nothing in the platform API.
    r = httpx.get(f"{backend.url}/api/whoami", headers=headers)
    assert r.status_code == 401
    assert backend.client("gus").post(f"/projects/{project}/kernel-token").status_code == 404


def test_gateway_requires_a_valid_token(backend, project):
    base, _ = _gw(backend, "sam", project)
    for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}]:
        r = httpx.post(f"{base}/api/2.0/mlflow/runs/search", headers=headers, json={})
        assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("path", [
    "../1/x", "1/../../etc/passwd", "1/%2e%2e/x", "/etc/passwd", "file:///etc/passwd", "1/a\\b", "1//x", "1/./x",
])
def test_artifact_path_traversal_is_refused(backend, project, path):
    base, headers = _gw(backend, "sam", project)
    r = httpx.get(f"{base}/api/2.0/mlflow-artifacts/artifacts", params={"path": path}, headers=headers)
    assert r.status_code in (400, 404), (path, r.text)
    sam = backend.client("sam")
    r = sam.get(f"/projects/{project}/runs/{'0' * 32}/artifacts", params={"path": path})
    assert r.status_code in (404, 422)


@pytest.mark.parametrize("path", ["../secret.txt", "a/../../x", "/abs", "s3://bucket/x", "%2e%2e/x", "a\\..\\b"])
def test_panel_artifact_paths_are_refused_before_anything_is_read(backend, project, use_mlflow, path):
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run() as run:
        mlflow.log_text("x", "ok.txt")
    r = backend.client("sam").get(f"/projects/{project}/runs/{run.info.run_id}/artifact", params={"path": path})
    assert r.status_code == 422 and r.json()["error"]["detail"][0]["field"] == "path"
