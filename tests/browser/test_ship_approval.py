"""Ship in a project that requires a lead's approval, with two people in two browsers (issue 16 acceptance).

sam, a scientist, ships a validated notebook from the file browser of his own JupyterLab (a second Jupyter server
whose OS user is sam: its extension signs his identity). The flow pauses at `approval`. The lead (the local user, in
the platform's JupyterLab, in a second browser context with her own Jupyter token) sees the request as the pending
badge on the model's row in the Models panel, approves it there with a reason, and sam's progress view goes on by
itself to the endpoint. Screenshots: ship-approval-waiting.png (sam's paused progress), ship-approval-badge.png (the
lead's Models panel), ship-approval-done.png (sam's view after the approval).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from tests.bench._lab import start_lab
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_projects_panel import open_panel
from tests.browser.test_ship_dialog import CELLS
from tests.helpers import notebook as _nb

pytestmark = pytest.mark.browser

ADMIN = "platform-admin"
SCIENTIST = "sam"


@pytest.fixture
def mlp_home(mlp_home):
    """Another user is platform admin: the local user (the lead) and sam are only what the project makes them."""
    mlp_home.mkdir(parents=True, exist_ok=True)
    (mlp_home / "settings.toml").write_text(f'admin_users = ["{ADMIN}"]\n')
    return mlp_home


@pytest.fixture
def approval_project(platform, platform_root, use_mlflow):
    """Project acme: the local user lead, sam scientist; its model `credit` asks for a lead's approval (so the
    project requires it); sam's notebook churn.ipynb with its last run logged (accuracy 0.95) and its table."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlp import datasets
    from jupyter_mlp.client import BackendClient

    admin = BackendClient(user=ADMIN)
    admin.post("/projects", {"slug": "acme", "name": "Acme credit"})
    admin.put(f"/projects/acme/members/{getpass.getuser()}", {"role": "lead"})
    admin.put(f"/projects/acme/members/{SCIENTIST}", {"role": "scientist"})
    folder = platform_root / "acme"
    folder.mkdir()
    (folder / "mlp-project.toml").write_text('project = "acme"\n')
    (folder / "churn.ipynb").write_text(json.dumps(_nb(CELLS)))

    lead = BackendClient()
    c = lead.post("/projects/acme/kernel-token", {})
    use_mlflow({"MLFLOW_TRACKING_URI": f"{lead.url}{c['tracking_path']}", "MLFLOW_TRACKING_TOKEN": c["token"],
                "MLFLOW_EXPERIMENT_ID": c["experiment_id"], "MLP_PROJECT": "acme"})
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    datasets.register("customers", pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y}))
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LogisticRegression().fit(x, y), name="model", pip_requirements=["scikit-learn"])
    lead.post("/projects/acme/models", {"name": "credit", "run_id": run.info.run_id})
    lead.put("/projects/acme/models/credit/gates", {"thresholds": [], "require_approval": True})

    sam = BackendClient(user=SCIENTIST)
    c = sam.post("/projects/acme/kernel-token", {})
    use_mlflow({"MLFLOW_TRACKING_URI": f"{sam.url}{c['tracking_path']}", "MLFLOW_TRACKING_TOKEN": c["token"],
                "MLFLOW_EXPERIMENT_ID": c["experiment_id"]})
    with mlflow.start_run(tags={"mlp.notebook.path": "acme/churn.ipynb"}):
        mlflow.log_metric("accuracy", 0.95)
    return "acme"


@pytest.fixture
def sam_lab(platform, mlp_home, platform_root, monkeypatch):
    """sam's own JupyterLab on the same platform: a Jupyter server run with his OS user name, and its token."""
    with monkeypatch.context() as m:
        m.setenv("USER", SCIENTIST)
        m.setenv("LOGNAME", SCIENTIST)
        lab = start_lab(True, mlp_home, platform_root)
    # No "would you like news?" toast over the screenshots: the settings folder start_lab gave his server
    import psutil

    settings = Path(psutil.Process(lab.proc.pid).environ()["JUPYTERLAB_SETTINGS_DIR"])
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    yield lab
    lab.stop()


def test_a_scientist_ships_and_the_lead_approves_from_the_models_panel(platform, approval_project, sam_lab,
                                                                       browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sam_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    lead_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        sam = sam_ctx.new_page()
        sam.set_default_timeout(30_000)
        sam.goto(f"{sam_lab.url}lab/tree/acme?token={sam_lab.token}")
        item = sam.locator(".jp-DirListing-item[data-file-type='notebook']", has_text="churn.ipynb")
        item.wait_for(state="attached", timeout=60_000)
        if not item.is_visible():
            sam.locator(".jp-SideBar [data-id='filebrowser']").first.click()
        item.wait_for(timeout=30_000)
        item.click(button="right")
        sam.locator(".lm-Menu-itemLabel", has_text="Ship…").click()
        sam.get_by_test_id("mlp-ship-plan").wait_for(timeout=60_000)
        assert sam.get_by_test_id("mlp-ship-approval").is_checked(), "the project requires a lead's approval"
        sam.get_by_test_id("mlp-ship-run").click()

        progress = sam.get_by_test_id("mlp-ship-progress")
        sam.locator("[data-testid='mlp-ship-progress'][data-status='waiting'],"
                    "[data-testid='mlp-ship-progress'][data-status='failed']").wait_for(timeout=480_000)
        assert progress.get_attribute("data-status") == "waiting", progress.inner_text()
        assert progress.locator("[data-step='approval'][data-status='waiting']").count() == 1
        for step in ("promote", "run", "register", "gates"):
            assert progress.locator(f"[data-step='{step}'][data-status='done']").count() == 1, step
        assert progress.locator("[data-step='monitor'][data-status='pending']").count() == 1
        sam.screenshot(path=str(ARTIFACTS / "ship-approval-waiting.png"))

        # The lead, in her own browser context with the platform's JupyterLab (her Jupyter token)
        lead = lead_ctx.new_page()
        lead.set_default_timeout(30_000)
        lead.goto(platform)
        lead.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
        open_panel(lead)
        lead.get_by_test_id("mlp-project-select").select_option("acme")
        lead.get_by_test_id("mlp-open-models").click()
        lead.get_by_test_id("mlp-models").wait_for(state="visible")
        assert "lead" in lead.get_by_test_id("mlp-models-role").inner_text()
        lead.locator(".jp-SideBar [title='ML Platform']").first.click()  # the panel gets the whole width
        row = lead.locator("[data-testid=mlp-models-list] [data-testid=mlp-model-row][data-model=churn]")
        badge = row.get_by_test_id("mlp-model-pending")
        badge.wait_for(timeout=60_000)
        assert badge.inner_text().strip() == "1 pending"
        assert lead.locator("[data-testid=mlp-model-row][data-model=credit] [data-testid=mlp-model-pending]"
                            ).count() == 0
        lead.screenshot(path=str(ARTIFACTS / "ship-approval-badge.png"))
        row.click()
        pending = lead.get_by_test_id("mlp-model-view").get_by_test_id("mlp-approvals").get_by_test_id(
            "mlp-approval-row")
        pending.wait_for(timeout=60_000)
        pending.scroll_into_view_if_needed()
        pending.get_by_test_id("mlp-approval-reason").fill("Shipped from churn.ipynb, accuracy as validated")
        pending.get_by_test_id("mlp-approve").click()
        lead.get_by_test_id("mlp-model-view").locator("[data-testid=mlp-decision][data-status=approved]").wait_for(
            timeout=120_000)

        # sam's progress view goes on by itself to the endpoint
        sam.locator("[data-testid='mlp-ship-progress'][data-status='succeeded'],"
                    "[data-testid='mlp-ship-progress'][data-status='failed']").wait_for(timeout=480_000)
        assert progress.get_attribute("data-status") == "succeeded", progress.inner_text()
        for step in ("approval", "deploy", "monitor", "endpoint"):
            assert progress.locator(f"[data-step='{step}'][data-status='done']").count() == 1, step
        assert f"approved by {getpass.getuser()}" in progress.locator("[data-step='approval']").inner_text()
        url = sam.get_by_test_id("mlp-ship-url").inner_text().strip()
        assert url.endswith("/serve/acme/churn-api/invocations")
        sam.get_by_test_id("mlp-ship-endpoint").scroll_into_view_if_needed()
        sam.screenshot(path=str(ARTIFACTS / "ship-approval-done.png"))
    finally:
        sam_ctx.close()
        lead_ctx.close()
