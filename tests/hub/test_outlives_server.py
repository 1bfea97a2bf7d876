"""Work that outlives a user's server (issue 15 item 3): schedules and pipeline runs live in the shared backend and
its Dagster, not in the single-user server, so stopping (or culling) alice's server never stops them —
jupyter-scheduler's users lose jobs this way (its issues #352, #563).

Through the hub, alice promotes a notebook and schedules it every minute from her own server (the server
extension's proxy path); the hub stops her server (DELETE /hub/api/users/alice/server) before the next tick; the
daemon still ticks, the run still finishes, and she sees it when her server comes back.
"""

from __future__ import annotations

import time
from datetime import datetime

import httpx

from tests.helpers import notebook
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


def test_a_schedule_keeps_ticking_after_its_owner_server_stops(hub: Hub):
    lead, alice = hub.login("lead"), hub.login("alice")
    lead_token, alice_token = hub.token(lead, "lead"), hub.token(alice, "alice")
    with hub.mlp(lead_token) as api:
        assert api.post("/api/projects", json={"slug": "w", "name": "Outlives"}).status_code == 201
        assert api.put("/api/projects/w/members/alice", json={"role": "scientist"}).status_code == 200

    # alice works from her single-user server: its server extension forwards her calls to the shared backend.
    start_server(hub, alice, "alice")
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

    # The hub stops alice's server (what an idle culler does); nothing of hers runs any more.
    r = alice.delete("/hub/api/users/alice/server")
    assert r.status_code in (202, 204), r.text
    _wait_stopped(alice, "alice")
    stopped_at = datetime.now().astimezone()
    assert httpx.get(f"{hub.url}/user/alice/mlp/api/whoami", timeout=10,
                     headers={"Authorization": f"token {alice_token}"}).status_code != 200

    # The shared backend's Dagster daemon still ticks her schedule and the run finishes, as alice.
    with hub.mlp(alice_token) as api:
        deadline = time.monotonic() + 150  # the next minute boundary, plus the daemon's start and loop
        found = None
        while found is None:
            runs = api.get("/api/projects/w/pipelines/ticker/runs").json()["items"]
            found = next((x for x in runs if x["schedule_id"] == sched["id"]), None)
            assert found or time.monotonic() < deadline, f"no tick within 150 s: {hub.log.read_text()[-3000:]}"
            time.sleep(2)
        assert datetime.fromisoformat(found["created_at"]) > stopped_at, (found, stopped_at)
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
        assert mine.get("/projects/w/pipelines/ticker/schedules").json()["items"][0]["last_run"] == found["run_id"]
        assert mine.delete(f"/projects/w/pipeline-schedules/{sched['id']}").status_code == 204
