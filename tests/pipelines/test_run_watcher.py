"""A pipeline run nobody polls is closed by the backend's watcher, once (issue 18 item 18 follow-up).

Before, a run's end was recorded only when somebody polled it: a scheduled run, a CLI run without `--wait` or a
closed browser tab left its MLflow parent run RUNNING and its models unregistered until someone looked. Now a
background task of the backend closes ended runs as a poll would, under the same lock, so a poll and the watcher
racing record the end once; and a retry after a close that failed half-way (models registered, then MLflow or the
database failing) registers nothing twice.

Real Dagster, real MLflow (checked with the plain `mlflow` client through the gateway); the first close is slowed
and fails once after registering, injected around the real registration.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from mlflow import MlflowClient

from tests.helpers import notebook as _nb

CELLS = [
    ("import mlflow\nimport mlflow.sklearn\nimport numpy as np\nfrom sklearn.linear_model import LogisticRegression",
     ["imports"]),
    ("X = np.array([[0.0], [1.0], [2.0], [3.0]])\ny = np.array([0, 0, 1, 1])\n"
     "mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name='model', pip_requirements=['scikit-learn'])",
     ["stage:train"]),
]


def test_a_run_nobody_polls_is_closed_once_by_the_watcher(backend, project, use_mlflow, monkeypatch):
    from jupyter_mlp_backend.registry import service as registry_service

    real, calls, closing = registry_service.register_pipeline_models, [], threading.Event()

    async def slow_then_failing_once(*args, **kwargs):
        calls.append(time.monotonic())
        closing.set()
        if len(calls) == 1:
            await asyncio.sleep(3)  # polls arrive while this close is under way
        done = await real(*args, **kwargs)
        if len(calls) == 1:  # the models are registered, then recording the end fails: a later close retries
            raise httpx.ConnectError("MLflow is not reachable after the registration (injected)")
        return done

    monkeypatch.setattr(registry_service, "register_pipeline_models", slow_then_failing_once)
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/pipelines", json={"notebook": _nb(CELLS), "path": "watched.ipynb",
                                                            "name": "watched"}).status_code == 201
    started = sam.post(f"/projects/{project}/pipelines/watched/runs", json={})
    assert started.status_code == 201, started.text
    run_id, parent = started.json()["run_id"], started.json()["mlflow_run_id"]

    # Nobody polls: the run's end is noticed all the same (it was not, before the watcher)
    assert closing.wait(240), "the run's end was never noticed without a poll"

    # Polls racing the watcher's close (slowed, then failing once after registering): the end is recorded once
    with ThreadPoolExecutor(4) as pool:
        polls = list(pool.map(lambda _: backend.client("sam").get(f"/projects/{project}/pipeline-runs/{run_id}"),
                              range(4)))
    assert all(p.status_code == 200 for p in polls), [p.text for p in polls]

    use_mlflow(backend.kernel_env("sam", project))
    client = MlflowClient()
    deadline = time.monotonic() + 60
    while client.get_run(parent).info.status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(1)
    assert client.get_run(parent).info.status == "FINISHED"
    assert len(calls) >= 2, calls  # the failed close was retried
    versions = client.search_model_versions("name = 'watched'")
    assert [v.version for v in versions] == ["1"], [(v.version, v.run_id) for v in versions]
    assert sam.get(f"/projects/{project}/models/watched/versions").json()["total"] == 1
    audit = backend.client("lena").get(f"/projects/{project}/audit", params={"limit": 200}).json()["items"]
    assert len([e for e in audit if e["action"] == "model.register"]) == 1, audit
    assert sam.get(f"/projects/{project}/pipeline-runs/{run_id}").json()["status"] == "SUCCESS"
