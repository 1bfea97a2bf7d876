"""The Ship flow (issue 16 items 1 and 3), with real parts: MLflow, Dagster, papermill stages as local processes,
the registry's signed versions and gates, serving workers, the monitor.

One project, one notebook shipped twice: lena (a lead) ships it with `mlp ship --yes` and gets the endpoint, a key
shown once and requests that answer; sam (a scientist) ships a changed notebook through the API, may not loosen or
change the gates lena's Ship set, waits at approval once lena asks for one, and the deployment switches to the new
version only after she approves. A notebook whose stage raises, and one whose validated metric the pipeline's
model does not reach, stop `mlp ship` with the failing step's message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.helpers import notebook as _nb

PATH = "acme/churn.ipynb"


def _cells(c: float, extra=()):  # noqa: ANN001, ANN202
    return [
        ("import mlflow\nimport mlflow.sklearn\nfrom mlflow.models import infer_signature\n"
         "from jupyter_mlp import datasets\nfrom sklearn.linear_model import LogisticRegression", ["imports"]),
        (f"C = {c}", ["parameters"]),
        ("frame = datasets.read('customers')", ["stage:prep"]),
        ("X = frame[['x1', 'x2']]\nmodel = LogisticRegression(C=C).fit(X, frame.y)\n"
         "mlflow.log_metric('accuracy', float(model.score(X, frame.y)))\n"
         "mlflow.sklearn.log_model(model, name='model', signature=infer_signature(X, model.predict(X)),\n"
         "                         pip_requirements=['scikit-learn'])", ["stage:train"]),
        *extra,
    ]


def _write(folder: Path, name: str, cells) -> Path:  # noqa: ANN001
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlp-project.toml").write_text('project = "acme"\n')
    path = folder / name
    path.write_text(json.dumps(_nb(cells)))
    return path


def _mlp(backend, user: str, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    mlp = Path(sys.executable).parent / "mlp"
    env = {**os.environ, "MLP_HOME": str(backend.settings.home), "MLP_BACKEND_URL": backend.url, "USER": user,
           "LOGNAME": user}
    return subprocess.run([str(mlp), *args], env=env, capture_output=True, text=True, timeout=600)


def _wait(client: httpx.Client, ship_id: str, until, timeout: float = 400) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    s = None
    while time.monotonic() < deadline:
        s = client.get(f"/projects/acme/ship/{ship_id}").json()
        if until(s):
            return s
        time.sleep(1)
    raise AssertionError(f"the ship did not get there: {json.dumps(s, indent=1)[:4000]}")


def _workers(backend, model: str, version: int) -> dict[int, Path]:  # noqa: ANN001
    """Serving worker processes of this backend (its MLP_HOME in their --dir) for one model version: pid -> the
    socket it listens on once its model is loaded."""
    import psutil

    found = {}
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if "jupyter_mlp_backend.serving.worker" in cmd and str(backend.settings.home) in " ".join(cmd) and \
                cmd[cmd.index("--model") + 1] == model and cmd[cmd.index("--version") + 1] == str(version):
            found[p.info["pid"]] = Path(cmd[cmd.index("--socket") + 1])
    return found


@pytest.fixture
def customers(backend, project, use_mlflow, monkeypatch):  # noqa: ANN001
    """The training table, and the notebook's validated run (as its kernel logs it, tagged with its path)."""
    import mlflow
    import numpy as np

    from jupyter_mlp import datasets

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)})
    use_mlflow(backend.kernel_env("lena", project))
    monkeypatch.setenv("MLP_PROJECT", project)
    datasets.register("customers", frame)
    with mlflow.start_run(tags={"mlp.notebook.path": PATH}):
        mlflow.log_metric("accuracy", 0.95)
    return frame


def test_plan_infers_the_defaults_and_refuses_bad_input(backend, project, customers):
    sam = backend.client("sam")
    plan = sam.post(f"/projects/{project}/ship/plan", json={"path": PATH, "notebook": _nb(_cells(1.0))})
    assert plan.status_code == 200, plan.text
    p = plan.json()["plan"]
    assert p["pipeline"] == {"name": "churn", "stages": ["prep", "train"], "parameters": {"C": 1.0}}
    assert p["model"]["name"] == "churn" and p["model"]["metric"] == "accuracy" and p["model"]["value"] == 0.95
    assert p["gates"]["thresholds"] == [{"metric": "accuracy", "op": ">=", "value": 0.93}]
    assert p["gates"]["source"] == "proposed" and p["gates"]["require_approval"] is False
    # challenger-beats-champion on the plan's metric, scored on the data the stages read, label = what they fit on
    assert p["gates"]["challenger"] == {"metric": "accuracy", "margin": 0.0, "greater_is_better": True}
    assert p["gates"]["evaluation"] == {"dataset": "customers", "target": "y", "snapshot_id": None}
    assert p["deployment"]["name"] == "churn-api" and not p["deployment"]["exists"]
    assert p["monitor"]["drift"] and p["monitor"]["retrain"]

    # a model logged under its own name is registered (and planned) under it; deployment names have no `_`
    named = [*_cells(1.0)[:3], ("mlflow.sklearn.log_model(model, name='credit_risk')", ["stage:train"])]
    other = sam.post(f"/projects/{project}/ship/plan", json={"path": "acme/risk.ipynb", "notebook": _nb(named)})
    assert other.status_code == 200, other.text
    o = other.json()
    assert (o["plan"]["model"]["name"], o["plan"]["deployment"]["name"]) == ("credit_risk", "credit-risk-api")
    assert o["plan"]["gates"]["thresholds"] == [] and any("no run logged" in n for n in o["notes"])

    bad = sam.post(f"/projects/{project}/ship/plan", json={"path": PATH, "notebook": {"cells": "no"}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error", bad.text
    assert sam.post(f"/projects/{project}/ship/plan", json={"path": PATH}).status_code == 422
    assert backend.client("vic").post(f"/projects/{project}/ship/plan", json={
        "path": PATH, "notebook": _nb(_cells(1.0))}).status_code == 403
    assert backend.client("mallory").post(f"/projects/{project}/ship/plan", json={
        "path": PATH, "notebook": _nb(_cells(1.0))}).status_code == 404
    body = {"path": PATH, "notebook": _nb(_cells(1.0)), "plan": p}
    assert backend.client("vic").post(f"/projects/{project}/ship", json=body).status_code == 403
    assert sam.get(f"/projects/{project}/ship/{'0' * 8}-0000-0000-0000-{'0' * 12}").status_code == 404
    assert sam.get(f"/projects/{project}/ship/..%2F..%2Fx").status_code == 404
    assert httpx.get(f"{backend.url}/api/projects/{project}/ship").status_code == 401


def test_ship_from_the_cli_then_a_changed_notebook_through_the_gates_and_a_lead(backend, project, customers,
                                                                                  tmp_path):
    root = tmp_path / "work"
    nb = _write(root / "acme", "churn.ipynb", _cells(0.01))

    # lena ships from the terminal: the plan, a line per step, the endpoint URL last
    shipped = _mlp(backend, "lena", "ship", str(nb), "--yes", "--poll", "0.5")  # C=0.01: accuracy 0.983
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    out = shipped.stdout
    assert "gates       accuracy >= 0.93; beats the champion on accuracy (proposed)" in out, out
    assert "deployment  churn-api (new)" in out, out
    for step in ("promote", "run", "register", "gates", "deploy", "monitor", "endpoint"):
        assert f"{step:<9} done" in out, (step, out)
    assert "approval  skipped" in out
    url = out.strip().splitlines()[-1]
    assert url == f"{backend.url}/serve/{project}/churn-api/invocations", out
    key = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("API key (shown once"))

    lena = backend.client("lena")
    ships = lena.get(f"/projects/{project}/ship").json()
    first = ships["items"][0]
    assert ships["total"] == 1 and first["status"] == "succeeded" and first["created_by"] == "lena"
    assert first["endpoint"]["api_key"] is None, "the key is shown once"
    steps = {s["name"]: s for s in first["steps"]}
    assert steps["run"]["links"]["run_id"] and steps["register"]["links"] == {"model": "churn", "version": 1}
    assert all(steps[n]["seconds"] is not None for n in ("promote", "run", "deploy"))
    e = first["endpoint"]
    # the signature's real columns and the first training row (at the snapshot the run pinned)
    assert e["body"]["dataframe_split"]["columns"] == ["x1", "x2"]
    assert e["body"]["dataframe_split"]["data"] == [[customers.x1[0], customers.x2[0]]]
    assert e["example_from"].startswith("dataset customers, snapshot ")
    assert "curl -X POST" in e["requests"]["curl"] and "get_deploy_client" in e["requests"]["mlflow_deployments"]
    answer = httpx.post(url, json=e["body"], headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1, answer.text
    # the Python request as printed, run as a client would (the key from the environment)
    ran = subprocess.run([sys.executable, "-c", e["requests"]["python"]], capture_output=True, text=True,
                         env={**os.environ, "MLP_API_KEY": key}, timeout=60)
    assert ran.returncode == 0 and ran.stdout.strip() in ("[0]", "[1]"), ran.stdout + ran.stderr
    monitor = lena.get(f"/projects/{project}/deployments/churn-api/monitor").json()
    assert monitor["retrain"] is True
    gates = lena.get(f"/projects/{project}/models/churn").json()["gates"]
    assert gates["thresholds"] == [{"metric": "accuracy", "op": ">=", "value": 0.93}]
    actions, offset = set(), 0
    while True:
        page = lena.get(f"/projects/{project}/audit", params={"limit": 100, "offset": offset}).json()
        actions |= {a["action"] for a in page["items"]}
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            break
    assert {"ship.started", "ship.succeeded", "pipeline.promoted", "pipeline.run", "model.gate", "apikey.create",
            "monitor.set"} <= actions

    # sam ships the changed notebook (a better model): the plan keeps the gates lena's Ship set, and the
    # deployment switches
    sam = backend.client("sam")
    changed = _nb(_cells(0.5))
    planned = sam.post(f"/projects/{project}/ship/plan", json={"path": PATH, "notebook": changed}).json()
    p = planned["plan"]
    assert p["gates"]["source"] == "model" and p["deployment"] == {**p["deployment"], "name": "churn-api",
                                                                    "exists": True}
    looser = json.loads(json.dumps(p))
    looser["gates"]["thresholds"][0]["value"] = 0.1
    refused = sam.post(f"/projects/{project}/ship", json={"path": PATH, "notebook": changed, "plan": looser})
    assert refused.status_code == 403 and "only a lead changes them" in refused.json()["error"]["message"]

    # a changed notebook whose model is worse than the champion (C=0.003: accuracy 0.947, over the threshold)
    # stops at the challenger gate, which names both figures; the champion keeps the traffic
    worse = _nb(_cells(0.003))
    wp = sam.post(f"/projects/{project}/ship/plan", json={"path": PATH, "notebook": worse}).json()["plan"]
    assert wp["gates"]["challenger"] == {"metric": "accuracy", "margin": 0.0, "greater_is_better": True}
    started = sam.post(f"/projects/{project}/ship", json={"path": PATH, "notebook": worse, "plan": wp})
    assert started.status_code == 202, started.text
    stopped = _wait(sam, started.json()["id"], lambda s: s["status"] in ("failed", "succeeded", "interrupted"))
    assert stopped["status"] == "failed" and stopped["failed_step"] == "gates", stopped
    assert "accuracy: 0.946667 vs champion v1 0.983333" in stopped["message"], stopped["message"]
    assert "the champion stays" in stopped["message"]
    assert lena.get(f"/projects/{project}/deployments/churn-api").json()["version"] == 1

    # lena asks for a lead's approval on churn; sam's next plan says so, and his Ship waits for it
    assert lena.put(f"/projects/{project}/models/churn/gates", json={**gates, "require_approval": True}
                    ).status_code == 200
    p = sam.post(f"/projects/{project}/ship/plan", json={"path": PATH, "notebook": changed}).json()["plan"]
    assert p["gates"]["require_approval"] is True
    started = sam.post(f"/projects/{project}/ship", json={"path": PATH, "notebook": changed, "plan": p})
    assert started.status_code == 202, started.text
    ship_id = started.json()["id"]
    waiting = _wait(sam, ship_id, lambda s: s["status"] in ("waiting", "failed", "succeeded"))
    assert waiting["status"] == "waiting", waiting
    approval = {s["name"]: s for s in waiting["steps"]}["approval"]
    assert approval["status"] == "waiting" and "waiting for a lead" in approval["message"]
    assert lena.get(f"/projects/{project}/deployments/churn-api").json()["version"] == 1, "no traffic before approval"
    # issue 16 item 2: a worker of v2 loads as soon as it passed the gates, before the lead approves; the switch
    # adopts it (the deployment's worker is that very process)
    warm = {}
    for _ in range(180):
        warm = _workers(backend, "churn", 3)
        if warm and all(sock.exists() for sock in warm.values()):
            break
        time.sleep(1)
    assert len(warm) == 1 and all(sock.exists() for sock in warm.values()), \
        "no worker of v3 loaded while the Ship waited for approval"
    assert "warming a worker of churn v3" in {s["name"]: s for s in waiting["steps"]}["deploy"]["progress"][0]
    pending = lena.get(f"/projects/{project}/gate-decisions", params={"status": "pending"}).json()["items"]
    assert [d["id"] for d in pending] == [approval["links"]["decision"]]
    assert sam.post(f"/projects/{project}/gate-decisions/{pending[0]['id']}/approve",
                    json={"reason": "mine"}).status_code == 403
    ok = lena.post(f"/projects/{project}/gate-decisions/{pending[0]['id']}/approve", json={"reason": "looks right"})
    assert ok.status_code == 200, ok.text
    done = _wait(sam, ship_id, lambda s: s["status"] in ("failed", "succeeded", "interrupted"))
    assert done["status"] == "succeeded", done
    steps = {s["name"]: s for s in done["steps"]}
    assert steps["approval"]["message"] == "approved by lena: looks right"
    assert steps["register"]["links"]["version"] == 3 and steps["deploy"]["message"].startswith("switched")
    assert any(line.startswith("ok   accuracy: 1 vs champion v1 0.983333") for line in steps["gates"]["progress"])
    d = lena.get(f"/projects/{project}/deployments/churn-api").json()
    assert (d["version"], d["previous_version"]) == (3, 1)
    assert {w["pid"] for w in d["workers"]} == set(warm), (d["workers"], warm)
    # a scientist may not create keys: the end says so, and the requests read the key from the environment
    assert done["endpoint"]["api_key"] is None and "lead" in done["endpoint"]["key_message"]
    answer = httpx.post(url, json=done["endpoint"]["body"], headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert answer.status_code == 200, answer.text


def test_ship_stops_with_the_failing_stage(backend, project, customers, tmp_path):
    nb = _write(tmp_path / "work" / "acme", "broken.ipynb",
                _cells(1.0, [("raise RuntimeError('the holdout file is missing')", ["stage:report",
                                                                                    "depends:train"])]))
    failed = _mlp(backend, "sam", "ship", str(nb), "--yes", "--poll", "0.5")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "mlp: ship failed at run: Stopped at run: stage 'report' failed" in failed.stderr, failed.stderr
    assert "the holdout file is missing" in failed.stderr and "stage:report" in failed.stderr
    assert "run       failed" in failed.stdout and "deploy    skipped" in failed.stdout
    sam = backend.client("sam")
    s = sam.get(f"/projects/{project}/ship").json()["items"][0]
    assert s["status"] == "failed" and s["failed_step"] == "run"
    assert sam.get(f"/projects/{project}/deployments").json()["total"] == 0


def test_ship_stops_at_a_gate_the_model_fails(backend, project, customers, tmp_path):
    """The notebook's validated run claimed more than the pipeline's model reaches: the threshold (validated value
    minus the tolerance) fails, `mlp ship` exits 1 with the gate's numbers, and nothing is deployed."""
    import mlflow

    with mlflow.start_run(tags={"mlp.notebook.path": "acme/strict.ipynb"}):
        mlflow.log_metric("accuracy", 1.5)
    nb = _write(tmp_path / "work" / "acme", "strict.ipynb", _cells(1.0))
    failed = _mlp(backend, "sam", "ship", str(nb), "--yes", "--poll", "0.5")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "gates       accuracy >= 1.48; beats the champion on accuracy (proposed)" in failed.stdout
    assert "mlp: ship failed at gates: Stopped at gates: strict v1 failed the gates" in failed.stderr, failed.stderr
    assert "accuracy" in failed.stderr and "the champion stays" in failed.stderr
    assert "deploy    skipped" in failed.stdout
    sam = backend.client("sam")
    assert sam.get(f"/projects/{project}/deployments").json()["total"] == 0
    assert sam.get(f"/projects/{project}/models/strict").json()["aliases"] == {}
