"""`mlp models decisions`: decided gate decisions and their approval reasons from the CLI, not only pending ones."""

from __future__ import annotations

import json

from sklearn.linear_model import LogisticRegression

from tests.experiments.test_cli_runs import mlp  # noqa: F401 - the CLI fixture


def test_decided_gate_decisions_and_reasons_are_listed(backend, project, log_model, xy, mlp):  # noqa: F811
    x, y = xy
    run = log_model(LogisticRegression().fit(x, y))
    sam, lena = backend.client("sam"), backend.client("lena")
    assert sam.post(f"/projects/{project}/models", json={"name": "churn", "run_id": run}).status_code == 201
    assert lena.put(f"/projects/{project}/models/churn/gates", json={"require_approval": True}).status_code == 200
    staged = sam.post(f"/projects/{project}/models/churn/versions/1/promote", json={"alias": "staging"}).json()
    pending = sam.post(f"/projects/{project}/models/churn/versions/1/promote", json={"alias": "champion"}).json()
    assert staged["status"] == "passed" and pending["status"] == "pending"
    ok = lena.post(f"/projects/{project}/gate-decisions/{pending['id']}/approve",
                   json={"reason": "holdout reviewed with risk"})
    assert ok.status_code == 200, ok.text

    out = mlp("models", "decisions", "-P", project, user="sam").stdout
    assert f"#{pending['id']}" in out and "approved" in out and "lena" in out and "holdout reviewed with risk" in out
    assert f"#{staged['id']}" in out and "passed" in out
    only = json.loads(mlp("--json", "models", "decisions", "churn", "--status", "approved", "-P", project).stdout)
    assert [d["id"] for d in only["items"]] == [pending["id"]]
    assert only["items"][0]["reason"] == "holdout reviewed with risk"
    none = mlp("models", "decisions", "other", "-P", project).stdout
    assert "no gate decisions" in none.lower()
