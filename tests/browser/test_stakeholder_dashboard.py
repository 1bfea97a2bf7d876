"""The stakeholder dashboard in Chromium, from real records: a monitored deployment with two labelled windows (the
second drifted on x2 and scored wrong), its alerts firing, version 2 switched in, a batch job over the holdout.
The page shows rows scored, the performance per window against the validated baseline, drift per feature, SLA
compliance per hour, the firing alerts by name and the version history (screenshot stakeholder-dashboard-full)."""

from __future__ import annotations

import getpass
import time

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.helpers import serve_frame

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = [pytest.mark.browser, pytest.mark.settings(dagster_start_with_platform=False)]

ADMIN = "platform-admin"
WINDOW = 200


def _frame(n: int, seed: int):  # noqa: ANN202
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.normal(size=n) * 2 + 1})
    return x, (x.x1 + 0.5 * x.x2 + rng.normal(scale=0.3, size=n) > 0).astype(int)


@pytest.fixture
def mlp_home(mlp_home):
    """The admin, and no monitor sensor: the test evaluates the monitor when its traffic is in."""
    mlp_home.mkdir(parents=True, exist_ok=True)
    (mlp_home / "settings.toml").write_text(f'admin_users = ["{ADMIN}"]\nmonitor_interval_seconds = 0\n')
    return mlp_home


def _log(c: float) -> str:
    """A LogisticRegression fitted on dataset `train`, read inside the run (its lineage names the snapshot: the
    drift reference)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlp import datasets

    with mlflow.start_run() as run:
        frame = datasets.read("train")
        x = frame[["x1", "x2", "x3"]]
        model = LogisticRegression(C=c).fit(x, frame.y)
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x, model.predict(x)),
                                 pip_requirements=["scikit-learn"], serialization_format="cloudpickle")
    return run.info.run_id


@pytest.fixture
def records(platform, use_mlflow, monkeypatch):
    """Project `acme` (the browser user is lead) with deployment `risk-api` and the records the dashboard reads."""
    import httpx

    from jupyter_mlp import datasets
    from jupyter_mlp.client import BackendClient

    admin = BackendClient(user=ADMIN)
    admin.post("/projects", {"slug": "acme", "name": "Acme credit"})
    admin.put(f"/projects/acme/members/{getpass.getuser()}", {"role": "lead"})
    client = BackendClient()
    creds = client.post("/projects/acme/kernel-token")
    use_mlflow({"MLFLOW_TRACKING_URI": f"{client.url}{creds['tracking_path']}",
                "MLFLOW_TRACKING_TOKEN": creds["token"], "MLFLOW_EXPERIMENT_ID": creds["experiment_id"]})
    monkeypatch.setenv("MLP_PROJECT", "acme")
    x, y = _frame(3000, 0)
    datasets.register("train", x.assign(y=y))
    hx, hy = _frame(1000, 5)
    datasets.register("holdout", hx.assign(y=hy))
    client.post("/projects/acme/models", {"name": "risk", "run_id": _log(1.0)})
    client.put("/projects/acme/models/risk/gates", {"evaluation": {"dataset": "holdout", "target": "y"}})
    assert client.post("/projects/acme/models/risk/versions/1/promote", {"alias": "champion"})["status"] == "passed"
    client.post("/projects/acme/deployments", {"name": "risk-api", "model": "risk", "version": 1})
    key = client.post("/projects/acme/api-keys", {"name": "crm"})["key"]
    base = f"{client.url}/serve/acme/risk-api"
    deadline = time.time() + 120
    while (m := client.put("/projects/acme/deployments/risk-api/monitor",
                           {"window_size": WINDOW, "tolerance": {"rmse": 0.2}}))["profile"] is None or \
            m["profile"]["status"] != "ready":
        assert time.time() < deadline, m
        time.sleep(0.5)

    def labelled(frame, truth) -> None:  # noqa: ANN001
        ids, truth = serve_frame(base, key, frame), list(truth)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            r = c.post("/feedback", json={"labels": [{"prediction_id": pid, "label": truth[i * 50:(i + 1) * 50]}
                                                     for i, pid in enumerate(ids)]})
            assert r.status_code == 200, r.text

    x1, y1 = _frame(WINDOW, 21)
    labelled(x1, y1)
    x2, y2 = _frame(WINDOW, 22)
    x2["x2"] = x2["x2"] + 1.0
    labelled(x2, 1 - y2)
    ev = client.post("/projects/acme/deployments/risk-api/monitor/evaluate")
    assert ev["windows"] == 2 and "drift:x2" in ev["fired"], ev

    client.post("/projects/acme/models", {"name": "risk", "run_id": _log(0.5)})
    assert client.post("/projects/acme/models/risk/versions/2/promote", {"alias": "staging"})["status"] == "passed"
    client.put("/projects/acme/deployments/risk-api/version", {"version": 2})
    job = client.post("/projects/acme/deployments/risk-api/batch", {"dataset": "holdout", "chunk_rows": 500})
    deadline = time.time() + 180
    while (j := client.get(f"/projects/acme/batch-jobs/{job['id']}"))["status"] in ("queued", "running"):
        assert time.time() < deadline, j
        time.sleep(0.5)
    assert j["status"] == "succeeded", j
    return client


def test_dashboard_shows_trends_drift_sla_alerts_and_history(platform, records, page):
    page.goto(platform)  # signs in (the URL carries the token), then the dashboard: a page of its own
    page.wait_for_load_state("domcontentloaded")
    page.goto(platform.split("/lab")[0] + "/mlp/dashboard")
    card = page.get_by_test_id("dash-deployment-risk-api")
    card.wait_for(timeout=60_000)
    head = card.inner_text()
    assert "risk v2" in head and "ready" in head, head

    # The counts users mean: 400 rows online (in 8 requests) and 1000 by the batch job.
    rows = page.get_by_test_id("dash-rows-risk-api")
    assert rows.inner_text().split("\n")[0].replace(",", "") == "1400", rows.inner_text()
    assert page.get_by_test_id("dash-predictions-risk-api").inner_text().startswith("8")

    # The firing alerts, by name.
    alert = page.get_by_test_id("dash-alert-risk-api-drift:x2")
    assert "x2" in alert.inner_text() and alert.get_attribute("data-severity") == "warning"
    assert page.get_by_test_id("dash-alert-risk-api-performance:roc_auc").get_attribute("data-severity") == "critical"

    # Performance per labelled window: ROC AUC against its baseline, the second window beyond the tolerance.
    auc = page.get_by_test_id("dash-perf-risk-api-roc_auc")
    assert auc.get_attribute("data-points") == "2" and auc.get_attribute("data-degraded") == "1"
    assert "validated" in auc.inner_text() and "tolerance 0.05" in auc.inner_text()

    # Drift per feature over time: x2 drifted in the second window only; x1 never.
    cell = page.get_by_test_id
    assert [cell(f"dash-drift-risk-api-x2-{i}").get_attribute("data-status") for i in (0, 1)] == ["ok", "drift"]
    assert [cell(f"dash-drift-risk-api-x1-{i}").get_attribute("data-status") for i in (0, 1)] == ["ok", "ok"]

    # SLA compliance per hour: 24 bars, the traffic's requests in them.
    bars = page.get_by_test_id("dash-sla-trend-risk-api").locator("rect")
    assert bars.count() == 24
    assert sum(int(bars.nth(i).get_attribute("data-requests")) for i in range(24)) == 8

    # The version history, newest first: switched to v2, deployed v1.
    hist = page.get_by_test_id("dash-history-risk-api")
    assert [hist.get_by_test_id(f"dash-history-risk-api-{i}").get_attribute("data-version") for i in (0, 1)] == [
        "2", "1"]
    assert "switched to" in hist.inner_text() and "deployed" in hist.inner_text()
    assert page.locator("button, form, input").count() == 0  # read-only

    # Narrowed to one model by the page's own URL; an unknown one says so in plain words.
    page.goto(platform.split("/lab")[0] + "/mlp/dashboard?project=acme&model=nope")
    err = page.get_by_test_id("dash-error")
    err.wait_for(timeout=30_000)
    assert "Model 'nope' not found" in err.inner_text()

    page.goto(platform.split("/lab")[0] + "/mlp/dashboard?project=acme&model=risk")
    page.get_by_test_id("dash-deployment-risk-api").wait_for(timeout=60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "stakeholder-dashboard-full.png"), full_page=True)
