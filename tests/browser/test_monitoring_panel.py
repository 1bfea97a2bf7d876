"""A lead watches a deployment in real JupyterLab: creates its monitor and a webhook from the Monitoring panel,
the endpoint receives shifted traffic, the heatmap shows the drifted feature, the local receiver gets the alert,
Dagster's sensor retrains the model through its pipeline and gates, and the new version serves. Then the
stakeholder dashboard, outside the notebook UI."""

from __future__ import annotations

import getpass
import time

import pytest

from tests.browser.test_projects_panel import open_panel
from tests.helpers import notebook, recording_server, serve_frame

pytestmark = pytest.mark.browser

ADMIN = "platform-admin"
WINDOW = 200
CELLS = [
    ("import mlflow\nimport mlflow.sklearn\nfrom mlflow.models import infer_signature\n"
     "from jupyter_mlp import datasets\nfrom sklearn.linear_model import LogisticRegression", ["imports"]),
    ("frame = datasets.read('train')", ["stage:prep"]),
    ("x = frame[['x1', 'x2', 'x3']]\nmodel = LogisticRegression().fit(x, frame.y)\n"
     "mlflow.sklearn.log_model(model, name='model', signature=infer_signature(x, model.predict(x)),\n"
     "                         pip_requirements=['scikit-learn'])", ["stage:train"]),
]


def _frame(n: int, seed: int):  # noqa: ANN202
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.normal(size=n) * 2 + 1})
    return x, (x.x1 + 0.5 * x.x2 + rng.normal(scale=0.3, size=n) > 0).astype(int)


@pytest.fixture
def mlp_home(mlp_home):
    """What the platform admin configured: who is admin, the local receiver allowed as a webhook target (it is
    loopback), and the monitors' sensor ticking every 5 s."""
    mlp_home.mkdir(parents=True, exist_ok=True)
    (mlp_home / "settings.toml").write_text(f'admin_users = ["{ADMIN}"]\nwebhook_allow_hosts = ["127.0.0.1"]\n'
                                            "monitor_interval_seconds = 5\n")
    return mlp_home


@pytest.fixture
def served(platform, use_mlflow, monkeypatch):
    """Project `acme` (the browser user is lead): pipeline `risk` trained on dataset `train`, v1 champion through
    gates evaluated on `holdout`, deployed as `risk-api`; returns (serving URL, API key)."""
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
    client.post("/projects/acme/pipelines", {"notebook": notebook(CELLS), "path": "risk.ipynb", "name": "risk"})
    run = client.post("/projects/acme/pipelines/risk/runs", {})
    deadline = time.time() + 300
    while (done := client.get(f"/projects/acme/pipeline-runs/{run['run_id']}"))["status"] not in (
            "SUCCESS", "FAILURE", "CANCELED") and time.time() < deadline:
        time.sleep(1)
    assert done["status"] == "SUCCESS", done
    client.put("/projects/acme/models/risk/gates", {"evaluation": {"dataset": "holdout", "target": "y"},
                                                     "thresholds": [{"metric": "roc_auc", "op": ">=", "value": 0.8}]})
    assert client.post("/projects/acme/models/risk/versions/1/promote", {"alias": "champion"})["status"] == "passed"
    client.post("/projects/acme/deployments", {"name": "risk-api", "model": "risk", "alias": "champion"})
    key = client.post("/projects/acme/api-keys", {"name": "crm"})["key"]
    return f"{client.url}/serve/acme/risk-api", key


def test_drift_alert_webhook_retraining_and_dashboard(platform, served, page, shot):
    base, key = served
    page.goto(platform)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option("acme")
    page.get_by_test_id("mlp-open-monitoring").click()
    page.locator(".jp-SideBar [title='ML Platform']").first.click()  # the panel gets the whole width
    panel = page.get_by_test_id("monitoring-panel")
    panel.wait_for(state="visible", timeout=30_000)
    page.get_by_test_id("monitor-none").wait_for(timeout=60_000)

    with recording_server() as receiver:
        # A webhook: first to an address the admin did not allow, refused in plain words; then the receiver.
        hooks = page.get_by_test_id("webhooks-section")
        form = hooks.get_by_test_id("webhook-form")
        form.get_by_test_id("webhook-kind").select_option("generic")
        form.get_by_test_id("webhook-name").fill("ops")
        form.get_by_test_id("webhook-url").fill("http://10.0.0.7/hook")
        form.get_by_test_id("webhook-secret").fill("s3cret")
        form.get_by_test_id("webhook-add").click()
        hooks.get_by_test_id("webhook-form-error").wait_for(timeout=30_000)
        assert "private" in hooks.get_by_test_id("webhook-form-error").inner_text()
        form.get_by_test_id("webhook-url").fill(f"{receiver.url}/hook")
        form.get_by_test_id("webhook-add").click()
        hooks.get_by_test_id("webhook-row-ops").wait_for(timeout=30_000)

        # The monitor: windows of 200 predictions, retraining on drift.
        create = page.get_by_test_id("monitor-create")
        create.get_by_test_id("monitor-window-size").fill(str(WINDOW))
        create.get_by_test_id("monitor-retrain").check()
        create.get_by_test_id("monitor-retrain-on").select_option("drift")
        create.get_by_test_id("monitor-cooldown").fill("0")
        create.get_by_test_id("monitor-save").click()
        status = page.get_by_test_id("monitor-status")
        status.wait_for(timeout=120_000)
        assert "of train" in status.inner_text(), status.inner_text()  # the reference is the training data

        # Traffic whose x2 moved by one standard deviation; the sensor (every 5 s) evaluates the monitor.
        drifted, _ = _frame(WINDOW, 13)
        drifted["x2"] = drifted["x2"] + 1.0
        serve_frame(base, key, drifted)
        page.locator("[data-testid='heat-x2-0'][data-status='drift']").wait_for(timeout=120_000)
        assert page.locator("[data-testid='heat-x1-0']").get_attribute("data-status") == "ok"
        alert = page.locator("[data-testid='alert-row-drift:x2']").first
        alert.wait_for(timeout=60_000)
        assert alert.get_attribute("data-state") == "firing"
        deadline = time.time() + 30
        while time.time() < deadline and not receiver.bodies("/hook"):
            time.sleep(0.5)
        got = receiver.bodies("/hook")
        assert got and got[0]["event"] == "alert.firing" and got[0]["alert"]["key"] == "drift:x2", got
        page.get_by_test_id("drift-heatmap").scroll_into_view_if_needed()
        shot("monitoring-drift")

        # The retraining chain: alert → run → version 2 → gates → deployed.
        page.locator("[data-testid^='retraining-row-'][data-status='deployed']").wait_for(timeout=420_000)
        row = page.locator("[data-testid^='retraining-row-'][data-status='deployed']").first
        assert "drift:x2" in row.inner_text() and "2" in row.inner_text()
        page.get_by_test_id("retrainings-table").scroll_into_view_if_needed()
        shot("monitoring-retraining")

    # The stakeholder dashboard: its own page, read-only, the project's deployment now on version 2.
    page.goto(platform.split("/lab")[0] + "/mlp/dashboard")
    dash = page.get_by_test_id("dashboard")
    dash.wait_for(timeout=60_000)
    page.get_by_test_id("dash-deployment-risk-api").wait_for(timeout=60_000)
    card = page.get_by_test_id("dash-deployment-risk-api")
    # v2 has no window yet: its drift is not v1's (the card's history and alerts may still name v1's drift)
    assert "risk v2" in card.inner_text() and card.get_attribute("data-drift") != "drift", card.inner_text()
    assert page.locator("button, form, input").count() == 0
    shot("stakeholder-dashboard")
