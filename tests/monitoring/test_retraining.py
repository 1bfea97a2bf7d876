"""The loop closed by Dagster: its sensor evaluates the monitor, drift fires, the model's pipeline reruns on the
current snapshots, the new version goes through the gates, and the deployment moves only when they pass."""

from __future__ import annotations

import time

import pytest
from monitoring_data import training_frame

from tests.helpers import notebook as _nb
from tests.helpers import serve_frame
from tests.helpers import wait_run as _wait

CELLS = [
    ("import mlflow\nimport mlflow.sklearn\nfrom mlflow.models import infer_signature\n"
     "from jupyter_mlp import datasets\nfrom sklearn.linear_model import LogisticRegression", ["imports"]),
    ("C = 1.0", ["parameters"]),
    ("frame = datasets.read('train')", ["stage:prep"]),
    # Only log_model: the stage's child run must be active for the model to be linked to it (and registered).
    ("x = frame[['x1', 'x2', 'x3']]\nmodel = LogisticRegression(C=C).fit(x, frame.y)\n"
     "mlflow.sklearn.log_model(model, name='model', signature=infer_signature(x, model.predict(x)),\n"
     "                         pip_requirements=['scikit-learn'])", ["stage:train"]),
]
WINDOW = 200


def _until(fn, timeout: float, what: str):  # noqa: ANN001, ANN202
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.5)  # a condition met waits half a poll on average: 1 s at 2 s polls, several times a test
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.settings(monitor_interval_seconds=5)  # Dagster's sensor evaluates the monitors every 5 s
def test_sensor_drift_retrains_and_gates_decide(backend, project, use_mlflow, monkeypatch):
    from jupyter_mlp import datasets

    monkeypatch.setenv("MLP_PROJECT", project)
    use_mlflow(backend.kernel_env("sam", project))
    x, y = training_frame()
    datasets.register("train", x.assign(y=y))
    hx, hy = training_frame(1000, seed=5)
    datasets.register("holdout", hx.assign(y=hy))
    sam, lena = backend.client("sam"), backend.client("lena")
    assert sam.post(f"/projects/{project}/pipelines", json={"notebook": _nb(CELLS), "path": "risk.ipynb",
                                                            "name": "risk"}).status_code == 201
    first = _wait(sam, project, sam.post(f"/projects/{project}/pipelines/risk/runs", json={}).json()["run_id"])
    assert first["status"] == "SUCCESS", first
    models = sam.get(f"/projects/{project}/models").json()["items"]
    assert [m["name"] for m in models] == ["risk"], models
    assert lena.put(f"/projects/{project}/models/risk/gates", json={
        "evaluation": {"dataset": "holdout", "target": "y"},
        "thresholds": [{"metric": "roc_auc", "op": ">=", "value": 0.8}]}).status_code == 200
    assert sam.post(f"/projects/{project}/models/risk/versions/1/promote",
                    json={"alias": "champion"}).json()["status"] == "passed"
    assert sam.post(f"/projects/{project}/deployments",
                    json={"name": "risk-api", "model": "risk", "alias": "champion"}).status_code == 201
    key = lena.post(f"/projects/{project}/api-keys", json={"name": "crm"}).json()["key"]
    base = f"{backend.url}/serve/{project}/risk-api"
    mon = sam.put(f"/projects/{project}/deployments/risk-api/monitor", json={
        "window_size": WINDOW, "retrain": True, "retrain_on": "drift", "cooldown_s": 0})
    assert mon.status_code == 200, mon.text
    assert mon.json()["profile"]["status"] == "ready", mon.json()
    # The stage that logged the model read nothing itself; the reference is what the pipeline's stages read.
    assert mon.json()["profile"]["dataset"] == "train", mon.json()["profile"]

    # New rows arrive in the training table; traffic drifts. Nobody presses anything: the sensor notices.
    more, more_y = training_frame(1000, seed=9)
    datasets.register("train", more.assign(y=more_y), mode="append")
    drifted, _ = training_frame(WINDOW, seed=13)
    drifted["x2"] = drifted["x2"] + 1.0
    serve_frame(base, key, drifted)

    def retraining(status: str):  # noqa: ANN202
        def check():  # noqa: ANN202
            items = sam.get(f"/projects/{project}/deployments/risk-api/monitor/retrainings").json()["items"]
            return next((r for r in items if r["status"] == status), None)
        return check

    done = _until(retraining("deployed"), 400, "the retrained version to be deployed")
    assert done["alert"] == "drift:x2" and done["version"] == 2 and done["decision_id"], done
    run = sam.get(f"/projects/{project}/pipeline-runs/{done['pipeline_run_id']}").json()
    assert run["status"] == "SUCCESS" and run["snapshots"]["train"] != first["snapshots"]["train"]  # latest data
    dep = sam.get(f"/projects/{project}/deployments/risk-api").json()
    assert dep["version"] == 2 and dep["previous_version"] == 1
    decision = [d for d in sam.get(f"/projects/{project}/gate-decisions").json()["items"]
                if d["id"] == done["decision_id"]][0]
    assert decision["status"] == "passed" and decision["alias"] == "champion"
    assert sam.get(f"/projects/{project}/models/risk").json()["aliases"]["champion"] == 2
    audit = [e["action"] for e in lena.get(f"/projects/{project}/audit", params={"limit": 1000}).json()["items"]]
    assert {"alert.fire", "retraining.step", "pipeline.run", "model.gate", "model.alias.move",
            "deployment.switch"} <= set(audit)

    # Now gates no retrained model can meet: the next drift retrains, the gates fail, champion and traffic stay.
    assert lena.put(f"/projects/{project}/models/risk/gates", json={
        "evaluation": {"dataset": "holdout", "target": "y"},
        "thresholds": [{"metric": "roc_auc", "op": ">=", "value": 0.9999}]}).status_code == 200
    serve_frame(base, key, drifted)
    failed = _until(retraining("gates failed"), 400, "the second retraining's gate decision")
    assert failed["version"] == 3 and "roc_auc" in failed["message"], failed
    assert sam.get(f"/projects/{project}/deployments/risk-api").json()["version"] == 2
    assert sam.get(f"/projects/{project}/models/risk").json()["aliases"]["champion"] == 2
