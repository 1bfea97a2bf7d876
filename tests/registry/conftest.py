"""Registry fixtures: real scikit-learn models logged with real MLflow through the project's gateway."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def log_model(backend, project, use_mlflow):
    """log_model(estimator, user="sam", params=None, name="model") -> run id, through the gateway as that user."""
    import mlflow
    import mlflow.sklearn

    def log(estimator, user: str = "sam", params: dict | None = None, name: str = "model",
            metrics: dict | None = None) -> str:
        use_mlflow(backend.kernel_env(user, project))
        with mlflow.start_run() as run:
            if params:
                mlflow.log_params(params)
            if metrics:
                mlflow.log_metrics(metrics)
            # cloudpickle: the format whose loading can run code, which is what signing must guard
            mlflow.sklearn.log_model(estimator, name=name, pip_requirements=["scikit-learn"],
                                     serialization_format="cloudpickle")
        return run.info.run_id

    return log


@pytest.fixture
def artifact_folder(mlflow_server, backend):
    """The folder on disk that holds a registered version's files (to tamper with them as an attacker would)."""

    def folder(slug: str, name: str, version: int) -> Path:
        c = backend.client("sam")
        source = c.get(f"/projects/{slug}/models/{name}/versions/{version}").json()["source"]
        assert source.startswith("mlflow-artifacts:/")
        return mlflow_server.root / "artifacts" / source[len("mlflow-artifacts:/"):]

    return folder


@pytest.fixture
def xy():
    """A small, separable classification table."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1]}), y


@pytest.fixture
def sql(backend):
    """Run SQL on the platform's database directly: what someone with write access to it could do."""
    from sqlalchemy import create_engine, text

    engine = create_engine(backend.settings.effective_database_url)

    def run(statement: str, **params):
        with engine.begin() as conn:
            return conn.execute(text(statement), params).fetchall() if statement.lstrip().upper().startswith(
                "SELECT") else conn.execute(text(statement), params)

    yield run
    engine.dispose()
