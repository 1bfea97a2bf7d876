"""Monitors end to end on real serving: reference profile at validation, windows of the prediction log, drift
alerts firing and resolving (once each), webhooks to a local receiver, performance on late labels, access."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest
from monitoring_data import training_frame

WINDOW = 200
# No sensor: these tests evaluate on demand and check what each evaluation found (the sensor would race them).
pytestmark = pytest.mark.settings(monitor_interval_seconds=0)


def _wait_profile(client, project: str) -> dict:
    """Validation builds the version's reference in the background; the monitor's PUT waits for nothing else."""
    deadline = time.time() + 60
    while time.time() < deadline:
        r = client.get(f"/projects/{project}/models/risk/versions/1")
        assert r.status_code == 200
        time.sleep(0.2)
        m = client.put(f"/projects/{project}/deployments/risk-api/monitor", json={"window_size": WINDOW})
        if m.status_code == 200 and m.json()["profile"] and m.json()["profile"]["status"] == "ready":
            return m.json()
    raise AssertionError(f"no reference profile: {m.status_code} {m.text[:2000]}")


@pytest.mark.settings(webhook_allow_hosts=["127.0.0.1"])  # the admin allowed the local receiver, nothing else
def test_drift_fires_once_resolves_and_reaches_webhooks(backend, monitored, receiver):
    p, sam, lena = monitored.project, backend.client("sam"), backend.client("lena")
    for url, words in [("http://127.0.0.2:9/x", "loopback"), ("http://10.1.2.3/x", "private"),
                       ("http://169.254.169.254/latest", "metadata"), ("http://[::1]:8080/x", "loopback")]:
        r = lena.post(f"/projects/{p}/webhooks", json={"name": "bad", "kind": "generic", "url": url})
        assert r.status_code == 422 and words in r.json()["error"]["message"], (url, r.text)
    for body in ({"name": "ops", "kind": "generic", "url": f"{receiver.url}/hook", "secret": "s3cret"},
                 {"name": "chat", "kind": "slack", "url": f"{receiver.url}/slack"},
                 {"name": "tickets", "kind": "jira", "url": f"{receiver.url}/jira", "secret": "bot:tok",
                  "jira_project": "OPS"}):
        r = lena.post(f"/projects/{p}/webhooks", json=body)
        assert r.status_code == 201, r.text
        assert "secret" not in r.json() and r.json()["secret_set"] == ("secret" in body)
    assert sam.post(f"/projects/{p}/webhooks", json={"name": "x", "kind": "slack",
                                                     "url": f"{receiver.url}/x"}).status_code == 403

    mon = _wait_profile(sam, p)
    prof = mon["profile"]
    assert prof["dataset"] == "train" and prof["rows"] > 0
    assert sorted(prof["thresholds"]) == ["x1", "x2", "x3"]
    assert prof["method"], "the calibration method is stored with the version"
    assert mon["baseline"]["metrics"].get("roc_auc"), mon["baseline"]  # from the gate's evaluation
    assert mon["status"] == "waiting"

    x, _ = training_frame(3 * WINDOW, seed=11)
    monitored.serve(x.iloc[:2 * WINDOW])
    ev = sam.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").json()
    assert ev["windows"] == 2 and ev["fired"] == [], ev
    windows = sam.get(f"/projects/{p}/deployments/risk-api/monitor/windows").json()
    assert windows["total"] == 2 and {w["status"] for w in windows["items"]} == {"ok"}
    assert {f["feature"] for f in windows["items"][0]["drift"]["features"]} == {"x1", "x2", "x3"}

    shifted = x.iloc[2 * WINDOW:].copy()
    shifted["x2"] = shifted["x2"] + 1.0  # one standard deviation
    monitored.serve(shifted)
    ev = sam.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").json()
    assert ev["windows"] == 1 and ev["fired"] == ["drift:x2"], ev
    newest = sam.get(f"/projects/{p}/deployments/risk-api/monitor/windows", params={"limit": 1}).json()["items"][0]
    by = {f["feature"]: f for f in newest["drift"]["features"]}
    assert newest["status"] == "drift" and by["x2"]["status"] == "drift" and by["x1"]["status"] == "ok"

    # Nothing new: nothing fires again (one alert per episode, one delivery per change of state).
    again = sam.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").json()
    assert again["fired"] == [] and again["windows"] == 0
    alerts = sam.get(f"/projects/{p}/alerts", params={"state": "firing"}).json()["items"]
    assert [a["key"] for a in alerts] == ["drift:x2"]
    mon = sam.get(f"/projects/{p}/deployments/risk-api/monitor").json()  # the panel's badge and banner read these
    assert mon["status"] == "drift" and mon["status_message"] == newest["drift"]["message"] and "x2" in mon["status_message"]
    assert mon["firing"] == 1 and mon["firing_critical"] == 0  # drift is a warning: the banner is amber
    assert {d["webhook"]: d["ok"] for d in alerts[0]["deliveries"]} == {"ops": True, "chat": True, "tickets": True}

    generic = [r for r in receiver.received if r["path"] == "/hook"]
    assert len(generic) == 1 and generic[0]["json"]["event"] == "alert.firing"
    h = {k.lower(): v for k, v in generic[0]["headers"].items()}
    mac = hmac.new(b"s3cret", f"{h['x-mlp-timestamp']}.".encode() + generic[0]["body"], hashlib.sha256).hexdigest()
    assert h["x-mlp-signature"] == f"sha256={mac}"
    slack = receiver.bodies("/slack")
    assert len(slack) == 1 and "x2" in slack[0]["text"] and slack[0]["blocks"]
    jira = receiver.bodies("/jira/rest/api/2/issue")
    assert len(jira) == 1 and jira[0]["fields"]["project"]["key"] == "OPS"

    # Back to normal: the alert resolves, once, and Jira gets a comment on the issue it opened.
    x2, _ = training_frame(WINDOW, seed=12)
    monitored.serve(x2)
    ev = sam.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").json()
    assert ev["resolved"] == ["drift:x2"] and ev["fired"] == [], ev
    assert [r["json"]["event"] for r in receiver.received if r["path"] == "/hook"] == ["alert.firing",
                                                                                        "alert.resolved"]
    assert any(r["path"].startswith("/jira/rest/api/2/issue/OPS-") and r["path"].endswith("/comment")
               for r in receiver.received)
    assert sam.get(f"/projects/{p}/alerts", params={"state": "firing"}).json()["total"] == 0

    # The Evidently report of the drifted window, sandboxed.
    rep = sam.get(f"/projects/{p}/deployments/risk-api/monitor/windows/{newest['id']}/report")
    assert rep.status_code == 200 and rep.headers["content-type"].startswith("text/html")
    assert "sandbox" in rep.headers["content-security-policy"] and len(rep.text) > 1000

    # The audit log has the chain: monitor set, alert fired, alert resolved.
    actions = [e["action"] for e in lena.get(f"/projects/{p}/audit", params={"limit": 500}).json()["items"]]
    assert {"monitor.set", "alert.fire", "alert.resolve", "webhook.create"} <= set(actions)


def test_performance_on_late_labels(backend, monitored):
    p, sam = monitored.project, backend.client("sam")
    _wait_profile(sam, p)
    x, y = training_frame(WINDOW, seed=21)
    ids = monitored.serve(x)
    ev = sam.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").json()
    assert ev["windows"] == 1
    w = sam.get(f"/projects/{p}/deployments/risk-api/monitor/windows").json()["items"][0]
    assert w["performance"]["status"] == "insufficient data" and w["labelled"] == 0  # no labels yet: said so

    # Labels arrive later, one list per request (50 rows each): the truth is the opposite of the pattern learnt.
    wrong = (1 - y).tolist()
    labels = [{"prediction_id": pid, "label": wrong[i * 50:(i + 1) * 50]} for i, pid in enumerate(ids)]
    assert monitored.label(labels).status_code == 200
    assert monitored.label([{"prediction_id": "f" * 32, "label": 1}]).status_code == 200  # unknown id: kept, unjoined
    ev = sam.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").json()
    assert "performance:roc_auc" in ev["fired"] and "performance:f1" in ev["fired"], ev
    w = sam.get(f"/projects/{p}/deployments/risk-api/monitor/windows").json()["items"][0]
    assert w["labelled"] == WINDOW and w["performance"]["status"] == "degraded"
    check = {c["metric"]: c for c in w["performance"]["checks"]}
    assert check["roc_auc"]["value"] < 0.2 < check["roc_auc"]["baseline"] and check["roc_auc"]["degraded"]
    mon = sam.get(f"/projects/{p}/deployments/risk-api/monitor").json()
    assert "1 label" in (mon["message"] or ""), mon  # the unknown prediction id is reported, not silently dropped


def test_a_good_classifier_without_drift_raises_no_performance_alert(backend, monitored_logged_baseline):
    """The baseline is the roc_auc the run logged from predict_proba; the deployment answers its probabilities
    beside the class labels, the log keeps them and the window's AUC is scored from them: like with like."""
    import httpx
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    monitored = monitored_logged_baseline
    p, sam = monitored.project, backend.client("sam")
    mon = _wait_profile(sam, p)
    assert mon["baseline"]["source"] == "the version's logged metrics", mon["baseline"]
    x, y = training_frame(WINDOW, seed=21)
    with httpx.Client(base_url=monitored.base, headers={"Authorization": f"Bearer {monitored.key}"}) as c:
        one = c.post("/invocations", json={"dataframe_split": {"columns": list(x.columns),
                                                                "data": x.iloc[:2].values.tolist()}}).json()
    served = LogisticRegression().fit(*training_frame())  # the same fit as the notebook's (deterministic)
    assert one["predictions"] == served.predict(x.iloc[:2]).tolist()  # unchanged for existing clients
    assert one["classes"] == [0, 1]
    got = [v for row in one["probabilities"] for v in row]
    assert got == pytest.approx(served.predict_proba(x.iloc[:2]).ravel().tolist(), abs=1e-9)

    ids = monitored.serve(x.iloc[2:])
    truth = y.iloc[2:].tolist()
    assert monitored.label([{"prediction_id": pid, "label": truth[i * 50:(i + 1) * 50]}
                            for i, pid in enumerate(ids)]).status_code == 200
    monitored.serve(x.iloc[:2])  # completes the window (these two rows stay unlabelled)
    ev = sam.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").json()
    assert ev["windows"] == 1 and ev["fired"] == [], ev
    w = sam.get(f"/projects/{p}/deployments/risk-api/monitor/windows").json()["items"][0]
    perf = w["performance"]
    auc = roc_auc_score(truth, served.predict_proba(x.iloc[2:])[:, 1])
    assert perf["status"] == "ok" and perf["metrics"]["roc_auc"] == pytest.approx(auc, abs=1e-9), perf
    check = {c["metric"]: c for c in perf["checks"]}["roc_auc"]
    assert not check["degraded"] and check["baseline"] == mon["baseline"]["metrics"]["roc_auc"]
    assert "ece" in perf["metrics"] and perf["unavailable"] == []
    assert sam.get(f"/projects/{p}/alerts", params={"state": "firing"}).json()["total"] == 0


def test_access_and_tick_token(backend, monitored):
    p = monitored.project
    _wait_profile(backend.client("sam"), p)
    vic = backend.client("vic")
    assert vic.get(f"/projects/{p}/deployments/risk-api/monitor").status_code == 200
    assert vic.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").status_code == 403
    assert vic.put(f"/projects/{p}/deployments/risk-api/monitor", json={}).status_code == 403
    outsider = backend.client("olga")
    assert outsider.get(f"/projects/{p}/deployments/risk-api/monitor").status_code == 404
    assert outsider.get(f"/projects/{p}/alerts").status_code == 404
    with httpx.Client(base_url=backend.url) as raw:
        assert raw.post("/api/monitoring/ticks", json={}).status_code == 401
        assert raw.get("/api/dashboard").status_code == 401
        token = backend.token("sam")
        assert raw.post("/api/monitoring/ticks", json={},
                        headers={"Authorization": f"Bearer {token}"}).status_code == 401  # a user token opens nothing


@pytest.mark.parametrize("role", ["stakeholder", "viewer"])
def test_dashboard_shows_own_projects_only(backend, monitored, role):
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "other", "name": "Other client"}).status_code == 201
    assert admin.put(f"/projects/{monitored.project}/members/stan", json={"role": role}).status_code == 200
    x, _ = training_frame(100, seed=3)
    monitored.serve(x)
    d = backend.client("stan").get("/dashboard")
    assert d.status_code == 200, d.text
    body = d.json()
    assert [pr["slug"] for pr in body["projects"]] == [monitored.project]
    (dep,) = body["projects"][0]["deployments"]
    assert dep["name"] == "risk-api" and dep["status"] == "ready" and dep["predictions_24h"] == 2
    assert 0 <= dep["sla_compliance"] <= 1 and dep["p95_ms"] > 0
    assert backend.client("stan").get(f"/projects/{monitored.project}/deployments/risk-api/monitor/evaluate"
                                      ).status_code in (403, 405)


def test_another_projects_ids_and_bad_input(backend, monitored):
    p, sam, lena = monitored.project, backend.client("sam"), backend.client("lena")
    _wait_profile(sam, p)
    x, _ = training_frame(WINDOW, seed=31)
    monitored.serve(x)
    assert sam.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").json()["windows"] == 1
    window = sam.get(f"/projects/{p}/deployments/risk-api/monitor/windows").json()["items"][0]["id"]
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    hook = backend.client("gus").post("/projects/globex/webhooks", json={
        "name": "theirs", "kind": "slack", "url": "http://93.184.216.34/hook"})
    assert hook.status_code == 201, hook.text
    gus = backend.client("gus")
    # Another project's ids look missing, both ways round.
    assert lena.delete(f"/projects/{p}/webhooks/{hook.json()['id']}").status_code == 404
    assert lena.delete(f"/projects/globex/webhooks/{hook.json()['id']}").status_code == 404
    assert gus.get(f"/projects/{p}/deployments/risk-api/monitor/windows/{window}/report").status_code == 404
    assert gus.get(f"/projects/globex/deployments/risk-api/monitor/windows/{window}/report").status_code == 404
    assert gus.get(f"/projects/{p}/deployments/risk-api/monitor/retrainings").status_code == 404
    assert [h["name"] for h in gus.get("/projects/globex/webhooks").json()["items"]] == ["theirs"]
    assert gus.get("/dashboard").json()["projects"][0]["slug"] == "globex"
    # Bad input: named, 422, nothing changed.
    for body, field in [({"window_size": 10}, "window_size"), ({"window_seconds": 5}, "window_seconds"),
                        ({"tolerance": {"accuracy": 0.1}}, "tolerance"), ({"retrain_on": "always"}, "retrain_on"),
                        ({"cooldown_s": -1}, "cooldown_s"), ({"surprise": 1}, "surprise")]:
        r = sam.put(f"/projects/{p}/deployments/risk-api/monitor", json=body)
        assert r.status_code == 422 and field in r.text, (body, r.text)
    assert sam.get(f"/projects/{p}/deployments/risk-api/monitor").json()["window_size"] == WINDOW
    for body in ({"name": "x", "kind": "teams", "url": "https://93.184.216.34/h"},
                 {"name": "x", "kind": "jira", "url": "https://93.184.216.34"},  # no project key, no secret
                 {"name": "x", "kind": "slack", "url": "ftp://93.184.216.34/h"},
                 {"name": "x", "kind": "slack", "url": "https://user:pw@93.184.216.34/h"}):
        assert lena.post(f"/projects/{p}/webhooks", json=body).status_code == 422, body
    assert lena.get(f"/projects/{p}/webhooks").json()["total"] == 0
    assert sam.get(f"/projects/{p}/deployments/nope/monitor").status_code == 404
    assert sam.get(f"/projects/{p}/deployments/risk-api/monitor/windows/999999/report").status_code == 404
