"""A model logged by a pipeline stage is registered automatically, with lineage back to the dataset snapshot and
the pipeline version; a failed run registers nothing; the CLI reads, verifies and promotes it. The stage reads
the dataset as the run's user, so a column policy shapes what it sees, and the model's lineage says so without
the column's values (issue 20 item 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.helpers import notebook as _nb
from tests.helpers import wait_run as _wait

CELLS = [
    ("import mlflow\nimport mlflow.sklearn\nfrom jupyter_mlp import datasets\n"
     "from sklearn.linear_model import LogisticRegression", ["imports"]),
    ("C = 1.0", ["parameters"]),
    ("frame = datasets.read('customers')", ["stage:prep"]),
    ("model = LogisticRegression(C=C).fit(frame[['x1', 'x2']], frame.y)\n"
     "mlflow.log_metric('accuracy', float(model.score(frame[['x1', 'x2']], frame.y)))\n"
     "mlflow.set_tag('ssn_seen', ','.join(sorted(set(map(str, frame.ssn)))))\n"
     "mlflow.sklearn.log_model(model, name='model', pip_requirements=['scikit-learn'])", ["stage:train"]),
]


def _mlp(backend, *args):
    mlp = Path(sys.executable).parent / "mlp"
    env = {**os.environ, "MLP_HOME": str(backend.settings.home), "MLP_BACKEND_URL": backend.url, "USER": "sam",
           "LOGNAME": "sam"}
    return subprocess.run([str(mlp), *args], env=env, capture_output=True, text=True, timeout=300)


def test_pipeline_models_are_registered_with_lineage(backend, project, use_mlflow, monkeypatch, xy):
    from jupyter_mlp import datasets

    x, y = xy
    use_mlflow(backend.kernel_env("sam", project))
    monkeypatch.setenv("MLP_PROJECT", project)
    ssn = [f"900-00-{i:04d}" for i in range(len(y))]
    datasets.register("customers", pd.DataFrame({"x1": x.x1, "x2": x.x2, "y": y, "ssn": ssn}))
    for role, action in (("scientist", "mask"), ("viewer", "deny")):  # sam runs the pipeline; vic may not see ssn
        r = backend.client("lena").put(f"/projects/{project}/datasets/customers/policies",
                                       json={"column": "ssn", "role": role, "action": action})
        assert r.status_code == 200, r.text
    sam = backend.client("sam")
    promoted = sam.post(f"/projects/{project}/pipelines", json={"notebook": _nb(CELLS), "path": "churn.ipynb",
                                                                "name": "churn"})
    assert promoted.status_code == 201, promoted.text
    run = _wait(sam, project, sam.post(f"/projects/{project}/pipelines/churn/runs", json={}).json()["run_id"])
    assert run["status"] == "SUCCESS", run

    models = sam.get(f"/projects/{project}/models").json()
    assert [(m["name"], m["latest_version"]) for m in models["items"]] == [("churn", 1)]
    v = sam.get(f"/projects/{project}/models/churn/versions/1").json()
    assert v["signed"] and v["pipeline_run_id"] == run["run_id"]
    assert v["lineage"]["pipeline_version"] == run["version"] and v["lineage"]["pipeline_run"] == run["run_id"]
    assert v["lineage"]["data"]["pinned"] == run["snapshots"] and "customers" in run["snapshots"]
    assert v["lineage"]["environment_sha256"] and v["lineage"]["code"]["stage_notebooks"]
    # The stage read through a real Dagster run as sam (a scientist): ssn came masked, and the model's data lineage
    # records the policy with the read (the backend wrote it on the reading stage's run; the data digest covers it)
    trained = sam.get(f"/projects/{project}/runs/{v['lineage']['mlflow_run']}").json()
    assert trained["tags"]["ssn_seen"] == "***"
    assert [r.get("policies") for r in v["lineage"]["data"]["reads"] if r["name"] == "customers"] == [
        ["customers.ssn:scientist=mask"]]

    graph = sam.get(f"/projects/{project}/models/churn/versions/1/lineage").json()
    kinds = {n["id"]: n["kind"] for n in graph["nodes"]}
    edges = {(kinds[e["source"]], kinds[e["target"]]) for e in graph["edges"]}
    assert {("dataset", "pipeline_run"), ("pipeline_version", "pipeline_run"), ("pipeline_run", "mlflow_run"),
            ("mlflow_run", "model_version")} <= edges
    back = sam.get(f"/projects/{project}/datasets/customers/lineage",
                   params={"snapshot_id": run["snapshots"]["customers"]}).json()
    assert any(n["kind"] == "model_version" and n["label"] == "churn v1" for n in back["nodes"])
    assert sam.get(f"/projects/{project}/datasets/customers/lineage", params={"snapshot_id": 1}).json()["nodes"] == []
    # The registered model's lineage, read by anyone who may read models (vic: ssn denied), carries no ssn value
    for who in ("vic", "sam"):
        for url in ("models/churn/versions/1", "models/churn/versions/1/lineage", "datasets/customers/lineage"):
            shown = backend.client(who).get(f"/projects/{project}/{url}")
            assert shown.status_code == 200 and "900-00-" not in shown.text, (who, url, shown.text[:300])

    # The same pipeline with a stage that fails after the model was logged: nothing is registered.
    broken = sam.post(f"/projects/{project}/pipelines", json={"notebook": _nb(
        [*CELLS, ("raise RuntimeError('late failure')", ["stage:report", "depends:train"])]),
        "path": "churn.ipynb", "name": "churn"})
    assert broken.status_code == 201
    failed = _wait(sam, project, sam.post(f"/projects/{project}/pipelines/churn/runs", json={}).json()["run_id"])
    assert failed["status"] == "FAILURE"
    assert sam.get(f"/projects/{project}/models/churn").json()["versions"] == 1

    # A second good run with another C: version 2, and the diff names what changed.
    again = _wait(sam, project, sam.post(f"/projects/{project}/pipelines/churn/runs", json={
        "version": run["version"], "parameters": {"C": 0.01}}).json()["run_id"])
    assert again["status"] == "SUCCESS"
    diff = sam.get(f"/projects/{project}/models/churn/diff", params={"a": 1, "b": 2}).json()
    assert {r["key"]: (r["a"], r["b"]) for r in diff["params"]}["C"] == ("1.0", "0.01")
    lin = {r["key"]: r for r in diff["lineage"]}
    assert lin["config_sha256"]["changed"] and not lin["code_sha256"]["changed"]
    assert "identical" in diff["code"]

    shown = _mlp(backend, "models", "show", "-P", project, "churn")
    assert shown.returncode == 0 and "v1" in shown.stdout and "signed (" in shown.stdout, shown.stderr
    ok = _mlp(backend, "models", "verify", "-P", project, "churn", "2")
    assert ok.returncode == 0 and ok.stdout.startswith("OK:"), ok.stdout + ok.stderr
    promoted = _mlp(backend, "models", "promote", "-P", project, "churn", "2", "--alias", "champion")
    assert promoted.returncode == 0 and "PASSED" in promoted.stdout and "ok   signature" in promoted.stdout
    listed = _mlp(backend, "models", "list", "-P", project)
    assert "champion=v2" in listed.stdout
    lead_only = _mlp(backend, "models", "approve", "-P", project, "1", "--reason", "x")
    assert lead_only.returncode == 2 and "does not allow models.approve" in lead_only.stderr, lead_only.stderr
