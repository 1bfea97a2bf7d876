"""A deployed version answers the MLflow scoring protocol and Open Inference Protocol v2 with the model's own
predictions; bad input is refused with the problem named, and the worker stays up."""

from __future__ import annotations

import json

import pandas as pd


def test_both_protocols_answer_with_the_models_predictions(backend, project, deployed, xy):
    ep, model = deployed
    x, _ = xy
    rows = x.iloc[:7]
    expected = model.predict(rows).tolist()
    c = ep.client()
    bodies = {
        "dataframe_split": {"dataframe_split": {"columns": ["x1", "x2"], "data": rows.values.tolist()}},
        "dataframe_records": {"dataframe_records": rows.to_dict(orient="records")},
        "instances": {"instances": rows.to_dict(orient="records")},
        "inputs (columns)": {"inputs": {"x1": rows.x1.tolist(), "x2": rows.x2.tolist()}},
        "inputs (rows)": {"inputs": rows.values.tolist()},
    }
    ids = set()
    for what, body in bodies.items():
        r = c.post("/invocations", json=body)
        assert r.status_code == 200, (what, r.text)
        assert r.json()["predictions"] == expected, what
        assert r.json()["prediction_id"] == r.headers["x-prediction-id"]
        ids.add(r.json()["prediction_id"])
    assert len(ids) == len(bodies)  # every prediction has its own id

    v2 = c.post("/v2/models/churn/infer", json={"id": "req-1", "inputs": [
        {"name": "x1", "shape": [7], "datatype": "FP64", "data": rows.x1.tolist()},
        {"name": "x2", "shape": [7], "datatype": "FP64", "data": rows.x2.tolist()}]})
    assert v2.status_code == 200, v2.text
    doc = v2.json()
    assert (doc["model_name"], doc["model_version"], doc["id"]) == ("churn", "1", "req-1")
    assert doc["outputs"][0]["data"] == expected and doc["outputs"][0]["shape"] == [7]
    tensor = c.post("/v2/models/churn/versions/1/infer", json={"inputs": [
        {"name": "input-0", "shape": [7, 2], "datatype": "FP64", "data": rows.values.tolist()}]})
    assert tensor.json()["outputs"][0]["data"] == expected, tensor.text
    meta = c.get("/v2/models/churn").json()
    assert meta["versions"] == ["1"] and [i["name"] for i in meta["inputs"]] == ["x1", "x2"]
    assert meta["inputs"][0]["datatype"] == "FP64"
    assert c.get("/v2/models/churn/ready").status_code == 200
    assert c.get("/v2/health/ready").json()["ready"] is True
    assert c.get("/ping").status_code == 200

    d = backend.client("vic").get(f"/projects/{project}/deployments/churn-api").json()  # viewers may look
    assert d["status"] == "ready" and d["version"] == 1 and len(d["workers"]) == 1
    import psutil

    rss = psutil.Process(d["workers"][0]["pid"]).memory_info().rss
    assert rss < 300 * 1024 * 1024, f"a scikit-learn worker uses {rss / 2**20:.0f} MiB (budget 300 MB)"
    assert d["url"] == f"/serve/{project}/churn-api/invocations"


def test_bad_input_is_named_and_the_worker_stays_up(backend, project, deployed, xy):
    ep, model = deployed
    x, _ = xy
    c = ep.client()
    good = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -1.0]]}}
    pid_before = backend.client("sam").get(f"/projects/{project}/deployments/churn-api").json()["workers"][0]["pid"]
    cases = [
        (b"{not json", 400, "not valid JSON"),
        (b"[" * 50_000 + b"]" * 50_000, 400, "nested too deeply"),
        (b'{"dataframe_split": {"columns": ["x1", "x2"], "data": [[NaN, 1.0]]}}', 400, "NaN"),
        (b'{"dataframe_split": {"columns": ["x1", "x2"], "data": [[Infinity, 1.0]]}}', 400, "Infinity"),
        (json.dumps({"dataframe_split": {"columns": ["x1", "x2"], "data": [["a", 1.0]]}}).encode(), 400,
         "column 'x1' expects a number"),
        (json.dumps({"dataframe_records": [{"x1": 1.0}]}).encode(), 400, "missing column(s) ['x2']"),
        (json.dumps({"dataframe_records": [{"x1": 1.0, "x2": 2.0, "x3": 3.0}]}).encode(), 400,
         "unexpected column(s) ['x3']"),
        (json.dumps({"dataframe_split": {"columns": ["x1", "x2"], "data": []}}).encode(), 400, "empty batch"),
        (json.dumps({"instances": []}).encode(), 400, "empty batch"),
        (json.dumps({"something": []}).encode(), 400, "exactly one of"),
        (json.dumps({"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, [2.0]]]}}).encode(), 400,
         "column 'x2' expects a number"),
        (b"", 400, "empty"),
    ]
    for body, status, words in cases:
        r = c.post("/invocations", content=body, headers={"content-type": "application/json"})
        assert r.status_code == status, (body[:60], r.status_code, r.text)
        assert words in r.json()["error"]["message"], (body[:60], r.text)
    big = c.post("/invocations", content=b" " * (10 * 1024 * 1024), headers={"content-type": "application/json"})
    assert big.status_code == 413 and "bytes" in big.json()["error"]["message"]
    assert c.post("/invocations", content=b"x1,x2\n1,2", headers={"content-type": "text/csv"}).status_code == 415
    v2_bad = c.post("/v2/models/churn/infer", json={"inputs": [
        {"name": "x1", "shape": [2], "datatype": "FP64", "data": [1.0]}]})
    assert v2_bad.status_code == 400 and "shape" in v2_bad.json()["error"]  # the protocol's {"error": "<message>"}
    assert c.post("/v2/models/other/infer", json={}).status_code == 404
    assert c.post("/v2/models/churn/versions/9/infer", json={}).status_code == 404
    # still the same worker, still right
    after = c.post("/invocations", json=good)
    assert after.status_code == 200
    assert after.json()["predictions"] == model.predict(pd.DataFrame({"x1": [0.5], "x2": [-1.0]})).tolist()
    assert backend.client("sam").get(f"/projects/{project}/deployments/churn-api").json()["workers"][0]["pid"] \
        == pid_before


def test_keys_open_only_their_project_and_deployment(backend, project, deployed, publish, xy):
    ep, model = deployed
    x, _ = xy
    good = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -1.0]]}}
    lena = backend.client("lena")
    # no key, garbage, a platform token: 401
    import httpx

    anon = httpx.Client(base_url=ep.base, timeout=30)
    assert anon.post("/invocations", json=good).status_code == 401
    assert ep.client("mlpk_nope_nope").post("/invocations", json=good).status_code == 401
    assert ep.client(backend.token("admin")).post("/invocations", json=good).status_code == 401
    # only leads make keys
    assert backend.client("sam").post(f"/projects/{project}/api-keys", json={"name": "x"}).status_code == 403
    listed = lena.get(f"/projects/{project}/api-keys").json()["items"]
    assert [k["name"] for k in listed] == ["crm"] and "key" not in listed[0]
    # revoked: 401 at once
    temp = lena.post(f"/projects/{project}/api-keys", json={"name": "temp"}).json()
    assert ep.client(temp["key"]).post("/invocations", json=good).status_code == 200
    assert lena.delete(f"/projects/{project}/api-keys/{temp['prefix']}").json()["revoked_at"]
    r = ep.client(temp["key"]).post("/invocations", json=good)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    # a wrong secret with a real prefix: 401
    prefix = ep.key.split("_")[1]
    assert ep.client(f"mlpk_{prefix}_wrong").post("/invocations", json=good).status_code == 401
    # another project's key: this deployment looks missing
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    theirs = backend.client("gus").post("/projects/globex/api-keys", json={"name": "theirs"}).json()["key"]
    r = ep.client(theirs).post("/invocations", json=good)
    assert r.status_code == 404 and "not found" in r.json()["error"]["message"]
    # a key for one deployment does not open another of the same project
    from sklearn.dummy import DummyClassifier

    publish(DummyClassifier(strategy="most_frequent").fit(x, xy[1]), x, project, name="baseline")
    assert backend.client("sam").post(f"/projects/{project}/deployments", json={
        "name": "baseline-api", "model": "baseline", "alias": "staging"}).status_code == 201
    only = lena.post(f"/projects/{project}/api-keys", json={"name": "only", "deployment": "churn-api"}).json()["key"]
    assert ep.client(only).post("/invocations", json=good).status_code == 200
    other = httpx.Client(base_url=f"{backend.url}/serve/{project}/baseline-api",
                         headers={"Authorization": f"Bearer {only}"}, timeout=30)
    assert other.post("/invocations", json=good).status_code == 403
    assert other.post("/invocations", json=good, headers={"Authorization": f"Bearer {ep.key}"}).status_code == 200


def test_only_validated_versions_are_deployed(backend, project, use_mlflow, xy):
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    x, y = xy
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run() as r:
        mlflow.sklearn.log_model(LogisticRegression().fit(x, y), name="model", serialization_format="cloudpickle")
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/models", json={"name": "raw", "run_id": r.info.run_id}).status_code == 201
    refused = sam.post(f"/projects/{project}/deployments", json={"name": "raw-api", "model": "raw", "version": 1})
    assert refused.status_code == 409 and "has not passed the gates" in refused.json()["error"]["message"]
    assert sam.post(f"/projects/{project}/deployments", json={"name": "raw-api", "model": "raw",
                                                            "alias": "champion"}).status_code == 409
    assert backend.client("vic").post(f"/projects/{project}/deployments", json={
        "name": "v", "model": "raw", "version": 1}).status_code == 403
    bad = sam.post(f"/projects/{project}/deployments", json={"name": "Bad Name", "model": "raw", "version": 1})
    assert bad.status_code == 422 and bad.json()["error"]["detail"][0]["field"] == "name"
    assert sam.get(f"/projects/{project}/deployments").json()["total"] == 0


def test_lineage_walks_down_to_the_deployments(backend, project, deployed):
    graph = backend.client("vic").get(f"/projects/{project}/models/churn/versions/1/lineage").json()
    deployments = [n for n in graph["nodes"] if n["kind"] == "deployment"]
    assert [(n["label"], n["detail"]["serving"]) for n in deployments] == [("deployment churn-api", True)]
    assert {"source": "model:churn/1", "target": "deploy:churn-api"} in graph["edges"]


def test_predictions_are_logged_with_ids_and_feedback_joins_them(backend, project, deployed):
    ep, model = deployed
    c = ep.client()
    ids = []
    for i in range(5):
        r = c.post("/invocations", json={"dataframe_records": [{"x1": float(i), "x2": -1.0}]})
        ids.append(r.json()["prediction_id"])
    v2 = c.post("/v2/models/churn/infer", json={"inputs": [{"name": "x1", "shape": [1], "datatype": "FP64",
                                                            "data": [0.1]},
                                                           {"name": "x2", "shape": [1], "datatype": "FP64",
                                                            "data": [0.2]}]})
    ids.append(v2.json()["parameters"]["prediction_id"])
    assert c.post("/invocations", json={"dataframe_records": [{"x1": "bad", "x2": 1.0}]}).status_code == 400
    fb = c.post("/feedback", json={"labels": [{"prediction_id": ids[0], "label": 1},
                                              {"prediction_id": ids[5], "label": 0}]})
    assert fb.status_code == 200 and fb.json() == {"accepted": 2}
    for body, words in [({"labels": [{"prediction_id": "nope", "label": 1}]}, "32-character id"),
                        ({"labels": [{"prediction_id": ids[1], "label": [[1, 2]]}]}, "must be a number"),
                        ({"labels": [{"prediction_id": ids[1], "label": {"a": 1}}]}, "one per row"),
                        ({"labels": [{"prediction_id": ids[1], "label": []}]}, "must be a number"),
                        ({"labels": []}, "send"), ({"labels": [{"prediction_id": ids[1]}]}, "exactly")]:
        r = c.post("/feedback", json=body)
        assert r.status_code == 400 and words in r.json()["error"]["message"], (body, r.text)
    page = backend.client("vic").get(f"/projects/{project}/deployments/churn-api/predictions").json()
    assert page["table"] == "predictions_churn_api" and page["total"] == 6  # the refused request is not logged
    logged = {p["prediction_id"]: p for p in page["items"]}
    assert set(logged) == set(ids)
    first = logged[ids[0]]
    assert json.loads(first["request"]) == {"dataframe_records": [{"x1": 0.0, "x2": -1.0}]}
    assert json.loads(first["response"])["predictions"] == model.predict(
        pd.DataFrame({"x1": [0.0], "x2": [-1.0]})).tolist()
    assert first["version"] == 1 and first["protocol"] == "mlflow" and first["latency_ms"] > 0
    assert first["label"] == "1" and logged[ids[5]]["label"] == "0" and logged[ids[5]]["protocol"] == "v2"
    assert logged[ids[2]]["label"] is None
    # the log is a project dataset: readable like any other Iceberg table of the project
    names = [d["name"] for d in backend.client("sam").get(f"/projects/{project}/datasets").json()["items"]]
    assert {"predictions_churn_api", "feedback_churn_api"} <= set(names)
