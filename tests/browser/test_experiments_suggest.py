"""Suggest in the Experiments panel, in real JupyterLab: the platform as `mlp up` starts it (its AI services process
reading a corpus built under MLP_HOME: the corpus module's fixture), a dataset snapshot and a run of the project
written through the gateway; pick the dataset and target, see the ranked families with their evidence chips, copy a
search space, and open the cited run from its chip."""

from __future__ import annotations

import os
import subprocess

import pytest

from jupyter_mlp_gpu.recommender.corpus import fixture_corpus
from tests.browser.conftest import MLP
from tests.browser.test_projects_panel import open_panel
from tests.recommender.test_suggest_route import _dataset, _frame, _run

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = [pytest.mark.browser, pytest.mark.settings(dagster_start_with_platform=False)]


class _Kernel:
    """`_dataset` / `_run` want a backend with `kernel_env(user, slug)`: the platform's, as the local user."""

    def __init__(self, client):
        self.client = client

    def kernel_env(self, user, slug):  # noqa: ANN001, ANN201
        c = self.client.post(f"/projects/{slug}/kernel-token")
        return {"MLFLOW_TRACKING_URI": f"{self.client.url}{c['tracking_path']}",
                "MLFLOW_TRACKING_TOKEN": c["token"], "MLFLOW_EXPERIMENT_ID": c["experiment_id"]}


@pytest.fixture
def home_corpus(mlp_home):
    fixture_corpus(mlp_home / "recommender" / "corpus", n_datasets=16)


def test_suggest_lists_families_with_evidence_and_opens_the_cited_run(mlp_home, home_corpus, platform, page, shot,
                                                                     monkeypatch):
    from jupyter_mlp.client import BackendClient

    env = {**os.environ, "MLP_HOME": str(mlp_home)}
    subprocess.run([str(MLP), "projects", "create", "acme", "--name", "Acme credit"], env=env, check=True,
                   capture_output=True, timeout=120)
    monkeypatch.setenv("MLP_HOME", str(mlp_home))
    kernel = _Kernel(BackendClient())
    snap = _dataset(kernel, "", "acme", "churn", _frame(0, "churned"))
    run_id = _run(kernel, "", "acme", "acme-forest", "churn", snap, "churned",
                  {"n_estimators": "120", "max_features": "sqrt"}, 0.91)

    base, token = platform.split("lab?token=")
    page.goto(f"{base}lab?token={token}")
    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option("acme")
    page.get_by_test_id("mlp-open-experiments").click()
    page.get_by_test_id("mlp-experiments").wait_for(state="visible")
    page.get_by_test_id("mlp-suggest-button").click()
    pane = page.get_by_test_id("mlp-suggest")
    pane.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('[data-testid=mlp-suggest-dataset]')?.value === 'churn'")
    assert page.get_by_test_id("mlp-suggest-run").is_disabled()  # no target yet
    page.get_by_test_id("mlp-suggest-target").fill("churned")
    page.get_by_test_id("mlp-suggest-run").click()
    families = page.locator("[data-testid=mlp-suggest-families] > li")
    families.first.wait_for(timeout=120_000)
    names = [families.nth(i).get_attribute("data-family") for i in range(families.count())]
    assert names and "random_forest" in names
    rf = page.locator("[data-testid=mlp-suggest-families] > li[data-family=random_forest]")
    chip = rf.locator(f"[data-testid=mlp-suggest-chip][data-id='{run_id}']")
    assert chip.inner_text() == "run acme-forest"
    assert rf.locator("[data-testid=mlp-suggest-chip]", has_text="dataset fixture:").count() >= 1
    shot("experiments-suggest")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    rf.get_by_test_id("mlp-suggest-copy").click()
    assert rf.get_by_test_id("mlp-suggest-copy").inner_text() == "Copied"

    chip.click()
    page.locator(f"[data-testid=mlp-run-detail][data-run-id='{run_id}']").wait_for(state="visible")
    shot("experiments-suggest-cited-run")
    # bad input in words: a target the dataset lacks
    page.get_by_test_id("mlp-suggest-button").click()
    page.get_by_test_id("mlp-suggest-target").fill("income")
    page.wait_for_function("() => document.querySelector('[data-testid=mlp-suggest-dataset]')?.value === 'churn'")
    page.get_by_test_id("mlp-suggest-run").click()
    err = page.get_by_test_id("mlp-suggest-error")
    err.wait_for(timeout=60_000)
    assert "'income' is not in" in err.inner_text()
