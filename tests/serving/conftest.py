"""Serving fixtures: real scikit-learn models, logged with a signature through the project's gateway, registered,
passed through the gates and deployed on real worker processes."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest


@pytest.fixture
def xy():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1]}), y


@pytest.fixture
def publish(backend, use_mlflow):
    """publish(estimator, x, project, name="churn") -> version number: logged with its signature, registered and
    promoted to staging (which passes with no gates set)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    def run(estimator, x, project: str, name: str = "churn", user: str = "sam") -> int:
        use_mlflow(backend.kernel_env(user, project))
        with mlflow.start_run() as r:
            mlflow.sklearn.log_model(estimator, name="model", signature=infer_signature(x, estimator.predict(x)),
                                     pip_requirements=["scikit-learn"], serialization_format="cloudpickle")
        c = backend.client(user)
        v = c.post(f"/projects/{project}/models", json={"name": name, "run_id": r.info.run_id})
        assert v.status_code == 201, v.text
        number = v.json()["version"]
        d = c.post(f"/projects/{project}/models/{name}/versions/{number}/promote", json={"alias": "staging"})
        assert d.status_code == 201 and d.json()["status"] == "passed", d.text
        return number

    return run


@dataclass
class Endpoint:
    base: str
    key: str

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {key or self.key}"}, timeout=30)


@pytest.fixture
def deployed(backend, project, publish, xy):
    """Logistic regression v1 of `churn`, deployed as `churn-api` in project acme, with a key from lead lena."""
    from sklearn.linear_model import LogisticRegression

    x, y = xy
    model = LogisticRegression().fit(x, y)
    publish(model, x, project)
    r = backend.client("sam").post(f"/projects/{project}/deployments",
                                   json={"name": "churn-api", "model": "churn", "version": 1, "max_workers": 1})
    assert r.status_code == 201, r.text
    key = backend.client("lena").post(f"/projects/{project}/api-keys", json={"name": "crm"})
    assert key.status_code == 201, key.text
    yield Endpoint(f"{backend.url}/serve/{project}/churn-api", key.json()["key"]), model
