"""Every run from a project kernel carries its lineage, captured with no extra code in the notebook."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess

import mlflow
import pandas as pd

from jupyter_mlp import datasets


def _git(folder, *args):
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@x", "HOME": str(folder)})


def test_run_carries_notebook_git_environment_and_datasets(backend, project, use_mlflow, tmp_path, monkeypatch):
    repo = tmp_path / "work"
    repo.mkdir()
    nb = repo / "train.ipynb"
    nb.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    nb.write_text(nb.read_text() + "\n")  # uncommitted change: the tree is dirty
    data = repo / "credit.csv"
    pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]}).to_csv(data, index=False)

    use_mlflow(backend.kernel_env("sam", project))
    monkeypatch.setenv("MLP_PROJECT", project)
    monkeypatch.setenv("MLP_NOTEBOOK_PATH", "work/train.ipynb")
    monkeypatch.setenv("MLP_NOTEBOOK_FILE", str(nb))
    datasets.clear()
    df = datasets.read_csv(data)
    assert len(df) == 3
    with mlflow.start_run() as run:
        mlflow.log_metric("auc", 0.7)

    detail = backend.client("sam").get(f"/projects/{project}/runs/{run.info.run_id}").json()
    lin = detail["lineage"]
    assert lin["notebook_path"] == "work/train.ipynb"
    assert lin["notebook_sha256"] == hashlib.sha256(nb.read_bytes()).hexdigest()
    assert lin["git_commit"] == commit and lin["git_dirty"] is True
    assert lin["python_version"] == platform.python_version()
    # `policies`: the column policies that shaped the rows read (issue 20); none for a plain file
    assert lin["datasets"] == [{"name": "credit.csv", "path": str(data), "rows": 3, "snapshot_id": None,
                                "sha256": hashlib.sha256(data.read_bytes()).hexdigest(), "policies": None}]
    sam = backend.client("sam")
    copy = sam.get(f"/projects/{project}/runs/{run.info.run_id}/artifact", params={"path": "lineage/notebook.ipynb"})
    assert copy.status_code == 200 and copy.content == nb.read_bytes()
    freeze = sam.get(f"/projects/{project}/runs/{run.info.run_id}/artifact",
                     params={"path": "lineage/requirements-freeze.txt"})
    assert hashlib.sha256(freeze.content).hexdigest() == lin["freeze_sha256"]
    assert b"mlflow==" in freeze.content
    datasets.clear()


def test_autolog_runs_get_lineage_too(backend, project, use_mlflow, tmp_path, monkeypatch):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    nb = tmp_path / "auto.ipynb"
    nb.write_text("{}")
    use_mlflow(backend.kernel_env("sam", project))
    monkeypatch.setenv("MLP_PROJECT", project)
    monkeypatch.setenv("MLP_NOTEBOOK_PATH", "auto.ipynb")
    monkeypatch.setenv("MLP_NOTEBOOK_FILE", str(nb))
    mlflow.sklearn.autolog(log_models=False, log_datasets=False)
    try:
        X, y = load_iris(return_X_y=True)
        LogisticRegression(max_iter=300, C=0.3).fit(X, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    runs = backend.client("sam").get(f"/projects/{project}/runs").json()["items"]
    assert len(runs) == 1
    r = runs[0]
    assert r["params"]["C"] == "0.3" and "training_score" in r["metrics"]
    assert r["tags"]["mlp.notebook.sha256"] == hashlib.sha256(b"{}").hexdigest()


def test_lineage_tags_cannot_be_rewritten_after_the_run_starts(backend, project, use_mlflow, monkeypatch):
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run() as run:
        pass
    client = mlflow.MlflowClient()
    import pytest
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="set by the platform"):
        client.set_tag(run.info.run_id, "mlp.notebook.sha256", "0" * 64)
    with pytest.raises(MlflowException, match="set by the platform"):
        client.log_batch(run.info.run_id, tags=[mlflow.entities.RunTag("mlp.git.commit", "forged")])
