"""Batch scoring: a dataset snapshot or an uploaded file, chunked on both cores, progress, output as a dataset or
Parquet; a worker killed mid-way costs only the chunk it held."""

from __future__ import annotations

import io
import os
import signal
import time

import httpx
import pandas as pd
import psutil


def _wait(client: httpx.Client, project: str, job_id: str, timeout: float = 180) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/projects/{project}/batch-jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"batch job {job_id} did not finish: {job}")


def test_score_a_snapshot_and_an_upload(backend, project, deployed, xy, monkeypatch, use_mlflow):
    from jupyter_mlp import datasets

    _, model = deployed
    x, _ = xy
    monkeypatch.setenv("MLP_PROJECT", project)
    use_mlflow(backend.kernel_env("sam", project))
    first = datasets.register("applicants", x.assign(customer=range(len(x))))
    datasets.register("applicants", pd.concat([x, x]).assign(customer=-1), mode="overwrite")  # a later snapshot
    sam = backend.client("sam")
    # the project's files are encrypted at rest (issue 20 item 3): the job's own files under MLP_HOME are sealed
    assert backend.admin.put(f"/projects/{project}/encryption", json={"enabled": True}).status_code == 200
    r = sam.post(f"/projects/{project}/deployments/churn-api/batch", json={
        "dataset": "applicants", "snapshot_id": first, "output_dataset": "applicants_scored",
        "chunk_rows": 37})
    assert r.status_code == 202, r.text
    job = _wait(sam, project, r.json()["id"])
    assert job["status"] == "succeeded", job
    assert (job["chunks_total"], job["chunks_done"], job["rows"]) == (11, 11, 400)  # the pinned snapshot's rows
    assert job["version"] == 1 and job["output"]["snapshot_id"]
    scored = datasets.read("applicants_scored")
    assert scored.customer.tolist() == list(range(400))  # order kept
    assert scored.prediction.tolist() == model.predict(x).tolist()

    csv = x.iloc[:123].to_csv(index=False).encode()
    up = sam.post(f"/projects/{project}/deployments/churn-api/batch/upload", params={"format": "csv",
                                                                                     "chunk_rows": 50},
                  content=csv, headers={"content-type": "application/octet-stream"})
    assert up.status_code == 202, up.text
    done = _wait(sam, project, up.json()["id"])
    assert done["status"] == "succeeded" and done["chunks_total"] == 3
    out = pd.read_parquet(io.BytesIO(sam.get(f"/projects/{project}/batch-jobs/{done['id']}/output").content))
    assert out.prediction.tolist() == model.predict(x.iloc[:123]).tolist()
    folder = backend.settings.home / "serving" / "batch" / done["id"]
    files = [folder / "upload", folder / "output.parquet", *folder.glob("in/*.parquet"), *folder.glob("out/*.parquet")]
    assert len(files) == 8 and all(f.read_bytes().startswith(b"MLPAR01\n") for f in files)
    assert csv.split(b"\n")[1] not in (folder / "upload").read_bytes()  # the first row, as sent, is not on disk
    sealed = bytearray((folder / "output.parquet").read_bytes())
    sealed[-20] ^= 1  # a flipped bit on disk: refused by name, nothing half-read is sent
    (folder / "output.parquet").write_bytes(bytes(sealed))
    bad = sam.get(f"/projects/{project}/batch-jobs/{done['id']}/output")
    assert bad.status_code == 409 and "fails authentication at segment" in bad.json()["error"]["message"], bad.text
    listed = backend.client("vic").get(f"/projects/{project}/deployments/churn-api/batch").json()
    assert listed["total"] == 2

    # bad input, named; nothing queued
    bad = [
        (sam.post(f"/projects/{project}/deployments/churn-api/batch/upload", params={"format": "parquet"},
                  content=b"not parquet"), 422, "not a readable PARQUET"),
        (sam.post(f"/projects/{project}/deployments/churn-api/batch/upload", params={"format": "csv"},
                  content=b""), 422, "empty"),
        (sam.post(f"/projects/{project}/deployments/churn-api/batch", json={"dataset": "nope"}), 404,
         "Dataset 'nope' not found"),
        (sam.post(f"/projects/{project}/deployments/churn-api/batch", json={"dataset": "applicants",
                                                                            "snapshot_id": 1}), 404, "no snapshot"),
        (backend.client("vic").post(f"/projects/{project}/deployments/churn-api/batch",
                                    json={"dataset": "applicants"}), 403, "does not allow"),
    ]
    for resp, status, words in bad:
        assert resp.status_code == status and words in resp.json()["error"]["message"], resp.text
    assert backend.client("vic").get(f"/projects/{project}/deployments/churn-api/batch").json()["total"] == 2
    wrong = sam.post(f"/projects/{project}/deployments/churn-api/batch/upload", params={"format": "csv"},
                     content=b"a,b\n1,2\n")
    failed = _wait(sam, project, wrong.json()["id"])
    assert failed["status"] == "failed" and "no column(s) ['x1', 'x2']" in failed["message"]


def test_a_killed_worker_costs_only_its_chunk(backend, project, publish, monkeypatch, use_mlflow):
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    from jupyter_mlp import datasets

    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(20000, 8)), columns=[f"f{i}" for i in range(8)])
    y = (x.f0 > 0).astype(int)
    model = KNeighborsClassifier(n_neighbors=15, algorithm="brute").fit(x, y)  # slow to predict on purpose
    publish(model, x.iloc[:50], project, name="knn")
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/deployments", json={"name": "knn-api", "model": "knn",
                                                              "alias": "staging"}).status_code == 201
    monkeypatch.setenv("MLP_PROJECT", project)
    use_mlflow(backend.kernel_env("sam", project))
    datasets.register("bulk", x.iloc[:12000])
    job = sam.post(f"/projects/{project}/deployments/knn-api/batch", json={"dataset": "bulk", "chunk_rows": 300}).json()
    out_dir = backend.settings.home / "serving" / "batch" / job["id"] / "out"
    deadline = time.time() + 120
    while time.time() < deadline:
        progress = sam.get(f"/projects/{project}/batch-jobs/{job['id']}").json()
        if progress["chunks_done"] >= 6:
            break
        time.sleep(0.05)
    assert progress["status"] == "running" and progress["chunks_total"] == 40, progress
    before = {p.name: p.stat().st_mtime_ns for p in out_dir.glob("*.parquet")}
    workers = [p for p in psutil.Process(os.getpid()).children(recursive=True)
               if "--batch" in p.cmdline() and "knn" in p.cmdline()]
    assert len(workers) == 2  # both cores
    for w in workers:
        os.kill(w.pid, signal.SIGKILL)
    done = _wait(sam, project, job["id"])
    assert done["status"] == "succeeded" and done["rows"] == 12000, done.get("message")
    after = {p.name: p.stat().st_mtime_ns for p in out_dir.glob("*.parquet")}
    assert all(after[name] == t for name, t in before.items())  # finished chunks were not scored again
    scored = pd.read_parquet(io.BytesIO(sam.get(f"/projects/{project}/batch-jobs/{job['id']}/output").content))
    assert scored.prediction.tolist() == model.predict(x.iloc[:12000]).tolist()


CODE_MODEL = """
import mlflow.pyfunc
from mlflow.models import set_model


class Sign(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return (model_input["x1"] > 0).astype(int).to_numpy()


set_model(Sign())
"""


def test_a_models_from_code_model_serves_then_scores_in_batch(backend, project, use_mlflow, tmp_path, xy,
                                                              monkeypatch):
    """A model logged from code (MLflow's models-from-code): its serving worker imports the .py from the verified
    model folder. It used to write __pycache__ there, and the batch job's worker then refused the model as changed
    ("file '__pycache__/sign_model.cpython-311.pyc' was added")."""
    # The backend's own environment may say so (this machine's does); under JupyterHub, which starts the backend
    # with only what its config passes, it did not: the workers must not depend on it.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    import mlflow
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    x, _ = xy
    code = tmp_path / "sign_model.py"
    code.write_text(CODE_MODEL)
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run() as r:
        mlflow.pyfunc.log_model(name="model", python_model=str(code), pip_requirements=["pandas"],
                                signature=infer_signature(x, (x.x1 > 0).astype(int).to_numpy()))
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/models", json={"name": "sign", "run_id": r.info.run_id}).status_code == 201
    d = sam.post(f"/projects/{project}/models/sign/versions/1/promote", json={"alias": "staging"})
    assert d.status_code == 201 and d.json()["status"] == "passed", d.text
    r = sam.post(f"/projects/{project}/deployments", json={"name": "sign-api", "model": "sign", "version": 1,
                                                           "max_workers": 1})
    assert r.status_code == 201, r.text
    deadline = time.time() + 180
    while (dep := sam.get(f"/projects/{project}/deployments/sign-api").json())["status"] != "ready":
        assert dep["status"] != "failed" and time.time() < deadline, dep
        time.sleep(0.2)
    csv = x.iloc[:30].to_csv(index=False).encode()
    up = sam.post(f"/projects/{project}/deployments/sign-api/batch/upload", params={"format": "csv", "chunk_rows": 10},
                  content=csv, headers={"content-type": "application/octet-stream"})
    assert up.status_code == 202, up.text
    job = _wait(sam, project, up.json()["id"])
    assert job["status"] == "succeeded" and job["rows"] == 30, job
    out = pd.read_parquet(io.BytesIO(sam.get(f"/projects/{project}/batch-jobs/{job['id']}/output").content))
    assert out.prediction.tolist() == (x.x1.iloc[:30] > 0).astype(int).tolist()
