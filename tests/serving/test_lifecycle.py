"""Switching versions loses no request; rollback is one call; a killed worker fails only what it held and is
replaced; rate limits answer 429 with Retry-After."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pandas as pd
import psutil

GOOD = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -1.0], [-2.0, 0.1]]}}


class Load:
    """Clients in threads firing requests back to back; every answer kept with the time it arrived."""

    def __init__(self, url: str, key: str, clients: int = 4):
        self.url, self.key, self.clients = url, key, clients
        self.answers: list[tuple[float, int, object, str | None]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60) as c:
            while not self.stop.is_set():
                try:
                    r = c.post("/invocations", json=GOOD)
                    body = r.json()
                    self.answers.append((time.monotonic(), r.status_code, body.get("predictions"),
                                         r.headers.get("retry-after")))
                except httpx.HTTPError as e:  # a dropped connection would be an error too
                    self.answers.append((time.monotonic(), -1, str(e), None))

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)


def test_switch_loses_no_request_and_rollback_is_one_call(backend, project, deployed, publish, xy):
    from sklearn.dummy import DummyClassifier

    ep, model = deployed
    x, y = xy
    sam = backend.client("sam")
    publish(DummyClassifier(strategy="constant", constant=1).fit(x, y), x, project)  # churn v2: always 1
    v1_rows = model.predict(pd.DataFrame(GOOD["dataframe_split"]["data"], columns=["x1", "x2"])).tolist()
    assert v1_rows != [1, 1]
    old_pid = sam.get(f"/projects/{project}/deployments/churn-api").json()["workers"][0]["pid"]
    with Load(ep.base, ep.key) as load:
        time.sleep(1.0)
        r = sam.put(f"/projects/{project}/deployments/churn-api/version", json={"version": 2})
        switched = time.monotonic()
        assert r.status_code == 200, r.text
        time.sleep(1.0)
    statuses = [a[1] for a in load.answers]
    assert len(statuses) > 50 and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    assert [a[2] for a in load.answers if a[0] > switched + 0.2] and all(
        a[2] == [1, 1] for a in load.answers if a[0] > switched + 0.2)  # only v2 answers after the switch
    assert any(a[2] == v1_rows for a in load.answers)  # and v1 answered before it
    d = r.json()
    assert (d["version"], d["previous_version"]) == (2, 1)
    for _ in range(100):  # the old worker drained and stopped
        if not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the old version's worker is still running")

    back = sam.post(f"/projects/{project}/deployments/churn-api/rollback")
    assert back.status_code == 200 and (back.json()["version"], back.json()["previous_version"]) == (1, 2)
    assert ep.client().post("/invocations", json=GOOD).json()["predictions"] == v1_rows
    actions = [e["action"] for e in sam.get(f"/projects/{project}/deployments/churn-api/events").json()["items"]]
    assert actions[:3] == ["rollback", "switch", "deploy"]
    audit = backend.client("lena").get(f"/projects/{project}/audit").json()["items"]
    assert {"deployment.deploy", "deployment.switch", "deployment.rollback"} <= {e["action"] for e in audit}


def test_a_killed_worker_fails_only_what_it_held_and_is_replaced(backend, project, deployed, publish, xy):
    from sklearn.dummy import DummyClassifier

    ep, _ = deployed
    x, y = xy
    sam = backend.client("sam")
    publish(DummyClassifier(strategy="most_frequent").fit(x, y), x, project, name="baseline")
    assert sam.post(f"/projects/{project}/deployments", json={
        "name": "baseline-api", "model": "baseline", "alias": "staging"}).status_code == 201
    victim = sam.get(f"/projects/{project}/deployments/churn-api").json()["workers"][0]["pid"]
    clients = 4
    with Load(ep.base, ep.key, clients) as hit, Load(f"{backend.url}/serve/{project}/baseline-api", ep.key, 2) as other:
        time.sleep(1.0)
        os.kill(victim, signal.SIGKILL)
        for _ in range(300):  # replaced
            workers = sam.get(f"/projects/{project}/deployments/churn-api").json()["workers"]
            if workers and workers[0]["pid"] != victim:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the worker was not replaced")
        time.sleep(1.0)
    failed = [a for a in hit.answers if a[1] != 200]
    assert len(failed) <= clients, failed  # at most one request in flight per client when it died
    assert all(a[1] == 503 and a[3] == "1" for a in failed), failed
    assert sum(1 for a in hit.answers if a[1] == 200 and a[0] > hit.answers[-1][0] - 0.5) > 0  # serving again
    assert {a[1] for a in other.answers} == {200}  # the other deployment did not notice
    events = sam.get(f"/projects/{project}/deployments/churn-api/events").json()["items"]
    assert events[0]["action"] == "restart" and events[0]["detail"]["exit_code"] == -signal.SIGKILL


def test_rate_limits_answer_429_with_retry_after(backend, project, deployed):
    ep, _ = deployed
    slow = backend.client("lena").post(f"/projects/{project}/api-keys", json={"name": "slow", "rate_per_s": 5}).json()
    c = ep.client(slow["key"])
    answers = [c.post("/invocations", json=GOOD) for _ in range(20)]
    codes = [r.status_code for r in answers]
    assert codes[:5] == [200] * 5 and codes.count(429) >= 10, codes
    limited = next(r for r in answers if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and "Too many requests" in limited.json()["error"]["message"]
    assert ep.client().post("/invocations", json=GOOD).status_code == 200  # other keys are not held back
    time.sleep(1.0)
    assert c.post("/invocations", json=GOOD).status_code == 200  # and the slow key recovers


def test_workers_scale_up_on_an_sla_breach_and_down_when_idle(backend, project, deployed, monkeypatch):
    from jupyter_mlp_backend.serving import manager

    monkeypatch.setattr(manager, "WINDOW_S", 1.0)  # the backend runs in this process: short windows for the test
    ep, _ = deployed
    sam = backend.client("sam")
    assert sam.patch(f"/projects/{project}/deployments/churn-api", json={"max_workers": 2, "sla_ms": 0.01}
                     ).status_code == 200  # any real latency breaches 10 microseconds
    with Load(ep.base, ep.key, 2):
        for _ in range(150):
            if len(sam.get(f"/projects/{project}/deployments/churn-api").json()["workers"]) == 2:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no second worker while p95 breached the SLA")
    for _ in range(200):  # idle: back to the minimum
        if len(sam.get(f"/projects/{project}/deployments/churn-api").json()["workers"]) == 1:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the extra worker stayed while idle")
    time.sleep(3.0)  # and it stays down: the last busy window does not count once traffic stopped
    assert len(sam.get(f"/projects/{project}/deployments/churn-api").json()["workers"]) == 1
    scale = [e["detail"] for e in sam.get(f"/projects/{project}/deployments/churn-api/events").json()["items"]
             if e["action"] == "scale"]
    assert scale[-1]["to"] == 2 and scale[-1]["p95_ms"] > 0.01 and scale[0] == {"from": 2, "to": 1,
                                                                                   "reason": "idle"}


def test_a_refused_version_backs_off_gives_up_and_the_last_good_one_serves(backend, project, deployed, publish, xy,
                                                                            monkeypatch):
    from sklearn.dummy import DummyClassifier

    from jupyter_mlp_backend.serving import manager

    monkeypatch.setattr(manager, "RESTART_BACKOFF_S", 0.4)  # 0.4 s, then 0.8 s, then give up: a short test
    monkeypatch.setattr(manager, "RESTART_TRIES", 3)
    ep, model = deployed
    x, y = xy
    sam = backend.client("sam")
    publish(DummyClassifier(strategy="constant", constant=1).fit(x, y), x, project)  # churn v2: always 1
    assert sam.put(f"/projects/{project}/deployments/churn-api/version", json={"version": 2}).status_code == 200
    v1_rows = model.predict(pd.DataFrame(GOOD["dataframe_split"]["data"], columns=["x1", "x2"])).tolist()
    assert ep.client().post("/invocations", json=GOOD).json()["predictions"] == [1, 1]
    # v2's files change on disk after it started: a new worker refuses them at verification
    folder = backend.settings.home / "serving" / project / "churn-api" / "v2" / "model"
    with open(folder / "MLmodel", "a") as f:
        f.write("# changed after signing\n")
    victim = sam.get(f"/projects/{project}/deployments/churn-api").json()["workers"][0]["pid"]
    os.kill(victim, signal.SIGKILL)
    started = time.monotonic()
    for _ in range(300):
        d = sam.get(f"/projects/{project}/deployments/churn-api").json()
        if d["status"] == "failed":
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the deployment was not marked failed: {d}")
    took = time.monotonic() - started
    assert took > 1.0, took  # it backed off (0.4 s + 0.8 s) rather than restarting every half second
    assert "could not be restarted (3 tries)" in d["message"] and "refused" in d["message"], d["message"]
    assert "Version 1, which served before it, serves again" in d["message"]
    assert d["version"] == 1 and d["previous_version"] == 2 and len(d["workers"]) == 1
    assert ep.client().post("/invocations", json=GOOD).json()["predictions"] == v1_rows  # the last good version
    time.sleep(2.0)  # and it stopped trying
    events = sam.get(f"/projects/{project}/deployments/churn-api/events").json()["items"]
    failed = [e["detail"] for e in events if e["action"] == "failed"]
    assert len(failed) == 3 and failed[0]["gave_up"] and failed[0]["fallback_version"] == 1, failed
    assert [f["attempt"] for f in failed[1:]] == [2, 1] and failed[2]["retry_in_s"] == 0.4
