"""Schedules are Dagster schedules ticked by a real `dagster-daemon`; each tick's run is prepared by the backend
(as the schedule's creator, audited, MLflow parent run) and launched by Dagster."""

from __future__ import annotations

import time

import httpx

from jupyter_mlp.identity import mint_token, read_secret
from tests.helpers import notebook as _nb
from tests.helpers import wait_run as _wait


def _promote(sam, project):
    nb = _nb([("import mlflow", ["imports"]), ("n = 1", ["parameters"]),
              ("mlflow.log_metric('n', n)", ["stage:log"])])
    r = sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "tick.ipynb", "name": "ticker"})
    assert r.status_code == 201, r.text
    return r.json()["version"]


def test_bad_schedules_are_refused_by_name(backend, project):
    sam = backend.client("sam")
    _promote(sam, project)
    url = f"/projects/{project}/pipelines/ticker/schedules"
    for body, field in [({"cron": "61 * * * *"}, "cron"), ({"cron": "* * * *  "}, "cron"),
                        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "timezone"),
                        ({"cron": "0 3 * * *", "parameters": {"n": "seven"}}, "parameters.n"),
                        ({"cron": "0 3 * * *", "parameters": {"m": 1}}, "parameters.m")]:
        r = sam.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["detail"][0]["field"] == field, r.text
    assert backend.client("vic").post(url, json={"cron": "0 3 * * *"}).status_code == 403
    assert sam.get(f"/projects/globex/pipelines/ticker/schedules").status_code == 404
    assert sam.get(url).json() == {"items": [], "total": 0}


def test_a_schedule_ticks_and_its_run_is_recorded_like_any_other(backend, project):
    sam = backend.client("sam")
    version = _promote(sam, project)
    r = sam.post(f"/projects/{project}/pipelines/ticker/schedules",
                 json={"cron": "* * * * *", "parameters": {"n": 7}})
    assert r.status_code == 201, r.text
    sched = r.json()
    assert sched["version"] == version and sched["parameters"] == {"n": 7} and len(sched["next_ticks"]) == 3

    # The tick route opens only to the scheduler's token for this very schedule.
    tick = f"{backend.url}/api/pipeline-schedules/{sched['id']}/ticks"
    body = {"scheduled_time": "2026-01-01T00:00:00+00:00"}
    user_token = mint_token(read_secret(backend.settings.secret_path), "sam", 60)
    other = mint_token(read_secret(backend.settings.secret_path), "dagster-scheduler", 60, scope="schedule", sch=str(sched["id"] + 1))
    for token in (user_token, other):
        assert httpx.post(tick, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert httpx.post(tick, json=body).status_code == 401

    deadline = time.monotonic() + 200  # the next minute boundary, plus the daemon's loop
    found = None
    while time.monotonic() < deadline and found is None:
        runs = sam.get(f"/projects/{project}/pipelines/ticker/runs").json()["items"]
        found = next((x for x in runs if x["schedule_id"] == sched["id"]), None)
        time.sleep(0.5)
    assert found, "the schedule did not tick within 200 s"
    run = _wait(sam, project, found["run_id"])
    assert run["status"] == "SUCCESS", run
    assert run["parameters"] == {"n": 7} and run["created_by"] == "sam"
    child = sam.get(f"/projects/{project}/runs", params={
        "filter": f"tags.mlflow.parentRunId = '{run['mlflow_run_id']}'"}).json()["items"][0]
    assert child["metrics"]["n"] == 7.0
    audit = backend.client("lena").get(f"/projects/{project}/audit", params={"limit": 200}).json()["items"]
    assert any(e["action"] == "pipeline.scheduled_run" and e["actor"] == "sam" for e in audit)
    # this run, or a later tick's: the cron is every minute, and at high load a run can outlast it
    last = sam.get(f"/projects/{project}/pipelines/ticker/schedules").json()["items"][0]["last_run"]
    ticked = [x["run_id"] for x in sam.get(f"/projects/{project}/pipelines/ticker/runs").json()["items"]
              if x["schedule_id"] == sched["id"]]
    assert last == run["run_id"] or (last in ticked and run["run_id"] in ticked), (last, ticked)

    assert sam.delete(f"/projects/{project}/pipeline-schedules/{sched['id']}").status_code == 204
    assert sam.get(f"/projects/{project}/pipelines/ticker/schedules").json()["total"] == 0
    assert sam.delete(f"/projects/{project}/pipeline-schedules/{sched['id']}").status_code == 404
