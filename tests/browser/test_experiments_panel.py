"""A data scientist in real JupyterLab: train with autolog in a project notebook, watch the runs arrive in the
Experiments panel without refreshing, compare two runs and see the differing parameter highlighted."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.browser.conftest import MLP
from tests.browser.test_projects_panel import open_panel

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = [pytest.mark.browser, pytest.mark.settings(dagster_start_with_platform=False)]

CELL = """\
import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
mlflow.sklearn.autolog(log_models=False, log_datasets=False)
X, y = load_iris(return_X_y=True)
for C in (0.1, 1.0):
    LogisticRegression(max_iter=300, C=C).fit(X, y)
print("trained", mlflow.last_active_run().info.experiment_id)
"""


@pytest.fixture
def project_notebook(mlp_home, platform_root):
    folder = platform_root / "acme"
    folder.mkdir()
    (folder / "mlp-project.toml").write_text('project = "acme"\n')
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": CELL, "outputs": [], "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / "train.ipynb").write_text(json.dumps(nb))
    return "acme/train.ipynb"


def test_autolog_runs_appear_live_and_compare_highlights_the_difference(
    mlp_home, platform, project_notebook, page, shot
):
    env = {**os.environ, "MLP_HOME": str(mlp_home)}
    subprocess.run([str(MLP), "projects", "create", "acme", "--name", "Acme credit"], env=env, check=True,
                   capture_output=True, timeout=120)
    base, token = platform.split("lab?token=")

    page.goto(f"{base}lab/tree/{project_notebook}?token={token}")
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=90_000)
    label = page.get_by_test_id("mlp-notebook-project")
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=mlp-notebook-project]')?.textContent || '').includes('acme')",
        timeout=30_000)
    assert "acme" in label.inner_text()

    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option("acme")
    page.get_by_test_id("mlp-open-experiments").click()
    experiments = page.get_by_test_id("mlp-experiments")
    experiments.wait_for(state="visible")
    # The first page waits for MLflow, which the platform starts with it (its fresh store is created then). On CI's
    # loaded machine "0 runs" had not shown after 60 s; here MLflow answers ~10 s after `mlp up`. Until the page
    # comes, the panel says it is loading (a failure now leaves a screenshot and the logs' tails: conftest).
    count = page.get_by_test_id("mlp-runs-count")
    page.wait_for_function(
        "() => /Loading runs|0 runs/.test(document.querySelector('[data-testid=mlp-runs-count]')?.textContent || '')",
        timeout=30_000)
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=mlp-runs-count]')?.textContent || '').includes('0 runs')",
        timeout=180_000)
    assert count.inner_text().strip() == "0 runs"
    # The notebook may grab focus back when its kernel comes up; show the panel for the picture.
    page.locator(".lm-TabBar-tab", has_text="Experiments").first.click()
    shot("experiments-empty")
    assert page.locator("[data-testid=mlp-runs-table] [data-run-id]").count() == 0

    # Back to the notebook: run the cell. The panel is not touched again before the runs show up in it.
    page.locator(".lm-TabBar-tab", has_text="train.ipynb").first.click()
    # Run the cell once the kernel is up: an execute sent before it connects is dropped (the platform now starts
    # Dagster at start too, and the kernel comes up later on a loaded machine).
    page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=180_000)
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")
    trained = page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="trained")
    try:
        trained.wait_for(timeout=180_000)
    except Exception:
        shot("experiments-notebook-not-trained")
        raise AssertionError(page.locator(".jp-NotebookPanel").first.inner_text()[-2000:]) from None
    shot("experiments-notebook-trained")

    page.locator(".lm-TabBar-tab", has_text="Experiments").first.click()
    rows = page.locator("[data-testid=mlp-runs-table] [data-run-id]")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=mlp-runs-table] [data-run-id]').length === 2",
        timeout=15_000)
    shot("experiments-runs")

    for i in range(2):
        rows.nth(i).locator("input[type=checkbox]").check()
    page.get_by_test_id("mlp-compare-button").click()
    compare = page.get_by_test_id("mlp-compare")
    compare.wait_for(state="visible")
    differing = compare.locator("tr[data-param='C']")
    differing.wait_for()
    assert differing.get_attribute("data-differs") == "true"
    same = compare.locator("tr[data-param='max_iter']")
    assert same.get_attribute("data-differs") == "false"
    shot("experiments-compare")
