"""Real clients call a deployment unchanged: NVIDIA's `tritonclient[http]` over Open Inference Protocol v2 (binary
tensors and JSON, metadata, readiness, errors), and MLflow's own deployments client."""

from __future__ import annotations

import time

import numpy as np
import pytest


def _triton(backend, project: str, deployment: str = "churn-api"):
    import tritonclient.http as httpclient

    return httpclient.InferenceServerClient(url=f"{backend.url[len('http://'):]}/serve/{project}/{deployment}")


def test_tritonclient_infers_with_binary_and_json_tensors(backend, project, deployed, xy):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    ep, model = deployed
    x, _ = xy
    rows = x.iloc[:5]
    expected = model.predict(rows).tolist()
    c = _triton(backend, project)

    def auth() -> dict[str, str]:  # tritonclient writes Inference-Header-Content-Length into the headers it is
        return {"Authorization": f"Bearer {ep.key}"}  # given: a fresh dict for every call


    assert c.is_server_live(headers=auth()) and c.is_server_ready(headers=auth())
    assert c.is_model_ready("churn", headers=auth()) and c.is_model_ready("churn", "1", headers=auth())
    server = c.get_server_metadata(headers=auth())
    assert server["name"] == "jupyter-mlp" and "binary_tensor_data" in server["extensions"]
    meta = c.get_model_metadata("churn", headers=auth())
    assert meta["versions"] == ["1"] and [i["name"] for i in meta["inputs"]] == ["x1", "x2"]
    assert meta["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]
    assert c.get_model_metadata("churn", "1", headers=auth())["name"] == "churn"

    def inputs(binary: bool) -> list:
        out = []
        for col in ("x1", "x2"):
            t = httpclient.InferInput(col, [len(rows)], "FP64")
            t.set_data_from_numpy(rows[col].to_numpy(), binary_data=binary)
            out.append(t)
        return out

    # tritonclient's default: binary tensors in, every output binary out
    r = c.infer("churn", inputs(True), headers=auth(), request_id="req-7")
    assert r.as_numpy("predict").tolist() == expected and r.as_numpy("predict").dtype == np.int64
    assert r.get_response()["id"] == "req-7"
    assert r.get_output("predict")["parameters"]["binary_data_size"] == 8 * len(rows)
    # JSON both ways
    r = c.infer("churn", inputs(False), outputs=[httpclient.InferRequestedOutput("predict", binary_data=False)],
                headers=auth(), model_version="1")
    assert r.as_numpy("predict").tolist() == expected and "data" in r.get_output("predict")
    # one [rows, columns] tensor, in binary
    t = httpclient.InferInput("input-0", [len(rows), 2], "FP32")
    t.set_data_from_numpy(rows.to_numpy(dtype=np.float32))
    assert c.infer("churn", [t], headers=auth()).as_numpy("predict").tolist() == model.predict(
        rows.astype(np.float32).astype(np.float64)).tolist()

    # errors come back in the protocol's shape: tritonclient raises them with the message, and printing works
    def refused(call) -> InferenceServerException:
        with pytest.raises(InferenceServerException) as e:
            call()
        str(e.value)  # tritonclient's __str__ crashed on a dict-shaped error
        return e.value

    bad = httpclient.InferInput("x1", [len(rows)], "FP64")
    bad.set_data_from_numpy(rows["x1"].to_numpy())
    e = refused(lambda: c.infer("churn", [bad], headers=auth()))
    assert e.status() == "400" and "missing column(s) ['x2']" in e.message()
    e = refused(lambda: c.infer("other", inputs(True), headers=auth()))
    assert e.status() == "404" and "'churn' is" in e.message()
    e = refused(lambda: c.get_model_metadata("churn", "9", headers=auth()))
    assert e.status() == "404" and "version 9" in e.message()
    e = refused(lambda: c.infer("churn", inputs(True), headers=auth(),
                                outputs=[httpclient.InferRequestedOutput("proba")]))
    assert e.status() == "400" and "'proba'" in e.message()
    e = refused(lambda: c.get_server_metadata())
    assert e.status() == "401" and "API key" in e.message()
    assert not c.is_model_ready("other", headers=auth())

    # the prediction log holds the JSON form of binary requests
    page = backend.client("vic").get(f"/projects/{project}/deployments/churn-api/predictions").json()
    assert page["total"] == 3 and all(p["protocol"] == "v2" for p in page["items"])
    assert all('"data"' in p["request"] and "binary_data" not in p["request"] for p in page["items"])


def test_mlflow_deployments_client_predicts_with_an_api_key(backend, project, deployed, xy, monkeypatch):
    from mlflow.deployments import get_deploy_client
    from requests.exceptions import HTTPError

    ep, model = deployed
    x, _ = xy
    rows = x.iloc[:4]
    client = get_deploy_client(f"{backend.url}/serve/{project}")
    body = {"dataframe_split": {"columns": ["x1", "x2"], "data": rows.values.tolist()}}
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", ep.key)  # how MLflow's clients send a bearer token
    answer = client.predict(endpoint="churn-api", inputs=body)
    assert answer["predictions"] == model.predict(rows).tolist() and len(answer["prediction_id"]) == 32
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "mlpk_nope_nope")
    with pytest.raises(HTTPError, match="401 Client Error.*A valid API key is needed"):
        client.predict(endpoint="churn-api", inputs=body)


def test_a_key_slower_than_one_request_a_second_can_call(backend, project, deployed):
    ep, _ = deployed
    slow = backend.client("lena").post(f"/projects/{project}/api-keys", json={"name": "slow", "rate_per_s": 0.2})
    assert slow.status_code == 201, slow.text
    c = ep.client(slow.json()["key"])
    body = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -1.0]]}}
    assert c.post("/invocations", json=body).status_code == 200
    limited = c.post("/invocations", json=body)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "5", limited.text


def test_the_deployment_shows_the_url_a_client_calls_with_an_example_body(backend, project, deployed, xy):
    import httpx

    ep, model = deployed
    sam = backend.client("sam")
    d = sam.get(f"/projects/{project}/deployments/churn-api").json()
    assert d["base_url"] == backend.url and d["base_url"] + d["url"] == f"{ep.base}/invocations"
    assert d["example"]["columns"] == ["x1", "x2"] and len(d["example"]["data"][0]) == 2
    # the example is a body the endpoint takes, at the URL shown
    r = httpx.post(d["base_url"] + d["url"], json={"dataframe_split": d["example"]},
                   headers={"Authorization": f"Bearer {ep.key}"})
    assert r.status_code == 200, r.text
    # uptime is the backend's reading on a monotonic clock: it only grows between readings of the same process
    ups = []
    for _ in range(3):
        w = sam.get(f"/projects/{project}/deployments/churn-api").json()["workers"][0]
        ups.append((w["pid"], w["uptime_s"]))
        time.sleep(0.3)
    assert len({p for p, _ in ups}) == 1 and ups[0][1] < ups[1][1] < ups[2][1], ups
