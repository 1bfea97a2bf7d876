"""A serving worker's heap after its model's load is out of the cyclic collector's sight (issue 17): a full
collection walked the load's million objects for 40-50 ms every few seconds under load, stopping the worker's
loop with every request in flight. Seen from inside the worker by the model's own code (models-from-code)."""

from __future__ import annotations

import time

import httpx

# predicts, for row 0, how many objects a full collection walks in its process now; for row 1, how many are frozen
CODE_MODEL = """
import gc

import mlflow.pyfunc
from mlflow.models import set_model


class Heap(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [len(gc.get_objects()), gc.get_freeze_count()][:len(model_input)]


set_model(Heap())
"""


def test_a_full_collection_in_the_worker_walks_little_of_what_the_model_load_made(backend, project, use_mlflow,
                                                                                  tmp_path, xy):
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    x, _ = xy
    code = tmp_path / "heap_model.py"
    code.write_text(CODE_MODEL)
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run() as r:
        mlflow.pyfunc.log_model(name="model", python_model=str(code), pip_requirements=["pandas"],
                                signature=infer_signature(x, [0] * len(x)))
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/models", json={"name": "heap", "run_id": r.info.run_id}).status_code == 201
    d = sam.post(f"/projects/{project}/models/heap/versions/1/promote", json={"alias": "staging"})
    assert d.status_code == 201 and d.json()["status"] == "passed", d.text
    r = sam.post(f"/projects/{project}/deployments", json={"name": "heap-api", "model": "heap", "version": 1,
                                                           "max_workers": 1})
    assert r.status_code == 201, r.text
    deadline = time.time() + 180
    while (dep := sam.get(f"/projects/{project}/deployments/heap-api").json())["status"] != "ready":
        assert dep["status"] != "failed" and time.time() < deadline, dep
        time.sleep(0.2)
    key = backend.client("lena").post(f"/projects/{project}/api-keys", json={"name": "crm"}).json()["key"]
    with httpx.Client(base_url=f"{backend.url}/serve/{project}/heap-api",
                      headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        for _ in range(50):  # served for a while: what the requests made is still walked, the load is not
            answer = c.post("/invocations", json={"dataframe_records": x.iloc[:2].to_dict(orient="records")})
            assert answer.status_code == 200, answer.text
    walked, frozen = answer.json()["predictions"]
    assert frozen > 100_000, frozen  # MLflow, pandas and the model: the load's heap
    assert walked * 10 < frozen, (walked, frozen)
