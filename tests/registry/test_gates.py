"""Gates decide where `staging` and `champion` point: thresholds, challenger-beats-champion on the same evaluation
snapshot (scored in a separate process from verified files), and lead approval. Every decision keeps its evidence."""

from __future__ import annotations

import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression


def test_gates_move_aliases_only_when_they_pass(backend, project, log_model, xy, monkeypatch):
    from jupyter_mlp import datasets

    x, y = xy
    monkeypatch.setenv("MLP_PROJECT", project)
    sam, lena = backend.client("sam"), backend.client("lena")
    weak = log_model(LogisticRegression().fit(x[:12], y[:12]), params={"rows": 12})  # trained on 12 rows
    dummy = log_model(DummyClassifier(strategy="most_frequent").fit(x, y), params={"rows": 400})
    strong = log_model(LogisticRegression().fit(x, y), params={"rows": 400})
    for run in (weak, dummy, strong):
        assert sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": run}).status_code == 201
    datasets.register("holdout", pd.DataFrame({"x1": x.x1, "x2": x.x2, "y": y}))

    gates = f"/projects/{project}/models/churn/gates"
    bad = [({"challenger": {"metric": "accuracy"}}, "challenger"),
           ({"thresholds": [{"metric": "accuracy", "op": "=>", "value": 1}]}, "thresholds.0.op"),
           ({"thresholds": [{"metric": "accuracy", "op": ">=", "value": "high"}]}, "thresholds.0.value"),
           ({"evaluation": {"dataset": "../x", "target": "y"}}, "evaluation.dataset"),
           ({"surprise": True}, "surprise")]
    for body, field in bad:
        r = lena.put(gates, json=body)
        assert r.status_code == 422 and r.json()["error"]["detail"][0]["field"] == field, (body, r.text)
    config = {"thresholds": [{"metric": "accuracy", "op": ">=", "value": 0.7}],
              "challenger": {"metric": "accuracy", "margin": 0.01},
              "evaluation": {"dataset": "holdout", "target": "y"}, "require_approval": True}
    assert sam.put(gates, json=config).status_code == 403  # a scientist cannot set gates
    assert lena.put(gates, json=config).status_code == 200

    def promote(version, alias):
        r = sam.post(f"/projects/{project}/models/churn/versions/{version}/promote", json={"alias": alias})
        assert r.status_code == 201, r.text
        return r.json()

    def aliases():
        return sam.get(f"/projects/{project}/models/churn").json()["aliases"]

    d = promote(1, "staging")  # staging needs no approval
    assert d["status"] == "passed" and d["alias_moved"], d
    ev = d["evidence"]["evaluation"]
    assert ev["dataset"] == "holdout" and ev["rows"] == 400 and ev["snapshot_id"]
    assert ev["challenger"]["accuracy"] >= 0.7
    assert aliases() == {"staging": 1}

    d = promote(1, "champion")
    assert d["status"] == "pending" and not d["alias_moved"] and aliases() == {"staging": 1}
    approve = f"/projects/{project}/gate-decisions/{d['id']}/approve"
    assert sam.post(approve, json={"reason": "I like it"}).status_code == 403  # scientists cannot approve
    assert lena.post(approve, json={}).status_code == 422  # a reason is required
    ok = lena.post(approve, json={"reason": "holdout accuracy reviewed"})
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and ok.json()["decided_by"] == "lena"
    assert aliases() == {"staging": 1, "champion": 1}
    assert lena.post(approve, json={"reason": "twice"}).status_code == 409

    d = promote(2, "champion")  # the dummy: fails the threshold and does not beat the champion
    assert d["status"] == "failed" and aliases()["champion"] == 1
    failed = {r["gate"]: r for r in d["evidence"]["results"]}
    assert not failed["threshold"]["passed"] and not failed["challenger"]["passed"]
    assert failed["challenger"]["champion_version"] == 1

    d = promote(3, "champion")  # better than the champion on the same rows: waits for a lead
    results = {r["gate"]: r for r in d["evidence"]["results"]}
    assert results["challenger"]["passed"] and results["challenger"]["challenger"] > results["challenger"]["champion"]
    assert d["status"] == "pending"
    rejected = lena.post(f"/projects/{project}/gate-decisions/{d['id']}/reject", json={"reason": "not this week"})
    assert rejected.json()["status"] == "rejected" and aliases()["champion"] == 1

    pending = sam.get(f"/projects/{project}/gate-decisions", params={"status": "pending"}).json()
    assert pending["total"] == 0
    every = sam.get(f"/projects/{project}/gate-decisions", params={"model": "churn"}).json()
    assert [x["status"] for x in every["items"]] == ["rejected", "failed", "approved", "passed"]
    audit = lena.get(f"/projects/{project}/audit", params={"limit": 200}).json()["items"]
    actions = [(e["action"], e["actor"]) for e in audit]
    assert ("model.approve", "lena") in actions and ("model.reject", "lena") in actions
    assert any(a == "model.alias.move" for a, _ in actions)

    # A lead of another project cannot decide this project's decisions: they are missing there.
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/lena", json={"role": "lead"}).status_code == 200
    d = promote(3, "champion")
    cross = lena.post(f"/projects/globex/gate-decisions/{d['id']}/approve", json={"reason": "x"})
    assert cross.status_code == 404 and aliases()["champion"] == 1

    diff = sam.get(f"/projects/{project}/models/churn/diff", params={"a": 1, "b": 3}).json()
    rows = {r["key"]: r for r in diff["params"]}
    assert rows["rows"]["a"] == "12" and rows["rows"]["b"] == "400" and rows["rows"]["changed"]
    assert sam.get(f"/projects/{project}/models/churn/diff", params={"a": 1, "b": 9}).status_code == 404


def test_a_notebook_cannot_go_around_the_gates_through_mlflow(backend, project, log_model, xy, use_mlflow):
    """The gateway a kernel talks to has no registry endpoints: registering or moving `champion` with plain
    MLflow calls is refused, so aliases move only through the gates."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from sklearn.linear_model import LogisticRegression

    x, y = xy
    run = log_model(LogisticRegression().fit(x, y))
    sam = backend.client("sam")
    assert sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": run}).status_code == 201
    mlflow_name = sam.get(f"/projects/{project}/models/churn").json()["mlflow_name"]
    use_mlflow(backend.kernel_env("sam", project))
    client = MlflowClient()
    for attempt in (lambda: client.create_registered_model("sneaky"),
                    lambda: client.set_registered_model_alias(mlflow_name, "champion", "1"),
                    lambda: client.create_model_version(mlflow_name, f"runs:/{run}/model", run_id=run)):
        try:
            attempt()
        except MlflowException as e:
            assert "not available through the platform" in str(e), e
        else:
            raise AssertionError("the gateway let a registry call through")
    assert sam.get(f"/projects/{project}/models/churn").json()["aliases"] == {}
