"""The stakeholder dashboard's figures from real records: a deployment on real workers whose monitor cut two
windows (one labelled right and without drift, one with x2 shifted and labelled wrong), its alerts firing, a
second version switched in, a batch job over the holdout; and bad input (unknown project or model) as 404 JSON."""

from __future__ import annotations

import time

import httpx
import pytest
from monitoring_data import training_frame

WINDOW = 200
pytestmark = pytest.mark.settings(monitor_interval_seconds=0)  # evaluated on demand: no sensor racing the test


def _monitor(sam, p: str) -> dict:
    """Windows of 200 rows, the default tolerances: a verdict needs the metric's 95% interval beyond them."""
    deadline = time.time() + 60
    while time.time() < deadline:
        m = sam.put(f"/projects/{p}/deployments/risk-api/monitor",
                    json={"window_size": WINDOW})
        if m.status_code == 200 and m.json()["profile"] and m.json()["profile"]["status"] == "ready":
            return m.json()
        time.sleep(0.3)
    raise AssertionError(f"no reference profile: {m.status_code} {m.text[:2000]}")


def _labels(ids: list[str], y) -> list[dict]:  # noqa: ANN001
    y = list(y)
    return [{"prediction_id": pid, "label": y[i * 50:(i + 1) * 50]} for i, pid in enumerate(ids)]


def test_dashboard_figures_from_the_platforms_records(backend, monitored):
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlp import datasets

    p, sam = monitored.project, backend.client("sam")
    mon = _monitor(sam, p)
    baseline = mon["baseline"]["metrics"]
    assert baseline.get("roc_auc")

    # Window 1: no drift, labelled with the truth. Window 2: x2 moved by one standard deviation, labelled wrong.
    x1, y1 = training_frame(WINDOW, seed=21)
    assert monitored.label(_labels(monitored.serve(x1), y1)).status_code == 200
    x2, y2 = training_frame(WINDOW, seed=22)
    x2["x2"] = x2["x2"] + 1.0
    assert monitored.label(_labels(monitored.serve(x2), 1 - y2)).status_code == 200
    ev = sam.post(f"/projects/{p}/deployments/risk-api/monitor/evaluate").json()
    assert ev["windows"] == 2 and "drift:x2" in ev["fired"] and "performance:roc_auc" in ev["fired"], ev
    firing = sam.get(f"/projects/{p}/alerts", params={"state": "firing"}).json()

    # Version 2 (a refit on the same data), validated and switched in: the deployment's history has two versions.
    frame = datasets.read("train")
    with mlflow.start_run() as run:
        model = LogisticRegression(C=0.5).fit(frame[["x1", "x2", "x3"]], frame.y)
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x1, model.predict(x1)),
                                 pip_requirements=["scikit-learn"], serialization_format="cloudpickle")
    r = sam.post(f"/projects/{p}/models", json={"name": "risk", "run_id": run.info.run_id})
    assert r.status_code == 201 and r.json()["version"] == 2, r.text
    d = sam.post(f"/projects/{p}/models/risk/versions/2/promote", json={"alias": "staging"})
    assert d.status_code == 201 and d.json()["status"] == "passed", d.text
    assert sam.put(f"/projects/{p}/deployments/risk-api/version", json={"version": 2}).status_code == 200

    # A batch job over the holdout (1000 rows) by version 2.
    job = sam.post(f"/projects/{p}/deployments/risk-api/batch", json={"dataset": "holdout", "chunk_rows": 400})
    assert job.status_code == 202, job.text
    deadline = time.time() + 180
    while (j := sam.get(f"/projects/{p}/batch-jobs/{job.json()['id']}").json())["status"] in ("queued", "running"):
        assert time.time() < deadline, j
        time.sleep(0.5)
    assert j["status"] == "succeeded" and j["rows"] == 1000, j

    # One Open Inference request of 3 rows: counted as 3 rows, one request.
    with httpx.Client(base_url=monitored.base, headers={"Authorization": f"Bearer {monitored.key}"}) as c:
        v2 = c.post("/v2/models/risk/infer", json={"inputs": [
            {"name": k, "shape": [3], "datatype": "FP64", "data": x1[k].iloc[:3].tolist()} for k in x1.columns]})
    assert v2.status_code == 200 and v2.json()["outputs"][0]["shape"][0] == 3, v2.text

    # A viewer reads the figures, narrowed to the project and the model.
    r = backend.client("vic").get("/dashboard", params={"project": p, "model": "risk"})
    assert r.status_code == 200, r.text
    (proj,) = r.json()["projects"]
    assert proj["slug"] == p and proj["role"] == "viewer" and proj["deployments_total"] == 1
    (dep,) = proj["deployments"]
    assert (dep["name"], dep["model"], dep["version"], dep["status"]) == ("risk-api", "risk", 2, "ready")

    # Counts users mean: 2 × 200 rows in 8 requests of 50 and 3 rows in one; 1000 rows by batch.
    assert dep["predictions_24h"] == 9 and dep["rows_24h"] == 2 * WINDOW + 3
    assert dep["batch_rows_24h"] == 1000 and dep["batch_rows_total"] == 1000
    # SLA compliance, hour by hour: 24 hours, the traffic in them adds up to the day's.
    trend = dep["sla_trend"]
    assert len(trend) == 24 and trend == sorted(trend, key=lambda t: t["start"])
    assert sum(t["requests"] for t in trend) == 9 and sum(t["rows"] for t in trend) == 2 * WINDOW + 3
    busy = [t for t in trend if t["requests"]]
    assert busy and all(0 <= t["compliance"] <= 1 and t["p95_ms"] > 0 for t in busy)
    assert all(t["compliance"] is None for t in trend if not t["requests"])
    assert 0 <= dep["sla_compliance"] <= 1 and dep["p95_ms"] > 0

    # Performance per labelled window against the validated baseline and tolerance; drift per feature per window.
    w = dep["windows"]
    assert [x["version"] for x in w] == [1, 1] and [x["labelled"] for x in w] == [WINDOW, WINDOW]
    assert [x["status"] for x in w] == ["ok", "degraded"], [[(c["metric"], c["value"], c.get("interval"), c["baseline"], c["tolerance"]) for c in x["checks"]] for x in w]
    assert [x["drift_status"] for x in w] == ["ok", "drift"]
    assert w[0]["drift"] == {"x1": "ok", "x2": "ok", "x3": "ok"}
    assert w[1]["drift"]["x2"] == "drift" and w[1]["drift"]["x1"] == "ok"
    assert dep["features"] == ["x1", "x2", "x3"]
    auc = [{c["metric"]: c for c in x["checks"]}["roc_auc"] for x in w]
    assert [c["baseline"] for c in auc] == [baseline["roc_auc"]] * 2 and [c["tolerance"] for c in auc] == [0.05] * 2
    assert auc[0]["value"] > baseline["roc_auc"] - 0.05 and not auc[0]["degraded"]
    assert auc[1]["value"] < 0.2 and auc[1]["degraded"]
    assert [x["metrics"]["roc_auc"] for x in w] == [c["value"] for c in auc]
    # The served version (2) has its own validated baseline and no window yet.
    assert dep["baseline"].get("roc_auc") and dep["tolerance"]["roc_auc"] == 0.05
    assert dep["tolerance"]["rmse"] == pytest.approx(0.1 * dep["baseline"]["rmse"])  # default: 10% of the baseline
    assert dep["drift_status"] == "waiting"

    # The firing alerts, by name.
    assert dep["firing_alerts"] == firing["total"] >= 2
    assert {a["key"] for a in dep["alerts"]} == {a["key"] for a in firing["items"]}
    by_key = {a["key"]: a for a in dep["alerts"]}
    assert "x2" in by_key["drift:x2"]["title"] and by_key["drift:x2"]["severity"] == "warning"
    assert by_key["performance:roc_auc"]["severity"] == "critical"
    # in words that match the direction: AUC fell, the error (lower is better) rose
    assert by_key["performance:roc_auc"]["title"].startswith("roc_auc fell to ")
    assert by_key["performance:rmse"]["title"].startswith("rmse rose to "), by_key["performance:rmse"]["title"]

    # The version history: deployed v1, switched to v2, newest first.
    assert [(h["action"], h["version"]) for h in dep["history"]] == [("switch", 2), ("deploy", 1)]
    assert dep["history_total"] == 2 and all(h["actor"] == "sam" and h["at"] for h in dep["history"])

    # Paging over deployments: the total stays, the page is empty past it.
    paged = backend.client("vic").get("/dashboard", params={"project": p, "limit": 1, "offset": 1}).json()
    assert paged["projects"][0]["deployments"] == [] and paged["projects"][0]["deployments_total"] == 1


def test_dashboard_bad_input_is_404_json(backend, monitored):
    p, vic = monitored.project, backend.client("vic")
    for params, words in [({"project": "nope"}, "Project 'nope' not found"),
                          ({"project": p, "model": "nope"}, f"Model 'nope' not found in project '{p}'"),
                          ({"model": "nope"}, "Model 'nope' not found")]:
        r = vic.get("/dashboard", params=params)
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/json"), (params, r.text)
        assert words in r.json()["error"]["message"], r.text
    # Another project's model is as unknown as a missing one; the project itself too.
    outsider = backend.client("olga")
    assert outsider.get("/dashboard", params={"project": p}).status_code == 404
    assert outsider.get("/dashboard", params={"model": "risk"}).status_code == 404
    assert outsider.get("/dashboard").json()["projects"] == []
    for params in ({"limit": 0}, {"offset": -1}, {"project": "x" * 65}):
        r = vic.get("/dashboard", params=params)
        assert r.status_code == 422 and r.json()["error"]["message"], (params, r.text)


def test_batch_rows_and_history_on_both_engines(api, acme):
    """The 24-hour batch count compares finish times stored without a zone (SQLite) or as the session's zone says
    (PostgreSQL) alike; only succeeded jobs count; history holds traffic moves only, newest first, paged at 20."""
    from datetime import timedelta

    from jupyter_mlp_backend.orm import (BatchJob, Deployment, DeploymentEvent, ModelVersion, Project, RegisteredModel,
                                         utcnow)

    now = utcnow()
    with api.db.session() as s:
        p = s.query(Project).filter_by(slug=acme).one()
        m = RegisteredModel(project_id=p.id, name="risk", mlflow_name="t.acme.risk", created_by="sam")
        s.add(m)
        s.flush()
        v = [ModelVersion(model_id=m.id, version=i, source="x", lineage="{}", created_by="sam") for i in (1, 2)]
        s.add_all(v)
        s.flush()
        d = Deployment(project_id=p.id, name="risk-api", model_id=m.id, version_id=v[1].id, status="stopped",
                       created_by="sam")
        s.add(d)
        s.flush()
        for i, (status, rows, ago) in enumerate([("succeeded", 1000, timedelta(hours=1)),
                                                 ("succeeded", 300, timedelta(hours=30)),
                                                 ("failed", 50, timedelta(hours=2))]):
            s.add(BatchJob(id=f"job{i}", deployment_id=d.id, version_id=v[0].id, status=status, source="{}",
                           output="{}", chunk_rows=100, rows=rows, created_by="sam", finished_at=now - ago))
        s.add(DeploymentEvent(deployment_id=d.id, action="deploy", version_id=v[0].id, actor="sam"))
        s.add(DeploymentEvent(deployment_id=d.id, action="scale", version_id=v[0].id, actor="platform"))
        for k in range(21):
            s.add(DeploymentEvent(deployment_id=d.id, action="switch" if k % 2 == 0 else "rollback",
                                  version_id=v[1].id if k % 2 == 0 else v[0].id, actor="lena"))
        s.commit()
    r = api.as_user("vic").get("/dashboard", params={"project": acme, "model": "risk"})
    assert r.status_code == 200, r.text
    (dep,) = r.json()["projects"][0]["deployments"]
    assert dep["batch_rows_24h"] == 1000 and dep["batch_rows_total"] == 1300
    assert dep["predictions_24h"] == 0 and dep["rows_24h"] == 0 and len(dep["sla_trend"]) == 24
    assert dep["drift_status"] == "not monitored" and dep["windows"] == [] and dep["alerts"] == []
    assert dep["history_total"] == 22 and len(dep["history"]) == 20
    assert [(h["action"], h["version"]) for h in dep["history"][:2]] == [("switch", 2), ("rollback", 1)]
    assert "scale" not in {h["action"] for h in dep["history"]}
