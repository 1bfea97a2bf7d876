"""The Experiments panel refreshes on the project's runs feed: a pipeline run's end must be on that feed, or the
panel shows its parent run RUNNING until the page is reloaded."""

from __future__ import annotations

import threading
import time

import httpx

from tests.helpers import notebook as _nb
from tests.helpers import wait_run as _wait

CELLS = [
    ("alpha = 0.5", ["parameters"]),
    ("data = [alpha] * 3", ["stage:prep"]),
    ("import mlflow\nmlflow.log_metric('score', sum(data))", ["stage:train"]),
]


def test_the_runs_feed_carries_a_pipeline_runs_end(backend, project):
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/pipelines", json={"notebook": _nb(CELLS), "path": "acme/t.ipynb",
                                                            "name": "train"}).status_code == 201
    parent: dict[str, str] = {}
    seen: list[str] = []  # the parent's status as the panel reads it after each event of the feed
    feed = httpx.Client(base_url=f"{backend.url}/api", headers=sam.headers, timeout=httpx.Timeout(5, read=30))

    def listen() -> None:
        try:
            with feed.stream("GET", f"/projects/{project}/runs/events") as r:
                for line in r.iter_lines():
                    if line.startswith("event: runs") and parent.get("id"):
                        seen.append(sam.get(f"/projects/{project}/runs/{parent['id']}").json()["status"])
        except (httpx.HTTPError, RuntimeError):
            return  # closed by the test

    threading.Thread(target=listen, daemon=True).start()
    r = sam.post(f"/projects/{project}/pipelines/train/runs", json={})
    assert r.status_code == 201, r.text
    parent["id"] = r.json()["mlflow_run_id"]
    run = _wait(sam, project, r.json()["run_id"])
    assert run["status"] == "SUCCESS", run
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not seen or seen[-1] != "FINISHED"):
        time.sleep(0.2)
    feed.close()
    assert seen and seen[-1] == "FINISHED", seen
