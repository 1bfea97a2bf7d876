"""A serving worker's heap after its model's load is out of the cyclic collector's sight (issue 17): a full
collection walked the load's million objects for 40-50 ms every few seconds under load, stopping the worker's
loop with every request in flight. Seen from inside the worker by the model's own code (models-from-code)."""

from __future__ import annotations

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


def test_a_full_collection_in_the_worker_walks_little_of_what_the_model_load_made(deploy_code_model, xy):
    x, _ = xy
    with deploy_code_model(CODE_MODEL, "heap").client() as c:
        for _ in range(50):  # served for a while: what the requests made is still walked, the load is not
            answer = c.post("/invocations", json={"dataframe_records": x.iloc[:2].to_dict(orient="records")})
            assert answer.status_code == 200, answer.text
    walked, frozen = answer.json()["predictions"]
    assert frozen > 100_000, frozen  # MLflow, pandas and the model: the load's heap
    assert walked * 10 < frozen, (walked, frozen)
