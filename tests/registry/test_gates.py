"""Gates decide where `staging` and `champion` point: thresholds, challenger-beats-champion on the same evaluation
snapshot (scored in a separate process from verified files), and lead approval. Every decision keeps its evidence."""

from __future__ import annotations

import pandas as pd
import pytest
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
    """A kernel's MLflow client reaches the registry only through the platform: the gated aliases do not move with
    MLflow calls, MLflow's own (prefixed) names are not names a client can use, and deleting or staging is refused."""
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
    for attempt in (lambda: client.set_registered_model_alias("churn", "champion", "1"),
                    lambda: client.set_registered_model_alias(mlflow_name, "staging", "1"),
                    lambda: client.create_registered_model(mlflow_name),
                    lambda: client.create_model_version(mlflow_name, f"runs:/{run}/model", run_id=run),
                    lambda: client.delete_registered_model("churn"),
                    lambda: client.transition_model_version_stage("churn", "1", "Production")):
        try:
            attempt()
        except MlflowException as e:
            assert any(s in str(e) for s in ("not available through the platform", "moves only through the",
                                             "is not valid", "not found")), e
        else:
            raise AssertionError("the gateway let a registry call through")
    assert sam.get(f"/projects/{project}/models/churn").json()["aliases"] == {}


def test_gates_score_auc_from_probabilities_like_the_run_logged_it(backend, project, log_model, monkeypatch):
    """AUC from predict_proba (what a notebook logs and mlflow.evaluate computes), not from class labels: thresholds
    and challenger-beats-champion compare the right numbers; a model with labels only gets no AUC and says why."""
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.svm import LinearSVC

    from jupyter_mlp import datasets

    monkeypatch.setenv("MLP_PROJECT", project)
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"x1": rng.normal(size=600), "x2": rng.normal(size=600)})
    y = (x.x1 + 0.5 * x.x2 + rng.normal(scale=1.0, size=600) > 0).astype(int).to_numpy()  # noisy: labels lose much
    strong = LogisticRegression().fit(x[:400], y[:400])
    weak = LogisticRegression().fit(x[["x2"]].assign(x1=0.0)[["x1", "x2"]][:400], y[:400])  # sees x2 only
    hx, hy = x[400:], y[400:]
    expect = {name: float(roc_auc_score(hy, m.predict_proba(hx)[:, 1])) for name, m in
              (("strong", strong), ("weak", weak))}
    from_labels = float(roc_auc_score(hy, strong.predict(hx)))
    assert expect["strong"] - from_labels > 0.05  # the flaw is visible on this data
    runs = [log_model(weak, metrics={"roc_auc": expect["weak"]}),
            log_model(strong, metrics={"roc_auc": expect["strong"]}),
            log_model(LinearSVC().fit(x[:400], y[:400]))]  # no predict_proba: class labels only
    sam, lena = backend.client("sam"), backend.client("lena")
    for run in runs:
        assert sam.post(f"/projects/{project}/models", json={"name": "auc", "run_id": run}).status_code == 201
    datasets.register("holdout", hx.assign(y=hy))
    assert lena.put(f"/projects/{project}/models/auc/gates", json={
        "thresholds": [{"metric": "roc_auc", "op": ">=", "value": 0.6}],
        "challenger": {"metric": "roc_auc", "margin": 0.01},
        "evaluation": {"dataset": "holdout", "target": "y"}}).status_code == 200

    def promote(version):
        r = sam.post(f"/projects/{project}/models/auc/versions/{version}/promote", json={"alias": "champion"})
        assert r.status_code == 201, r.text
        return r.json()

    d = promote(1)
    assert d["status"] == "passed", d
    assert d["evidence"]["evaluation"]["challenger"]["roc_auc"] == pytest.approx(expect["weak"], abs=1e-12)
    d = promote(2)
    ev = d["evidence"]["evaluation"]
    assert ev["challenger"]["roc_auc"] == pytest.approx(expect["strong"], abs=1e-12)
    assert ev["champion"]["roc_auc"] == pytest.approx(expect["weak"], abs=1e-12)
    challenger = {r["gate"]: r for r in d["evidence"]["results"]}["challenger"]
    assert challenger["challenger"] == pytest.approx(expect["strong"]) and challenger["passed"], d
    assert "ece" in ev["challenger"]  # calibration from the same probabilities: the monitors' baseline has it
    d = promote(3)  # labels only: no AUC to compare, and the evidence says why
    ev = d["evidence"]["evaluation"]
    assert "roc_auc" not in ev["challenger"] and "class labels only" in ev["unavailable"]["challenger"]["roc_auc"]
    challenger = {r["gate"]: r for r in d["evidence"]["results"]}["challenger"]
    assert not challenger["passed"] and "class labels only" in challenger["message"], challenger
