"""Ship from the file browser (issue 16 item 1): right-click a validated notebook, Ship…, look at the plan, Ship —
one progress view of every step, then the endpoint, its key shown once and requests that answer. Three actions.
Screenshots: ship-dialog.png (the plan), ship-progress.png (while the pipeline runs), ship-endpoint.png."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MLP
from tests.helpers import notebook as _nb

pytestmark = pytest.mark.browser

CELLS = [
    ("import mlflow\nimport mlflow.sklearn\nfrom mlflow.models import infer_signature\n"
     "from jupyter_mlp import datasets\nfrom sklearn.linear_model import LogisticRegression", ["imports"]),
    ("C = 1.0", ["parameters"]),
    ("frame = datasets.read('customers')", ["stage:prep"]),
    ("X = frame[['x1', 'x2']]\nmodel = LogisticRegression(C=C).fit(X, frame.y)\n"
     "mlflow.log_metric('accuracy', float(model.score(X, frame.y)))\n"
     "mlflow.sklearn.log_model(model, name='model', signature=infer_signature(X, model.predict(X)),\n"
     "                         pip_requirements=['scikit-learn'])", ["stage:train"]),
]


@pytest.fixture
def validated_notebook(platform_root):
    folder = platform_root / "acme"
    folder.mkdir()
    (folder / "mlp-project.toml").write_text('project = "acme"\n')
    (folder / "churn.ipynb").write_text(json.dumps(_nb(CELLS)))


def _validated_run(monkeypatch) -> None:  # noqa: ANN001
    """The training table, and the notebook's last run as its kernel logs it (tagged with its path)."""
    import mlflow
    import numpy as np
    import pandas as pd

    from jupyter_mlp import datasets
    from jupyter_mlp.client import BackendClient

    client = BackendClient()
    c = client.post("/projects/acme/kernel-token", {})
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{client.url}{c['tracking_path']}")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", c["token"])
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", c["experiment_id"])
    monkeypatch.setenv("MLP_PROJECT", "acme")
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    datasets.register("customers", pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1],
                                                 "y": (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)}))
    with mlflow.start_run(tags={"mlp.notebook.path": "acme/churn.ipynb"}):
        mlflow.log_metric("accuracy", 0.95)
    mlflow.set_tracking_uri(None)


def test_ship_a_notebook_from_the_file_browser(mlp_home, validated_notebook, platform, page, shot, monkeypatch):
    env = {**os.environ, "MLP_HOME": str(mlp_home)}
    subprocess.run([str(MLP), "projects", "create", "acme"], env=env, check=True, capture_output=True, timeout=120)
    _validated_run(monkeypatch)
    base, token = platform.split("lab?token=")
    page.goto(f"{base}lab/tree/acme?token={token}")
    item = page.locator(".jp-DirListing-item[data-file-type='notebook']", has_text="churn.ipynb")
    item.wait_for(state="attached", timeout=60_000)
    if not item.is_visible():
        page.locator(".jp-SideBar [data-id='filebrowser']").first.click()
    item.wait_for(timeout=30_000)
    item.click(button="right")  # action 1
    page.locator(".lm-Menu-itemLabel", has_text="Ship…").click()  # action 2

    plan = page.get_by_test_id("mlp-ship-plan")
    plan.wait_for(timeout=60_000)
    assert page.get_by_test_id("mlp-ship-pipeline").input_value() == "churn"
    assert "accuracy = 0.95" in page.get_by_test_id("mlp-ship-metric").inner_text()
    assert page.get_by_test_id("mlp-ship-threshold-value-0").input_value() == "0.93"
    assert page.get_by_test_id("mlp-ship-deployment").input_value() == "churn-api"
    shot("ship-dialog")
    # The whole button is in view without scrolling (it was half under the fold of the scrolling plan).
    expect(page.get_by_test_id("mlp-ship-run")).to_be_in_viewport(ratio=1)
    page.get_by_test_id("mlp-ship-run").click()  # action 3

    progress = page.get_by_test_id("mlp-ship-progress")
    progress.wait_for(timeout=60_000)
    progress.locator("[data-step='run'][data-status='running']").wait_for(timeout=120_000)
    shot("ship-progress")
    page.locator("[data-testid='mlp-ship-progress'][data-status='succeeded']").wait_for(timeout=480_000)
    endpoint = page.get_by_test_id("mlp-ship-endpoint")
    endpoint.wait_for()
    url = page.get_by_test_id("mlp-ship-url").inner_text().strip()
    key = page.get_by_test_id("mlp-ship-key").inner_text().strip()
    assert url.endswith("/serve/acme/churn-api/invocations") and key.startswith("mlpk_")
    for step in ("promote", "run", "register", "gates", "deploy", "monitor", "endpoint"):
        assert progress.locator(f"[data-step='{step}'][data-status='done']").count() == 1, step
    assert progress.locator("[data-step='approval'][data-status='skipped']").count() == 1
    # local stages (this platform's MLP_CONTAINER_ENGINE): the base image step says there is no image to build
    assert progress.locator("[data-step='image'][data-status='skipped']").count() == 1
    endpoint.scroll_into_view_if_needed()
    shot("ship-endpoint")
    curl = endpoint.locator("[data-request='curl'] pre").inner_text()
    body = json.loads(curl.split(" -d ", 1)[1].strip().strip("'"))
    assert body["dataframe_split"]["columns"] == ["x1", "x2"] and len(body["dataframe_split"]["data"]) == 1
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1, answer.text
