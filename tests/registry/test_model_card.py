"""Model cards (issue 13 item 7): a version's card from the records of a real backend — trained on a dataset, gated
with an evaluation and a lead's approval, deployed on real workers, monitored into a drifting window — with every
statement's citation opened through the API as the asker and the stated figure found in the cited record."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.experiments.test_cli_runs import mlp  # noqa: F401 - the CLI fixture
from tests.helpers import serve_frame

WINDOW = 200
EVIL = '<script>alert("card")</script> **bold** [x](http://evil)'
pytestmark = pytest.mark.settings(monitor_interval_seconds=0)  # windows are cut when the test evaluates


def _frame(n: int, seed: int):  # noqa: ANN202
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.normal(size=n) * 2 + 1})
    return x, (x.x1 + 0.5 * x.x2 + rng.normal(scale=0.3, size=n) > 0).astype(int)


def _history(backend, project, use_mlflow, monkeypatch) -> dict[str, Any]:  # noqa: ANN001
    """risk v1: trained on `train` in a run named EVIL with an intended-use tag, gated on `holdout` with a threshold
    and a lead's approval, deployed as risk-api, monitored; one window of shifted traffic (drift in x2)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlp import datasets

    x, y = _frame(2000, 0)
    monkeypatch.setenv("MLP_PROJECT", project)
    use_mlflow(backend.kernel_env("sam", project))
    datasets.register("train", x.assign(y=y))
    hx, hy = _frame(600, 5)
    datasets.register("holdout", hx.assign(y=hy))
    with mlflow.start_run(run_name=EVIL) as r:
        frame = datasets.read("train")
        model = LogisticRegression(C=0.5).fit(frame[["x1", "x2", "x3"]], frame.y)
        mlflow.log_params({"C": 0.5, "solver": "lbfgs"})
        mlflow.log_metrics({"train_accuracy": float(model.score(frame[["x1", "x2", "x3"]], frame.y))})
        mlflow.set_tag("intended_use", "Scoring credit applicants of the retail book; not for business loans.")
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x, model.predict(x)),
                                 pip_requirements=["scikit-learn"], serialization_format="cloudpickle")
    sam, lena = backend.client("sam"), backend.client("lena")
    assert sam.post(f"/projects/{project}/models", json={"name": "risk", "run_id": r.info.run_id}).status_code == 201
    gates = {"thresholds": [{"metric": "accuracy", "op": ">=", "value": 0.7}],
             "evaluation": {"dataset": "holdout", "target": "y"}, "require_approval": True}
    assert lena.put(f"/projects/{project}/models/risk/gates", json=gates).status_code == 200
    d = sam.post(f"/projects/{project}/models/risk/versions/1/promote", json={"alias": "champion"}).json()
    assert d["status"] == "pending", d
    approved = lena.post(f"/projects/{project}/gate-decisions/{d['id']}/approve",
                         json={"reason": "holdout accuracy reviewed <b>with risk</b>"}).json()
    dep = sam.post(f"/projects/{project}/deployments", json={"name": "risk-api", "model": "risk", "version": 1})
    assert dep.status_code == 201, dep.text
    key = lena.post(f"/projects/{project}/api-keys", json={"name": "crm"}).json()["key"]
    deadline = time.time() + 90
    while True:
        m = sam.put(f"/projects/{project}/deployments/risk-api/monitor", json={"window_size": WINDOW})
        if m.status_code == 200 and (m.json()["profile"] or {}).get("status") == "ready":
            break
        assert time.time() < deadline, m.text[:2000]
        time.sleep(0.3)
    shifted, _ = _frame(WINDOW, 11)
    shifted["x2"] = shifted["x2"] + 1.5
    serve_frame(f"{backend.url}/serve/{project}/risk-api", key, shifted)
    ev = sam.post(f"/projects/{project}/deployments/risk-api/monitor/evaluate").json()
    assert ev["windows"] == 1, ev
    return {"run_id": r.info.run_id, "decision": approved, "retraining": _retraining(backend, project, approved)}


def _retraining(backend, project: str, decision: dict) -> int:  # noqa: ANN001
    """The drift alert's retraining, ended at the gates, written as monitoring/retraining.py records one (a real
    retraining runs a pipeline through Dagster: minutes here): the row, the alert that asked for it."""
    from sqlalchemy import select

    from jupyter_mlp_backend import orm
    from jupyter_mlp_backend.db import Database

    db = Database(backend.settings.effective_database_url)
    try:
        with db.session() as s:
            alert = s.execute(select(orm.Alert).where(orm.Alert.key == "drift:x2")).scalar_one()
            row = orm.Retraining(monitor_id=alert.monitor_id, alert_id=alert.id, pipeline_run_id=None,
                                 status="gates failed", version_id=None, decision_id=decision["id"],
                                 message="version 2 failed the gates; champion stays: accuracy = 0.64 fails >= 0.7")
            s.add(row)
            s.commit()
            return row.id
    finally:
        db.dispose()


def _resolve(client, c: dict) -> Any:  # noqa: ANN001
    """The cited record, opened through the API as the card's reader (the assistant's citation paths)."""
    p = c["project"]

    def get(path: str, **params: Any) -> Any:
        r = client.get(path, params=params)
        assert r.status_code == 200, (c, r.status_code, r.text[:300])
        return r.json()

    def item(body: dict, ident: str) -> dict:
        found = [i for i in body["items"] if str(i["id"]) == ident]
        assert found, (c, "not in the listing")
        return found[0]

    t, ident = c["type"], c["id"]
    if t == "run":
        return get(f"/projects/{p}/runs/{ident}")
    if t == "model_version":
        slug, model, version = ident.rsplit("/", 2)
        return get(f"/projects/{slug}/models/{model}/versions/{version}")
    if t == "gate_decision":
        return item(get(f"/projects/{p}/gate-decisions", model=c["model"], limit=1000), ident)
    if t == "deployment":
        slug, name = ident.split("/", 1)
        if c.get("event") is not None:
            return item(get(f"/projects/{slug}/deployments/{name}/events", limit=1000), str(c["event"]))
        return get(f"/projects/{slug}/deployments/{name}")
    if t == "monitor_windows":
        slug, name = ident.split("/", 1)
        return get(f"/projects/{slug}/deployments/{name}/monitor/windows", limit=1000)
    if t == "monitor_window":
        return item(get(f"/projects/{p}/deployments/{c['deployment']}/monitor/windows", limit=1000), ident)
    if t == "alert":
        return item(get(f"/projects/{p}/alerts", limit=1000), ident)
    if t == "retraining":
        return item(get(f"/projects/{p}/deployments/{c['deployment']}/monitor/retrainings", limit=1000), ident)
    if t == "dataset_snapshot":
        ds = [d for d in get(f"/projects/{p}/datasets")["items"] if d["name"] == c["dataset"]]
        assert ds and any(str(s["snapshot_id"]) == ident for s in ds[0]["snapshots"]), c
        return ds[0]
    raise AssertionError(f"unknown citation type {t}")


def _leaves(v: Any) -> list[Any]:
    if isinstance(v, dict):
        return [x for w in v.values() for x in _leaves(w)]
    if isinstance(v, list):
        return [x for w in v for x in _leaves(w)]
    return [v]


def _holds(record: Any, value: Any) -> bool:
    """The stated figure or name is in the record: a number equal to a number there, text inside its text."""
    if isinstance(value, list):
        return all(_holds(record, v) for v in value)
    leaves = _leaves(record)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return any(isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x - value) < 1e-12 for x in leaves)
    return any(str(value) in str(x) for x in leaves)


def test_the_card_states_the_records_and_every_statement_resolves(backend, project, use_mlflow, monkeypatch):
    h = _history(backend, project, use_mlflow, monkeypatch)
    vic = backend.client("vic")  # a viewer reads cards
    r = vic.get(f"/projects/{project}/models/risk/versions/1/card")
    assert r.status_code == 200, r.text
    card = r.json()
    sections = {s["id"]: s["statements"] for s in card["sections"]}
    assert list(sections) == ["model", "intended_use", "training_data", "parameters", "metrics", "validation",
                              "approvals", "lineage", "signature", "serving", "monitoring", "alerts"]
    run = vic.get(f"/projects/{project}/runs/{h['run_id']}").json()

    # the figures are the records' own
    assert sections["intended_use"][0]["value"] == run["tags"]["intended_use"]
    assert {s["value"] for s in sections["parameters"]} == {"0.5", "lbfgs"}
    metric = sections["metrics"][0]
    assert metric["value"] == run["metrics"]["train_accuracy"] and metric["citations"][0]["id"] == h["run_id"]
    decision = h["decision"]
    approval = sections["approvals"][0]
    assert approval["value"] == decision["decided_by"] == "lena"
    assert decision["reason"] in approval["text"] and approval["citations"][0] == {
        **approval["citations"][0], "type": "gate_decision", "id": str(decision["id"])}
    evaluated = [s for s in sections["validation"] if s["text"].startswith("Evaluation accuracy")]
    assert evaluated and evaluated[0]["value"] == decision["evidence"]["evaluation"]["challenger"]["accuracy"]
    assert any("accuracy >= 0.7" in s["text"] for s in sections["validation"])
    snap = decision["evidence"]["evaluation"]["snapshot_id"]
    assert any(c["type"] == "dataset_snapshot" and c["id"] == str(snap) and c["dataset"] == "holdout"
               for s in sections["validation"] for c in s["citations"])
    train = [s for s in sections["training_data"] if "dataset train" in s["text"]]
    assert train and train[0]["citations"][0]["type"] == "dataset_snapshot"
    assert [s["value"] for s in sections["signature"][:4]] == ["x1", "x2", "x3", "#0"] or \
        [s["value"] for s in sections["signature"][:3]] == ["x1", "x2", "x3"]
    assert any(s["citations"][0].get("event") and "deploy to this version by sam" in s["text"]
               for s in sections["serving"])
    assert any("serves this version now" in s["text"] for s in sections["serving"])
    mon = sections["monitoring"]
    assert "1 monitor window of" in mon[0]["text"] and mon[0]["citations"][0]["type"] == "monitor_windows"
    assert any(s["value"] and "x2" in s["value"] for s in mon if isinstance(s["value"], list)), mon
    # alerts and retrainings since deployment, with the retraining's outcome (issue 13 item 7)
    alerts = vic.get(f"/projects/{project}/alerts", params={"deployment": "risk-api"}).json()["items"]
    drift = next(a for a in alerts if a["key"] == "drift:x2")
    said = sections["alerts"]
    fired = [s for s in said if any(c["type"] == "alert" and c["id"] == str(drift["id"]) for c in s["citations"])]
    assert fired and "risk-api" in fired[0]["text"] and drift["title"] in fired[0]["text"], said
    retrained = [s for s in said if any(c["type"] == "retraining" and c["id"] == str(h["retraining"])
                                        and c["deployment"] == "risk-api" for c in s["citations"])]
    assert retrained and retrained[0]["value"] == "gates failed", said
    assert "accuracy = 0.64 fails >= 0.7" in retrained[0]["text"] and drift["title"] in retrained[0]["text"]

    # every statement is cited, every citation opens as the reader, and the stated figure is in a cited record
    checked = 0
    for name, statements in sections.items():
        for s in statements:
            assert s["citations"], (name, s)
            records = [_resolve(vic, c) for c in s["citations"]]
            if s["value"] is None or isinstance(s["value"], bool) or any(c.get("file") for c in s["citations"]):
                continue  # said in words (or read from the signed MLmodel file, checked above)
            assert any(_holds(rec, s["value"]) for rec in records), (name, s, records)
            checked += 1
    assert checked >= 20

    # Markdown and HTML: the same statements, the run's name as text
    md = vic.get(f"/projects/{project}/models/risk/versions/1/card", params={"format": "markdown"})
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "<script>" not in md.text and "\\<script\\>" in md.text and "\\[x\\](http" in md.text
    assert "## Approvals" in md.text and "lena approved" in md.text
    page = vic.get(f"/projects/{project}/models/risk/versions/1/card", params={"format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text.lower() and "&lt;script&gt;alert(&quot;card&quot;)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;with risk&lt;/b&gt;" in page.text and "<b>" not in page.text

    # reading a card is audited like the reads it is made of
    audit = backend.client("lena").get(f"/projects/{project}/audit", params={"limit": 500}).json()["items"]
    assert any(e["actor"] == "vic" and e["action"] == "models.read" and e["target"] == "risk/1" for e in audit)


def test_a_card_without_gates_deployments_or_intended_use_says_so(backend, project, log_model, xy):
    from sklearn.linear_model import LogisticRegression

    x, y = xy
    run = log_model(LogisticRegression().fit(x, y))
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": run}).status_code == 201
    card = sam.get(f"/projects/{project}/models/churn/versions/1/card").json()
    said = {s["id"]: [st["text"] for st in s["statements"]] for s in card["sections"]}
    assert said["intended_use"][0].startswith("Not stated")
    assert said["validation"] == ["This version has not been through the gates."]
    assert said["serving"] == ["No deployment has served this version."]
    assert said["monitoring"] == ["No monitor has cut a window of this version's predictions."]
    assert said["alerts"] == ["No deployment has served this version: no alert or retraining concerns it."]
    assert all(st["citations"] for s in card["sections"] for st in s["statements"])


def test_card_access_and_bad_input(backend, project, log_model, xy):
    from sklearn.linear_model import LogisticRegression

    x, y = xy
    run = log_model(LogisticRegression().fit(x, y))
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": run}).status_code == 201
    url = f"/projects/{project}/models/churn/versions/1/card"
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    gus = backend.client("gus")  # a lead elsewhere: acme's model is missing to him, in every format
    for fmt in ("json", "markdown", "html"):
        r = gus.get(url, params={"format": fmt})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    assert gus.get("/projects/globex/models/churn/versions/1/card").status_code == 404  # not in his project either
    assert sam.get(f"/projects/{project}/models/churn/versions/2/card").status_code == 404
    assert sam.get(f"/projects/{project}/models/nope/versions/1/card").status_code == 404
    for bad in ({"format": "pdf"}, {"format": ""}):
        r = sam.get(url, params=bad)
        assert r.status_code == 422 and r.json()["error"]["detail"][0]["field"] == "format", r.text
    assert sam.get(f"/projects/{project}/models/churn/versions/0/card").status_code == 422
    assert sam.get(f"/projects/{project}/models/churn/versions/99999999999/card").status_code == 422
    import httpx

    assert httpx.get(f"{backend.url}/api{url}").status_code == 401  # no token
    assert json.loads(sam.get(url).text)["model"] == "churn"


def test_mlp_models_card(backend, project, log_model, xy, mlp, tmp_path):  # noqa: F811
    from sklearn.linear_model import LogisticRegression

    x, y = xy
    run = log_model(LogisticRegression().fit(x, y), params={"rows": 400})
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": run}).status_code == 201
    out = mlp("models", "card", "churn", "1", "-P", project, user="vic").stdout
    assert out.startswith("# Model card: churn version 1") and "## Intended use" in out
    assert f"rows = 400 `run {run}`" in out
    page = tmp_path / "card.html"
    said = mlp("models", "card", "churn", "1", "-P", project, "--format", "html", "-o", str(page), user="vic").stdout
    assert "Wrote the html card" in said and page.read_text().startswith("<!DOCTYPE html>")
    card = json.loads(mlp("--json", "models", "card", "churn", "1", "-P", project, user="vic").stdout)
    assert card["model"] == "churn" and card["sections"][0]["id"] == "model"
    missing = mlp("models", "card", "churn", "7", "-P", project, user="vic", check=False)
    assert missing.returncode == 2 and "Version 7 of 'churn' not found" in missing.stderr
    assert mlp("models", "card", "churn", "1", "-P", project, user="gus", check=False).returncode == 2
