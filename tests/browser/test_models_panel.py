"""A project lead in real JupyterLab: register a run's logged model from the Models panel, require approval for
champion, promote, approve with a reason, see the champion chip, the lineage and a refused registration explained."""

from __future__ import annotations

import getpass

import pytest

from tests.browser.test_projects_panel import open_panel

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = [pytest.mark.browser, pytest.mark.settings(dagster_start_with_platform=False)]

ADMIN = "platform-admin"


@pytest.fixture
def mlp_home(mlp_home):
    """The platform's data directory, set up so that another user is platform admin: the browser user (the local
    user) is then only what the project makes it, a lead."""
    mlp_home.mkdir(parents=True, exist_ok=True)
    (mlp_home / "settings.toml").write_text(f'admin_users = ["{ADMIN}"]\n')
    return mlp_home


@pytest.fixture
def lead_project(platform):
    """Project `acme` whose lead is the browser user (the local user), created by the platform admin."""
    from jupyter_mlp.client import BackendClient

    admin = BackendClient(user=ADMIN)
    admin.post("/projects", {"slug": "acme", "name": "Acme credit"})
    admin.put(f"/projects/acme/members/{getpass.getuser()}", {"role": "lead"})
    return "acme"


@pytest.fixture
def logged_runs(lead_project, use_mlflow):
    """Two runs of the project (C=0.5, then C=2) with scikit-learn models logged through the project's MLflow."""
    import mlflow
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlp.client import BackendClient

    client = BackendClient()
    creds = client.post(f"/projects/{lead_project}/kernel-token")
    use_mlflow({"MLFLOW_TRACKING_URI": f"{client.url}{creds['tracking_path']}",
                "MLFLOW_TRACKING_TOKEN": creds["token"], "MLFLOW_EXPERIMENT_ID": creds["experiment_id"]})
    x, y = load_iris(return_X_y=True)
    runs = []
    for c in (0.5, 2.0):
        model = LogisticRegression(max_iter=300, C=c).fit(x, y)
        with mlflow.start_run() as run:
            mlflow.log_params({"C": c, "max_iter": 300})
            mlflow.log_metrics({"accuracy": float(model.score(x, y))})
            mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"],
                                     serialization_format="cloudpickle")
        runs.append(run.info.run_id)
    return runs


def test_register_gate_approve_lineage_and_diff(platform, logged_runs, page, shot):
    page.goto(platform)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option("acme")
    page.get_by_test_id("mlp-open-models").click()
    panel = page.get_by_test_id("mlp-models")
    panel.wait_for(state="visible")
    page.get_by_test_id("mlp-models-empty").wait_for(timeout=30_000)
    assert "lead" in page.get_by_test_id("mlp-models-role").inner_text()
    page.locator(".jp-SideBar [title='ML Platform']").first.click()  # the panel gets the whole width

    # A run the project does not have: the backend's refusal, in its words, under the form.
    form = page.get_by_test_id("mlp-register-form")
    form.get_by_test_id("mlp-register-run").fill("no-such-run")
    form.get_by_test_id("mlp-register-name").fill("credit")
    form.get_by_test_id("mlp-register-submit").click()
    error = form.get_by_test_id("mlp-register-error")
    error.wait_for(timeout=60_000)
    assert "Run 'no-such-run' not found" in error.inner_text()
    assert page.get_by_test_id("mlp-model-row").count() == 0

    form.get_by_test_id("mlp-register-run").fill(logged_runs[0])
    assert form.get_by_test_id("mlp-register-path").input_value() == "model"
    form.get_by_test_id("mlp-register-submit").click()
    assert "credit v1" in form.get_by_test_id("mlp-register-result").inner_text(timeout=120_000)
    assert error.count() == 0
    page.locator("[data-testid=mlp-models-list] [data-testid=mlp-model-row][data-model=credit]").wait_for()
    view = page.get_by_test_id("mlp-model-view")
    v1 = view.locator("[data-testid=mlp-version-row][data-version='1']")
    v1.wait_for(timeout=30_000)
    assert "signed" in v1.inner_text()
    assert "accuracy" in v1.inner_text()

    v1.get_by_test_id("mlp-version-verify").click()
    verified = view.get_by_test_id("mlp-verify-result")
    verified.wait_for(timeout=60_000)
    assert verified.get_attribute("data-ok") == "true", verified.inner_text()

    gates = view.get_by_test_id("mlp-gates-form")
    gates.get_by_test_id("mlp-gates-approval").check()
    gates.get_by_test_id("mlp-gates-save").click()
    gates.get_by_test_id("mlp-gates-saved").wait_for(timeout=30_000)

    v1.get_by_test_id("mlp-promote-champion").click()
    view.locator("[data-testid=mlp-decision][data-status=pending]").wait_for(timeout=120_000)
    assert v1.locator(".jp-mlp-alias", has_text="champion").count() == 0  # nothing moved yet

    approvals = view.get_by_test_id("mlp-approvals")
    pending = approvals.get_by_test_id("mlp-approval-row")
    pending.wait_for(timeout=30_000)
    assert pending.locator("[data-gate=signature][data-passed=true]").count() == 1
    pending.scroll_into_view_if_needed()
    shot("models-approval")
    approve = pending.get_by_test_id("mlp-approve")
    assert approve.is_disabled()  # a reason first
    pending.get_by_test_id("mlp-approval-reason").fill("Validated on the March holdout")
    approve.click()
    decision = view.locator("[data-testid=mlp-decision][data-status=approved]")
    decision.wait_for(timeout=120_000)
    assert "Validated on the March holdout" in decision.inner_text()
    v1.locator(".jp-mlp-alias", has_text="champion").wait_for(timeout=30_000)
    approvals.get_by_test_id("mlp-approvals-empty").wait_for(timeout=30_000)
    assert approvals.get_by_test_id("mlp-approval-row").count() == 0
    page.locator("[data-testid=mlp-model-row][data-model=credit] .jp-mlp-alias", has_text="champion").wait_for()
    panel.locator(".jp-mlp-models-body").evaluate("el => el.scrollTo(0, 0)")
    shot("models-panel")

    v1.get_by_test_id("mlp-version-lineage").click()
    lineage = view.get_by_test_id("mlp-lineage")
    lineage.locator("[data-kind=model_version]").wait_for(timeout=30_000)
    lineage.locator("[data-kind=mlflow_run]").wait_for()
    assert "champion" in lineage.locator("[data-kind=model_version]").text_content()
    lineage.scroll_into_view_if_needed()
    shot("models-lineage")

    # v1's model card, made by the backend from the records (issue 13 item 7): the lead's approval and reason and
    # the run's parameters, each statement with its citation chips (record text shown as text).
    v1.get_by_test_id("mlp-version-card").click()
    card = view.get_by_test_id("mlp-model-card-section")
    approved = card.locator("section[data-section=approvals]")
    approved.locator("li").first.wait_for(timeout=60_000)
    assert "approved" in approved.inner_text() and "Validated on the March holdout" in approved.inner_text()
    assert approved.locator(".jp-mlp-card-cite[data-type=gate_decision]").count() >= 1
    params = card.locator("section[data-section=parameters]").inner_text()
    assert "C = 0.5" in params and f"run {logged_runs[0]}" in params
    assert card.locator("section").count() == 12  # ... monitoring, alerts and retrainings since deployment
    card.scroll_into_view_if_needed()
    shot("models-card")
    with page.expect_download() as saved:
        card.get_by_test_id("mlp-model-card-markdown").click()
    assert saved.value.suggested_filename == "credit-v1-card.md"
    assert "Validated on the March holdout" in open(saved.value.path(), encoding="utf-8").read()
    card.get_by_role("button", name="Close model card").click()
    card.wait_for(state="detached", timeout=10_000)

    # A second version from the other run: the diff shows the parameter that differs.
    diff = view.get_by_test_id("mlp-diff")
    assert "second version" in diff.inner_text()
    form.get_by_test_id("mlp-register-run").fill(logged_runs[1])
    form.get_by_test_id("mlp-register-submit").click()
    view.locator("[data-testid=mlp-version-row][data-version='2']").wait_for(timeout=120_000)
    assert diff.get_by_test_id("mlp-diff-a").input_value() == "1"
    assert diff.get_by_test_id("mlp-diff-b").input_value() == "2"
    changed = diff.locator("[data-section=params] tr[data-key=C]")
    changed.wait_for(timeout=30_000)
    assert changed.get_attribute("data-changed") == "true"
    assert diff.locator("[data-section=params] tr[data-key=max_iter]").get_attribute("data-changed") == "false"
    diff.scroll_into_view_if_needed()
    shot("models-diff")
