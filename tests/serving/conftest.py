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


@pytest.fixture
def deploy_code_model(backend, project, use_mlflow, tmp_path, xy):
    """deploy_code_model(code, name) -> Endpoint: a model logged as code (models-from-code, `code` its source) by
    sam, registered as `name`, promoted to staging, deployed as `<name>-api` with one worker and ready, with a key
    from lead lena."""
    import time

    import mlflow
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    def run(code: str, name: str) -> Endpoint:
        x, _ = xy
        path = tmp_path / f"{name}_model.py"
        path.write_text(code)
        use_mlflow(backend.kernel_env("sam", project))
        with mlflow.start_run() as r:
            mlflow.pyfunc.log_model(name="model", python_model=str(path), pip_requirements=["pandas"],
                                    signature=infer_signature(x, [0] * len(x)))
        sam = backend.client("sam")
        assert sam.post(f"/projects/{project}/models", json={"name": name, "run_id": r.info.run_id}).status_code == 201
        d = sam.post(f"/projects/{project}/models/{name}/versions/1/promote", json={"alias": "staging"})
        assert d.status_code == 201 and d.json()["status"] == "passed", d.text
        r = sam.post(f"/projects/{project}/deployments", json={"name": f"{name}-api", "model": name, "version": 1,
                                                               "max_workers": 1})
        assert r.status_code == 201, r.text
        deadline = time.time() + 180
        while (dep := sam.get(f"/projects/{project}/deployments/{name}-api").json())["status"] != "ready":
            assert dep["status"] != "failed" and time.time() < deadline, dep
            time.sleep(0.2)
        key = backend.client("lena").post(f"/projects/{project}/api-keys", json={"name": "crm"}).json()["key"]
        return Endpoint(f"{backend.url}/serve/{project}/{name}-api", key)

    return run
