"""Work that outlives a user's server (issue 15 item 3): schedules, pipeline runs, monitors and batch scoring jobs
live in the shared backend and its Dagster, not in the single-user server, so stopping (or culling) alice's server
never stops them — jupyter-scheduler's users lose jobs this way (its issues #352, #563).

Through the hub, from her own server (the server extension's proxy path), alice deploys a model, watches it with a
monitor, starts a batch scoring job, promotes a notebook and schedules it every minute; the hub stops her server
(DELETE /hub/api/users/alice/server) while the batch job is still scoring and before the next tick. The job
finishes, the monitors' sensor still evaluates her monitor (a window of the predictions served after the stop), the
daemon still ticks her schedule and the run finishes; she sees it all when her server comes back.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.helpers import notebook, serve_frame
from tests.hub.conftest import Hub, start_server, wait_ready


def _wait_stopped(client: httpx.Client, name: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        r = client.get(f"/hub/api/users/{name}")
        assert r.status_code == 200, r.text
        if not r.json().get("servers"):
            return
        assert time.monotonic() < deadline, f"{name}'s server did not stop: {r.text}"
        time.sleep(0.5)


# A model that takes its time (0.4 s a call): a batch job of 60 chunks is still scoring when the hub stops the server
SLOW_MODEL = """
import time

import mlflow.pyfunc
from mlflow.models import set_model


class Slow(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        time.sleep(0.4)
        return (model_input["x"] > 0).astype(int).to_numpy()


set_model(Slow())
"""


def _log_slow_model(hub: Hub, token: str, folder: Path, use_mlflow) -> str:
    """alice logs the model with plain `mlflow` on the platform's gateway through the hub, as a kernel would."""
    import mlflow
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.models import infer_signature

    with hub.mlp(token) as api:
        r = api.post("/api/projects/w/kernel-token")
        assert r.status_code == 200, r.text
        creds = r.json()
    use_mlflow({"MLFLOW_TRACKING_URI": f"{hub.url}/services/mlp{creds['tracking_path']}",
                "MLFLOW_TRACKING_TOKEN": creds["token"], "MLFLOW_EXPERIMENT_ID": creds["experiment_id"]})
    code = folder / "slow_model.py"
    code.write_text(SLOW_MODEL)
    x = pd.DataFrame({"x": [-1.0, 0.5]})
    with mlflow.start_run() as run:
        mlflow.pyfunc.log_model(name="model", python_model=str(code), pip_requirements=["pandas"],
                                signature=infer_signature(x, [0, 1]))
    return run.info.run_id


def _wait_for(what: str, check, seconds: float):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(1)
    return value


def test_a_schedule_keeps_ticking_after_its_owner_server_stops(hub: Hub, tmp_path, use_mlflow):
    lead, alice = hub.login("lead"), hub.login("alice")
    lead_token, alice_token = hub.token(lead, "lead"), hub.token(alice, "alice")
    with hub.mlp(lead_token) as api:
        assert api.post("/api/projects", json={"slug": "w", "name": "Outlives"}).status_code == 201
        assert api.put("/api/projects/w/members/alice", json={"role": "scientist"}).status_code == 200
    run_id = _log_slow_model(hub, alice_token, tmp_path, use_mlflow)

    # alice works from her single-user server: its server extension forwards her calls to the shared backend.
    start_server(hub, alice, "alice")
    with httpx.Client(base_url=f"{hub.url}/user/alice/mlp/api", timeout=60,
                      headers={"Authorization": f"token {alice_token}"}) as mine:
        # her model, validated (no gates: staging passes), deployed on a worker of the backend's, and watched
        assert mine.post("/projects/w/models", json={"name": "slow", "run_id": run_id}).status_code == 201
        r = mine.post("/projects/w/models/slow/versions/1/promote", json={"alias": "staging"})
        assert r.status_code == 201 and r.json()["status"] == "passed", r.text
        r = mine.post("/projects/w/deployments", json={"name": "slow-api", "model": "slow", "version": 1},
                      timeout=180)  # it copies and verifies the model: slow on a loaded machine
        assert r.status_code == 201, r.text
        _wait_for("slow-api ready", lambda: (d := mine.get("/projects/w/deployments/slow-api").json())[
            "status"] == "ready" or (d["status"] == "failed" and pytest.fail(str(d))), 180)
        r = mine.put("/projects/w/deployments/slow-api/monitor", json={"window_size": 50}, timeout=180)
        assert r.status_code == 200 and r.json()["enabled"], r.text
    with hub.mlp(lead_token) as api:  # a client's key to the deployment (keys are the lead's to make)
        r = api.post("/api/projects/w/api-keys", json={"name": "crm"})
        assert r.status_code == 201, r.text
        key = r.json()["key"]
    nb = notebook([("import mlflow", ["imports"]), ("n = 1", ["parameters"]),
                   ("mlflow.log_metric('n', n)", ["stage:log"])])
    with httpx.Client(base_url=f"{hub.url}/user/alice/mlp/api", timeout=60,
                      headers={"Authorization": f"token {alice_token}"}) as mine:
        r = mine.post("/projects/w/pipelines", json={"notebook": nb, "path": "tick.ipynb", "name": "ticker"})
        assert r.status_code == 201, r.text
        if (second := datetime.now().second) > 45:  # the first tick must come after the stop below: not this minute
            time.sleep(61 - second)
        r = mine.post("/projects/w/pipelines/ticker/schedules", json={"cron": "* * * * *", "parameters": {"n": 7}})
        assert r.status_code == 201, r.text
        sched = r.json()
        # a batch scoring job of 600 rows in 60 chunks (0.4 s each): it is still scoring when her server stops
        csv = "x\n" + "\n".join(str((i % 7) - 3.0) for i in range(600)) + "\n"
        r = mine.post("/projects/w/deployments/slow-api/batch/upload", params={"format": "csv", "chunk_rows": 10},
                      content=csv.encode(), headers={"content-type": "application/octet-stream"})
        assert r.status_code == 202, r.text
        job = r.json()

    # The hub stops alice's server (what an idle culler does); nothing of hers runs any more.
    r = alice.delete("/hub/api/users/alice/server")
    assert r.status_code in (202, 204), r.text
    _wait_stopped(alice, "alice")
    stopped_at = datetime.now().astimezone()
    assert httpx.get(f"{hub.url}/user/alice/mlp/api/whoami", timeout=10,
                     headers={"Authorization": f"token {alice_token}"}).status_code != 200

    # Her deployment answers a client after the stop (its key is the lead's): 50 predictions, one monitor window.
    serve_frame(f"{hub.url}/services/mlp/serve/w/slow-api", key, pd.DataFrame({"x": [0.5, -0.5] * 25}))

    with hub.mlp(alice_token) as api:
        # The batch job was still scoring when her server went, and finishes in the backend's workers, as alice.
        r = api.get(f"/api/projects/w/batch-jobs/{job['id']}")
        assert r.status_code == 200 and r.json()["status"] in ("queued", "running"), r.text
        job = _wait_for("the batch job finished", lambda: (
            j := api.get(f"/api/projects/w/batch-jobs/{job['id']}").json())["status"] in (
            "succeeded", "failed") and j, 180)
        assert (job["status"], job["rows"], job["chunks_done"], job["created_by"]) == (
            "succeeded", 600, 60, "alice"), job
        assert datetime.fromisoformat(job["finished_at"]) > stopped_at, (job, stopped_at)

        # The shared backend's Dagster daemon still ticks her schedule and the run finishes, as alice; its
        # monitors' sensor evaluates her monitor without her (nobody asks it to): a window of those predictions.
        deadline = time.monotonic() + 150  # the next minute boundary, plus the daemon's start and loop
        found = window = None
        while found is None or window is None:
            runs = api.get("/api/projects/w/pipelines/ticker/runs").json()["items"]
            found = next((x for x in runs if x["schedule_id"] == sched["id"]), None)
            window = next(iter(api.get("/api/projects/w/deployments/slow-api/monitor/windows").json()["items"]),
                          None)
            assert (found and window) or time.monotonic() < deadline, (
                f"tick {found}, window {window} within 150 s: {hub.log.read_text()[-3000:]}")
            time.sleep(2)
        assert datetime.fromisoformat(found["created_at"]) > stopped_at, (found, stopped_at)
        assert window["rows"] == 50 and datetime.fromisoformat(window["start"]) > stopped_at, (window, stopped_at)
        mon = api.get("/api/projects/w/deployments/slow-api/monitor").json()
        assert datetime.fromisoformat(mon["evaluated_at"]) > stopped_at and mon["created_by"] == "alice", mon
        while (run := api.get(f"/api/projects/w/pipeline-runs/{found['run_id']}").json())["status"] not in (
                "SUCCESS", "FAILURE", "CANCELED"):
            assert time.monotonic() < deadline + 120, run
            time.sleep(1)
        assert run["status"] == "SUCCESS" and run["created_by"] == "alice" and run["parameters"] == {"n": 7}, run

    # alice comes back: her new server shows the run that happened while she was away.
    start_server(hub, alice, "alice")
    with httpx.Client(base_url=f"{hub.url}/user/alice/mlp/api", timeout=60,
                      headers={"Authorization": f"token {alice_token}"}) as mine:
        runs = mine.get("/projects/w/pipelines/ticker/runs").json()["items"]
        assert [x["status"] for x in runs if x["run_id"] == found["run_id"]] == ["SUCCESS"], runs
        # The schedule's last run is one its ticks made after the stop: the one found above, or a later minute's
        # tick when the machine is slow (a later tick replaces last_run; it must still be one of its own runs).
        last = mine.get("/projects/w/pipelines/ticker/schedules").json()["items"][0]["last_run"]
        ticked = {x["run_id"]: x for x in mine.get("/projects/w/pipelines/ticker/runs").json()["items"]
                  if x["schedule_id"] == sched["id"]}
        assert last in ticked and datetime.fromisoformat(ticked[last]["created_at"]) > stopped_at, (last, ticked)
        assert mine.delete(f"/projects/w/pipeline-schedules/{sched['id']}").status_code == 204
        assert mine.get(f"/projects/w/batch-jobs/{job['id']}").json()["status"] == "succeeded"
        assert mine.get("/projects/w/deployments/slow-api/monitor/windows").json()["total"] >= 1
