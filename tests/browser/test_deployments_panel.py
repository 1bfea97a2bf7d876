"""A project lead in real JupyterLab: deploy the champion from the Models panel's Deploy button, score a dataset
in a batch job, create an API key, call the endpoint with it, see the calls in the charts, switch to staging and
roll back, and revoke the key."""

from __future__ import annotations

import getpass
import re

import httpx
import pytest

from tests.browser.test_projects_panel import open_panel

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = [pytest.mark.browser, pytest.mark.settings(dagster_start_with_platform=False)]

ADMIN = "platform-admin"
CALLS = 30


@pytest.fixture
def mlp_home(mlp_home):
    """Another user is platform admin: the browser user (the local user) is only what the project makes it, a lead."""
    mlp_home.mkdir(parents=True, exist_ok=True)
    (mlp_home / "settings.toml").write_text(f'admin_users = ["{ADMIN}"]\n')
    return mlp_home


@pytest.fixture
def published(platform, use_mlflow):
    """Project `acme` (the browser user is lead) with model `credit`: v1 champion, v2 staging, both logged with
    a signature, registered and passed through the gates. Returns (backend URL, feature columns, a row)."""
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlp.client import BackendClient

    admin = BackendClient(user=ADMIN)
    admin.post("/projects", {"slug": "acme", "name": "Acme credit"})
    admin.put(f"/projects/acme/members/{getpass.getuser()}", {"role": "lead"})

    client = BackendClient()
    creds = client.post("/projects/acme/kernel-token")
    use_mlflow({"MLFLOW_TRACKING_URI": f"{client.url}{creds['tracking_path']}",
                "MLFLOW_TRACKING_TOKEN": creds["token"], "MLFLOW_EXPERIMENT_ID": creds["experiment_id"]})
    iris = load_iris()
    x = pd.DataFrame(iris.data, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    for c, alias in ((0.5, "champion"), (2.0, "staging")):
        model = LogisticRegression(max_iter=300, C=c).fit(x, iris.target)
        with mlflow.start_run() as run:
            mlflow.log_metrics({"accuracy": float(model.score(x, iris.target))})
            mlflow.sklearn.log_model(model, name="model", signature=infer_signature(x, model.predict(x)),
                                     pip_requirements=["scikit-learn"], serialization_format="cloudpickle")
        v = client.post("/projects/acme/models", {"name": "credit", "run_id": run.info.run_id})
        d = client.post(f"/projects/acme/models/credit/versions/{v['version']}/promote", {"alias": alias})
        assert d["status"] == "passed", d
    return client.url, list(x.columns), [float(v) for v in x.iloc[0]]


def figure(page, key: str) -> int:
    return int(page.get_by_test_id(f"mlp-metric-{key}").get_attribute("data-value"))


def test_deploy_call_watch_switch_rollback_and_revoke(platform, published, page, shot, monkeypatch):
    backend, columns, row = published
    page.goto(platform)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option("acme")

    # The Models panel's Deploy button opens Deployments with the form filled for the champion.
    page.get_by_test_id("mlp-open-models").click()
    page.locator("[data-testid=mlp-model-row][data-model=credit]").click()
    v1 = page.locator("[data-testid=mlp-version-row][data-version='1']")
    deploy = v1.get_by_test_id("mlp-models-deploy")
    deploy.wait_for(timeout=30_000)
    shot("models-deploy-button")
    deploy.click()
    panel = page.get_by_test_id("mlp-deployments")
    panel.wait_for(state="visible")
    page.get_by_test_id("mlp-deployments-empty").wait_for(timeout=30_000)
    page.locator(".jp-SideBar [title='ML Platform']").first.click()  # the panel gets the whole width
    form = page.get_by_test_id("mlp-deploy-form")
    assert form.get_by_test_id("mlp-deploy-model").input_value() == "credit"
    assert form.get_by_test_id("mlp-deploy-target").input_value() == "champion"
    assert form.get_by_test_id("mlp-deploy-name").input_value() == "credit"

    # A name the URL cannot hold is refused in the form; then the deploy waits for the workers.
    form.get_by_test_id("mlp-deploy-name").fill("Credit API")
    form.get_by_test_id("mlp-deploy-submit").click()
    assert "lowercase" in form.inner_text()
    form.get_by_test_id("mlp-deploy-name").fill("credit-api")
    form.get_by_test_id("mlp-deploy-submit").click()
    view = page.get_by_test_id("mlp-deployment-view")
    view.locator("[data-testid=mlp-deployment-status][data-status=ready]").wait_for(timeout=120_000)
    assert page.locator("[data-testid=mlp-deployment-row][data-deployment=credit-api][data-status=ready]").count() == 1
    assert view.get_by_test_id("mlp-deployment-version").get_attribute("data-version") == "1"
    # The address a client system calls, and an example body with the signature's real columns (issue 18, 14).
    assert view.get_by_test_id("mlp-deployment-url").inner_text() == f"{published[0]}/serve/acme/credit-api/invocations"
    curl = view.get_by_test_id("mlp-deployment-curl").inner_text()
    assert f"{published[0]}/serve/acme/credit-api/invocations" in curl
    assert "<backend>" not in curl and "<feature>" not in curl
    assert all(c in curl for c in columns), curl
    assert view.get_by_test_id("mlp-rollback").is_disabled()  # nothing served before

    # Batch scoring: a dataset registered from a kernel, scored from the panel in chunks of 40 (4 chunks).
    import pandas as pd
    from sklearn.datasets import load_iris

    from jupyter_mlp import datasets

    monkeypatch.setenv("MLP_PROJECT", "acme")
    iris = pd.DataFrame(load_iris().data, columns=columns)
    snap = datasets.register("applicants", iris.assign(customer=range(len(iris))))
    batch = view.get_by_test_id("mlp-batch")
    batch.get_by_test_id("mlp-batch-dataset").focus()  # reloads the project's datasets
    batch.locator("[data-testid=mlp-batch-dataset] option[value=applicants]").wait_for(state="attached",
                                                                                      timeout=30_000)
    batch.get_by_test_id("mlp-batch-dataset").select_option("applicants")
    batch.get_by_test_id("mlp-batch-chunk-rows").fill("0")
    batch.get_by_test_id("mlp-batch-submit").click()
    assert "Rows per chunk" in batch.get_by_test_id("mlp-batch-error").inner_text()
    batch.get_by_test_id("mlp-batch-chunk-rows").fill("40")
    batch.get_by_test_id("mlp-batch-output").fill("applicants_scored")
    batch.get_by_test_id("mlp-batch-submit").click()
    job = batch.get_by_test_id("mlp-batch-row").first
    job.wait_for(timeout=30_000)
    batch.locator("[data-testid=mlp-batch-row][data-status=succeeded]").wait_for(timeout=120_000)
    progress = job.get_by_test_id("mlp-batch-progress")
    assert (progress.get_attribute("data-done"), progress.get_attribute("data-total")) == ("4", "4")
    assert "4/4 chunks · 150 rows" in job.inner_text()
    assert job.get_by_test_id("mlp-batch-status").inner_text().strip() == "Succeeded"
    assert re.search(rf"applicants @ {snap} → applicants_scored @ \d+", job.inner_text()), job.inner_text()
    assert datasets.read("applicants_scored").customer.tolist() == list(range(len(iris)))
    batch.evaluate("el => el.scrollIntoView({block: 'start'})")
    shot("deployments-batch")

    # A key for the CRM, limited to this deployment: shown once.
    keys = page.get_by_test_id("mlp-keys")
    keys.get_by_test_id("mlp-key-name").fill("crm")
    assert keys.get_by_test_id("mlp-key-deployment").input_value() == "credit-api"
    keys.get_by_test_id("mlp-key-create").click()
    key = keys.get_by_test_id("mlp-new-key").inner_text(timeout=30_000).strip()
    assert "you will not see it again" in keys.inner_text()
    prefix = re.fullmatch(r"mlpk_([0-9a-f]+)_\S+", key).group(1)
    key_row = keys.locator(f"[data-testid=mlp-key-row][data-prefix='{prefix}']")
    assert "only credit-api" in key_row.inner_text()
    keys.scroll_into_view_if_needed()
    shot("deployments-new-key")

    # The client system calls the endpoint.
    url = f"{backend}/serve/acme/credit-api/invocations"
    body = {"dataframe_split": {"columns": columns, "data": [row]}}
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        for _ in range(CALLS):
            r = http.post(url, json=body)
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == [0]

    # The panel refreshes on its own: the calls show in the figures and the latency chart.
    page.wait_for_function(
        "n => Number(document.querySelector('[data-testid=mlp-metric-requests]')?.dataset.value) >= n",
        arg=CALLS, timeout=30_000)
    assert figure(page, "requests") >= CALLS
    latency = view.get_by_test_id("mlp-latency-chart")
    assert int(latency.get_attribute("data-points")) >= 1
    latency.locator("canvas").first.wait_for()
    view.get_by_test_id("mlp-traffic-chart").locator("canvas").first.wait_for()
    assert view.locator("[data-testid=mlp-event-row][data-action=deploy]").count() == 1
    assert "worker" in view.get_by_test_id("mlp-logs").inner_text()
    panel.locator(".jp-mlp-deployments-body").evaluate("el => el.scrollTo(0, 0)")
    shot("deployments-list")
    view.evaluate("el => el.scrollIntoView({block: 'start'})")
    shot("deployments-panel")

    # Switch to staging (v2) with no downtime, then roll back to v1.
    view.get_by_test_id("mlp-switch-version").fill("staging")
    view.get_by_test_id("mlp-switch-submit").click()
    view.locator("[data-testid=mlp-deployment-version][data-version='2']").wait_for(timeout=120_000)
    view.locator("[data-testid=mlp-event-row][data-action=switch]").wait_for(timeout=30_000)
    with httpx.Client(headers={"X-API-Key": key}, timeout=30) as http:
        assert http.post(url, json=body).status_code == 200
    rollback = view.get_by_test_id("mlp-rollback")
    assert "v1" in rollback.inner_text()
    rollback.click()
    view.locator("[data-testid=mlp-deployment-version][data-version='1']").wait_for(timeout=120_000)
    view.locator("[data-testid=mlp-event-row][data-action=rollback]").wait_for(timeout=30_000)
    view.get_by_test_id("mlp-events").scroll_into_view_if_needed()
    shot("deployments-events")

    # Deploying the same name again: the backend's refusal, in words, under the form.
    form.get_by_test_id("mlp-deploy-model").fill("credit")
    form.get_by_test_id("mlp-deploy-name").fill("credit-api")
    form.get_by_test_id("mlp-deploy-submit").click()
    assert "exists" in form.get_by_test_id("mlp-deploy-error").inner_text(timeout=30_000)
    assert form.get_by_test_id("mlp-deploy-name").get_attribute("aria-invalid") == "true"

    # Revoked in the panel: the next call gets 401.
    key_row.get_by_test_id("mlp-key-revoke").click()
    keys.locator(f"[data-testid=mlp-key-row][data-prefix='{prefix}'][data-revoked=true]").wait_for(timeout=30_000)
    assert keys.get_by_test_id("mlp-new-key").count() == 0
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        assert http.post(url, json=body).status_code == 401
    keys.scroll_into_view_if_needed()
    shot("deployments-keys")
