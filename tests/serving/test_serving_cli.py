"""`mlp deploy`, `mlp deployments …` and `mlp keys …` against a live backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

MLP = Path(sys.executable).parent / "mlp"


def _mlp(backend, *args: str, user: str = "sam") -> subprocess.CompletedProcess:
    env = {**os.environ, "MLP_HOME": str(backend.settings.home), "MLP_BACKEND_URL": backend.url,
           "USER": user, "LOGNAME": user}
    return subprocess.run([str(MLP), *args], env=env, capture_output=True, text=True, timeout=300)


def test_deploy_call_switch_rollback_and_keys_from_the_cli(backend, project, publish, xy):
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = xy
    publish(LogisticRegression().fit(x, y), x, project)
    publish(DummyClassifier(strategy="constant", constant=1).fit(x, y), x, project)  # v2, staging now
    out = _mlp(backend, "deploy", "-P", project, "churn@1", "--name", "churn-api", "--sla-ms", "50")
    assert out.returncode == 0, out.stderr
    assert "churn v1" in out.stdout and "READY" in out.stdout and f"/serve/{project}/churn-api/invocations" in out.stdout
    denied = _mlp(backend, "keys", "create", "-P", project, "crm")  # scientists make no keys
    assert denied.returncode != 0 and "does not allow serving.keys" in denied.stderr
    made = _mlp(backend, "keys", "create", "-P", project, "crm", "--deployment", "churn-api", user="lena")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("mlpk_") and "shown once" in made.stderr
    body = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[-3.0, -3.0]]}}
    call = httpx.post(f"{backend.url}/serve/{project}/churn-api/invocations", json=body,
                      headers={"Authorization": f"Bearer {key}"})
    assert call.json()["predictions"] == [0]
    switched = _mlp(backend, "deploy", "-P", project, "churn@staging", "--name", "churn-api")  # exists: switches
    assert switched.returncode == 0 and "churn v2 (previous v1)" in switched.stdout, switched.stdout + switched.stderr
    assert httpx.post(f"{backend.url}/serve/{project}/churn-api/invocations", json=body,
                      headers={"Authorization": f"Bearer {key}"}).json()["predictions"] == [1]
    assert "churn v1 (previous v2)" in _mlp(backend, "deployments", "rollback", "-P", project, "churn-api").stdout
    shown = _mlp(backend, "deployments", "show", "-P", project, "churn-api").stdout
    assert "requests" in shown and "rollback" in shown and "switch" in shown
    listed = json.loads(_mlp(backend, "--json", "deployments", "list", "-P", project).stdout)
    assert [(d["name"], d["version"], d["status"]) for d in listed["items"]] == [("churn-api", 1, "ready")]
    logs = _mlp(backend, "deployments", "logs", "-P", project, "churn-api")
    assert logs.returncode == 0 and "== worker-v" in logs.stdout
    prefix = key.split("_")[1]
    assert prefix in _mlp(backend, "keys", "list", "-P", project).stdout
    assert _mlp(backend, "keys", "revoke", "-P", project, prefix, user="lena").returncode == 0
    assert httpx.post(f"{backend.url}/serve/{project}/churn-api/invocations", json=body,
                      headers={"Authorization": f"Bearer {key}"}).status_code == 401
    bad = _mlp(backend, "deploy", "-P", project, "churn")
    assert bad.returncode != 0 and "MODEL@ALIAS" in bad.stderr
    assert _mlp(backend, "deployments", "delete", "-P", project, "churn-api").returncode == 0
    assert httpx.post(f"{backend.url}/serve/{project}/churn-api/invocations", json=body,
                      headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_batch_from_the_cli(backend, project, deployed, xy, tmp_path):
    import pandas as pd

    _, model = deployed
    x, _ = xy
    src = tmp_path / "in.csv"
    x.iloc[:90].to_csv(src, index=False)
    out = tmp_path / "scored.parquet"
    r = _mlp(backend, "batch", "-P", project, "churn-api", "--input", str(src), "--output", str(out),
             "--chunk-rows", "40")
    assert r.returncode == 0, r.stderr
    assert "3/3 chunks" in r.stderr and f"Scored 90 rows -> {out}" in r.stdout
    assert pd.read_parquet(out).prediction.tolist() == model.predict(x.iloc[:90]).tolist()
    both = _mlp(backend, "batch", "-P", project, "churn-api")
    assert both.returncode != 0 and "either --dataset" in both.stderr
