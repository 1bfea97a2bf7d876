"""Monitoring fixtures: a model trained on a project dataset (so its lineage names the training snapshot),
validated, deployed on real workers, a client key, and a local HTTP receiver that records what webhooks send."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from monitoring_data import training_frame

from tests.helpers import recording_server, serve_frame


@dataclass
class Monitored:
    project: str
    deployment: str
    base: str
    key: str

    def serve(self, frame) -> list[str]:  # noqa: ANN001
        """Score a frame in requests of 50 rows; returns their prediction ids."""
        return serve_frame(self.base, self.key, frame)

    def label(self, labels: list[dict]) -> httpx.Response:
        with httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.key}"}, timeout=60) as c:
            return c.post("/feedback", json={"labels": labels})


@pytest.fixture
def monitored(backend, project, use_mlflow, monkeypatch) -> Monitored:
    """LogisticRegression `risk` trained on dataset `train` (read through the SDK inside the run), validated with
    a gate evaluation on `holdout` (the baseline), deployed as `risk-api`; key from lead lena."""
    return _deploy(backend, project, use_mlflow, monkeypatch, gate_evaluation=True)


@pytest.fixture
def monitored_logged_baseline(backend, project, use_mlflow, monkeypatch) -> Monitored:
    """The same model without a gate evaluation: its baseline is the roc_auc its run logged, computed (as notebooks
    do) from predict_proba on `holdout`."""
    return _deploy(backend, project, use_mlflow, monkeypatch, gate_evaluation=False)


def _deploy(backend, project, use_mlflow, monkeypatch, gate_evaluation: bool) -> Monitored:  # noqa: ANN001
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from jupyter_mlp import datasets

    x, y = training_frame()
    monkeypatch.setenv("MLP_PROJECT", project)
    use_mlflow(backend.kernel_env("sam", project))
    datasets.register("train", x.assign(y=y))
    hx, hy = training_frame(1000, seed=5)
    datasets.register("holdout", hx.assign(y=hy))
    with mlflow.start_run() as r:
        frame = datasets.read("train")
        model = LogisticRegression().fit(frame[["x1", "x2", "x3"]], frame.y)
        if not gate_evaluation:
            mlflow.log_metric("roc_auc", roc_auc_score(hy, model.predict_proba(hx)[:, 1]))
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x, model.predict(x)),
                                 pip_requirements=["scikit-learn"], serialization_format="cloudpickle")
    sam, lena = backend.client("sam"), backend.client("lena")
    assert sam.post(f"/projects/{project}/models", json={"name": "risk", "run_id": r.info.run_id}).status_code == 201
    gates = ({"evaluation": {"dataset": "holdout", "target": "y"}} if gate_evaluation
             else {"thresholds": [{"metric": "roc_auc", "op": ">=", "value": 0.9}]})
    assert lena.put(f"/projects/{project}/models/risk/gates", json=gates).status_code == 200
    d = sam.post(f"/projects/{project}/models/risk/versions/1/promote", json={"alias": "champion"})
    assert d.status_code == 201 and d.json()["status"] == "passed", d.text
    r = sam.post(f"/projects/{project}/deployments", json={"name": "risk-api", "model": "risk", "version": 1})
    assert r.status_code == 201, r.text
    key = lena.post(f"/projects/{project}/api-keys", json={"name": "crm"})
    assert key.status_code == 201, key.text
    return Monitored(project, "risk-api", f"{backend.url}/serve/{project}/risk-api", key.json()["key"])


@pytest.fixture
def receiver():
    """A local HTTP server that records every POST (path, headers, JSON body) and answers like Slack/Jira."""
    with recording_server() as rec:
        yield rec
