"""A deployment's example request (the panel's copyable curl) carries the input example logged with the model: a
training row. It is shaped for the caller's role by the project's column policies on those column names, like the
Ship flow's example (issue 20 item 1)."""

from __future__ import annotations

import io
import time

import httpx


def test_the_deployments_example_row_is_shaped_for_the_callers_role(backend, project, use_mlflow, xy):
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    x, y = xy
    model = LogisticRegression().fit(x, y)
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run() as r:
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x, model.predict(x)),
                                 input_example=x.iloc[:1], pip_requirements=["scikit-learn"],
                                 serialization_format="cloudpickle")
    sam, vic, lena = backend.client("sam"), backend.client("vic"), backend.client("lena")
    v = sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": r.info.run_id})
    assert v.status_code == 201, v.text
    assert sam.post(f"/projects/{project}/models/churn/versions/1/promote", json={"alias": "staging"}).status_code == 201
    d = sam.post(f"/projects/{project}/deployments",
                 json={"name": "churn-api", "model": "churn", "version": 1, "max_workers": 1})
    assert d.status_code == 201, d.text
    # the training data as a dataset of the project, so a policy can name its columns
    buf = io.BytesIO()
    x.to_parquet(buf, index=False)
    put = httpx.put(f"{backend.url}/mlflow/{project}/mlp/datasets/feats", content=buf.getvalue(),
                    headers={"Authorization": f"Bearer {backend.token('sam')}"}, timeout=60)
    assert put.status_code == 201, put.text

    url = f"/projects/{project}/deployments/churn-api"
    deadline = time.monotonic() + 120
    while (example := sam.get(url).json().get("example")) is None and time.monotonic() < deadline:
        time.sleep(1)  # a worker reports the signature once it is up
    logged = [float(x.x1.iloc[0]), float(x.x2.iloc[0])]
    assert example is not None and example["columns"] == ["x1", "x2"]
    assert example["data"][0] == logged and "policies" not in example  # no policy yet: as logged

    assert lena.put(f"/projects/{project}/datasets/feats/policies",
                    json={"column": "x1", "role": "viewer", "action": "mask"}).status_code == 200
    seen = vic.get(url)
    assert seen.status_code == 200, seen.text
    assert seen.json()["example"]["data"] == [["***", logged[1]]] and repr(logged[0]) not in seen.text
    assert seen.json()["example"]["policies"] == ["feats.x1:viewer=mask"]
    assert sam.get(url).json()["example"]["data"][0] == logged  # a role no policy names: as logged
    audit = backend.admin.get(f"/projects/{project}/audit", params={"limit": 500}).json()["items"]
    assert any(e["action"] == "datasets.policy.applied" and "deployment-example" in (e["detail"] or "")
               for e in audit)

    assert lena.put(f"/projects/{project}/datasets/feats/policies",
                    json={"column": "x1", "role": "viewer", "action": "deny"}).status_code == 200
    denied = vic.get(url)
    assert denied.status_code == 200, denied.text  # the deployment is shown; its example goes without its row
    assert denied.json()["example"]["data"] == [] and "feats.x1:viewer=deny" in denied.json()["example"]["withheld"]
    assert repr(logged[0]) not in denied.text
