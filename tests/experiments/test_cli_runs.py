"""`mlp runs list|show|compare` against a live backend, with the same filters as the panel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

MLP = Path(sys.executable).parent / "mlp"


@pytest.fixture
def mlp(backend, monkeypatch):
    env = {**os.environ, "MLP_HOME": str(backend.settings.home), "MLP_BACKEND_URL": backend.url,
           "MLP_ADMIN_USERS": '["admin"]'}

    def run(*args: str, user: str = "admin", check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run([str(MLP), *args], env={**env, "USER": user, "LOGNAME": user}, capture_output=True,
                           text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(p.stdout + p.stderr)
        return p

    return run


def test_list_show_compare(backend, project, use_mlflow, mlp):
    use_mlflow(backend.kernel_env("sam", project))
    ids = []
    for alpha, auc in [("0.1", 0.7), ("0.5", 0.9)]:
        with mlflow.start_run(run_name=f"a{alpha}") as r:
            mlflow.log_params({"alpha": alpha, "solver": "lbfgs"})
            mlflow.log_metric("auc", auc)
        ids.append(r.info.run_id)
    out = mlp("runs", "list", project, "--filter", "params.alpha = '0.5'", "--order-by", "metrics.auc DESC").stdout
    assert "a0.5" in out and "a0.1" not in out and "(1 of 1 runs)" in out
    listed = json.loads(mlp("--json", "runs", "list", project, "--order-by", "metrics.auc ASC").stdout)
    assert [r["run_name"] for r in listed["items"]] == ["a0.1", "a0.5"]
    shown = mlp("runs", "show", project, ids[0]).stdout
    assert "alpha" in shown and "0.1" in shown and "Lineage:" in shown
    cmp = mlp("runs", "compare", project, *ids).stdout
    assert "* params.alpha" in cmp and "  params.solver" in cmp
    bad = mlp("runs", "list", project, "--filter", "params.alpha = ", check=False)
    assert bad.returncode == 2 and "Invalid filter" in bad.stderr
    other = mlp("runs", "show", project, ids[0], user="gus", check=False)
    assert other.returncode == 2 and "not found" in other.stderr


def test_list_filters_by_experiment(backend, project, use_mlflow, mlp):
    use_mlflow(backend.kernel_env("sam", project))
    eid = mlflow.create_experiment("churn")  # not set_experiment: it would outlive this test's backend
    with mlflow.start_run(run_name="in-churn", experiment_id=eid):
        mlflow.log_metric("auc", 0.8)
    with mlflow.start_run(run_name="in-default"):
        mlflow.log_metric("auc", 0.7)
    out = mlp("runs", "list", project, "--experiment", "churn").stdout
    assert "in-churn" in out and "in-default" not in out and "(1 of 1 runs)" in out
    both = json.loads(mlp("--json", "runs", "list", project, "--experiment", eid, "--experiment", "Default").stdout)
    assert sorted(r["run_name"] for r in both["items"]) == ["in-churn", "in-default"]
    missing = mlp("runs", "list", project, "--experiment", "nope", check=False)
    assert missing.returncode == 2 and "No experiment 'nope'" in missing.stderr and "churn" in missing.stderr
