"""MLflow's own registry calls through the gateway with a kernel's credentials: registration goes through the
platform's path (lineage, signature), reads are scoped to the project, the gated aliases move only through gates."""

from __future__ import annotations

import mlflow
import mlflow.pyfunc
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression


def test_plain_mlflow_registry_calls_go_through_the_platform(backend, project, log_model, xy, use_mlflow):
    x, y = xy
    estimator = LogisticRegression().fit(x, y)
    run = log_model(estimator, params={"rows": 400})
    use_mlflow(backend.kernel_env("sam", project))
    client = MlflowClient()

    mv = mlflow.register_model(f"runs:/{run}/model", "churn")
    assert mv.name == "churn" and mv.version == "1" and mv.status == "READY" and mv.run_id == run
    # ... through our registration path: signed, with lineage digests, audited as the kernel's user
    ours = backend.client("sam").get(f"/projects/{project}/models/churn/versions/1").json()
    assert ours["signed"] and ours["created_by"] == "sam" and ours["lineage"]["mlflow_run"] == run
    assert ours["lineage"]["data_sha256"] and ours["params"] == {"rows": "400"}
    exp_id = client.get_run(run).info.experiment_id
    logged = client.search_logged_models([exp_id], filter_string=f"source_run_id = '{run}'")[0]
    assert mlflow.register_model(f"models:/{logged.model_id}", "churn").version == "2"  # MLflow 3's own URI
    assert backend.client("sam").get(f"/projects/{project}/models/churn/versions/2").json()["signed"]

    assert client.get_registered_model("churn").name == "churn"
    assert [m.name for m in client.search_registered_models()] == ["churn"]
    assert [m.name for m in client.search_registered_models(filter_string="name = 'churn'")] == ["churn"]
    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'ch%'")] == ["churn"]
    assert sorted(v.version for v in client.search_model_versions("name = 'churn'")) == ["1", "2"]
    assert client.get_model_version("churn", "2").run_id == run
    assert sorted(v.version for v in client.search_model_versions(f"run_id = '{run}'")) == ["1", "2"]
    assert [v.version for v in client.get_latest_versions("churn")] == ["2"]
    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE"):
        client.search_registered_models(filter_string="name IN ('churn')")

    # The gated aliases: refused with the way that works.
    for move in (lambda: client.set_registered_model_alias("churn", "champion", "1"),
                 lambda: client.delete_registered_model_alias("churn", "staging")):
        with pytest.raises(MlflowException) as e:
            move()
        assert "gate" in str(e.value) and "mlp models promote churn" in str(e.value) and "Models panel" in str(e.value)
    promoted = backend.client("sam").post(f"/projects/{project}/models/churn/versions/1/promote",
                                          json={"alias": "champion"})
    assert promoted.status_code == 201 and promoted.json()["alias_moved"], promoted.text
    assert client.get_model_version_by_alias("churn", "champion").version == "1"

    expected = estimator.predict(x)
    for uri in ("models:/churn@champion", "models:/churn/2"):
        model = mlflow.pyfunc.load_model(uri)
        assert np.array_equal(np.asarray(model.predict(x)), expected), uri

    # A viewer reads but cannot register.
    use_mlflow(backend.kernel_env("vic", project))
    assert [m.name for m in MlflowClient().search_registered_models()] == ["churn"]
    with pytest.raises(MlflowException, match="PERMISSION_DENIED|does not allow"):
        mlflow.register_model(f"runs:/{run}/model", "churn")

    # Another project sees none of it, and cannot register a run of this one.
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    use_mlflow(backend.kernel_env("gus", "globex"))
    other = MlflowClient()
    assert other.search_registered_models() == []
    assert other.search_model_versions("name = 'churn'") == []
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|not found"):
        other.get_registered_model("churn")
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|not found"):
        mlflow.pyfunc.load_model("models:/churn/1")
    with pytest.raises(MlflowException, match="not found"):
        mlflow.register_model(f"runs:/{run}/model", "stolen")


def test_a_tampered_version_is_refused_at_download(backend, project, log_model, xy, use_mlflow, artifact_folder):
    x, y = xy
    run = log_model(LogisticRegression().fit(x, y))
    use_mlflow(backend.kernel_env("sam", project))
    mlflow.register_model(f"runs:/{run}/model", "churn")
    folder = artifact_folder(project, "churn", 1)
    (folder / "MLmodel").write_text((folder / "MLmodel").read_text() + "\n# changed\n")
    with pytest.raises(MlflowException, match="refused"):
        mlflow.pyfunc.load_model("models:/churn/1")
