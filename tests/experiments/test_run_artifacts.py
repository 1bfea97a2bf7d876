"""A run's artifacts in the panel include the models it logged: MLflow 3 keeps logged models outside the run's
artifact folder, so they are listed under `logged-models/<name>/`."""

from __future__ import annotations

import mlflow
import mlflow.sklearn
from sklearn.linear_model import LogisticRegression


def test_logged_models_are_listed_with_the_runs_artifacts(backend, project, use_mlflow):
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "notes.txt")
        mlflow.sklearn.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), name="churn",
                                 pip_requirements=["scikit-learn"])
    vic = backend.client("vic")
    base = f"/projects/{project}/runs/{run.info.run_id}"

    def listing(path: str = "") -> dict[str, bool]:
        r = vic.get(f"{base}/artifacts", params={"path": path})
        assert r.status_code == 200, r.text
        return {a["path"]: a["is_dir"] for a in r.json()["items"]}

    assert listing() == {"notes.txt": False, "logged-models": True}
    assert listing("logged-models") == {"logged-models/churn": True}
    files = listing("logged-models/churn")
    assert files["logged-models/churn/MLmodel"] is False and "logged-models/churn/python_env.yaml" in files
    mlmodel = vic.get(f"{base}/artifact", params={"path": "logged-models/churn/MLmodel"})
    assert mlmodel.status_code == 200 and b"sklearn" in mlmodel.content
    assert vic.get(f"{base}/artifacts", params={"path": "logged-models/nope"}).status_code == 404
    assert vic.get(f"{base}/artifact", params={"path": "logged-models/churn/../../x"}).status_code == 422
    assert backend.client("gus").get(f"{base}/artifacts", params={"path": "logged-models"}).status_code in (403, 404)
