"""The "View run" link MLflow prints under a notebook cell opens that run in the Experiments panel (it pointed at
`/mlflow/...` and answered 404); the sidebar names the creator's role as the members table does."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.browser.conftest import MLP
from tests.browser.test_projects_panel import open_panel

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = [pytest.mark.browser, pytest.mark.settings(dagster_start_with_platform=False)]

CELL = """\
import mlflow
with mlflow.start_run(run_name="linked"):
    mlflow.log_metric("auc", 0.8)
"""


def test_view_run_link_opens_the_run_in_the_experiments_panel(mlp_home, platform, platform_root, page, shot):
    env = {**os.environ, "MLP_HOME": str(mlp_home)}
    subprocess.run([str(MLP), "projects", "create", "acme", "--name", "Acme credit"], env=env, check=True,
                   capture_output=True, timeout=120)
    folder = platform_root / "acme"
    folder.mkdir()
    (folder / "mlp-project.toml").write_text('project = "acme"\n')
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": CELL, "outputs": [], "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / "link.ipynb").write_text(json.dumps(nb))
    base, token = platform.split("lab?token=")

    page.goto(f"{base}lab/tree/acme/link.ipynb?token={token}")
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=90_000)
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=mlp-notebook-project]')?.textContent || '').includes('acme')",
        timeout=30_000)
    # Run the cell once the kernel is up: an execute sent before it connects is dropped.
    page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=90_000)
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="View run linked")
    try:
        output.wait_for(timeout=120_000)
    except Exception:
        shot("view-run-link-no-output")
        raise AssertionError(page.locator(".jp-NotebookPanel").first.inner_text()[-2000:]) from None
    link = re.search(r"View run linked at: (\S+)", output.inner_text()).group(1)
    assert "/mlflow/acme/#/experiments/" in link
    shot("view-run-link-output")

    # A run open in the panel's detail follows its status live (it read RUNNING until the page was reloaded).
    page.keyboard.type("live = mlflow.start_run(run_name='live')")  # Shift+Enter left the next cell in edit mode
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("mlflow.end_run()")
    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option("acme")
    page.get_by_test_id("mlp-open-experiments").click()
    page.locator("[data-testid=mlp-runs-table] [data-run-id]", has_text="live").first.click()
    live = page.get_by_test_id("mlp-run-detail")
    page.locator("[data-testid=mlp-run-detail] .jp-mlp-status", has_text="RUNNING").wait_for(timeout=30_000)
    page.locator(".lm-TabBar-tab", has_text="link.ipynb").first.click()
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content").nth(2).click()
    page.keyboard.press("Shift+Enter")
    page.locator(".lm-TabBar-tab", has_text="Experiments").first.click()
    page.locator("[data-testid=mlp-run-detail] .jp-mlp-status", has_text="FINISHED").wait_for(timeout=20_000)
    assert "live" in live.inner_text().lower()
    shot("view-run-link-live-status")

    page.goto(link)  # what clicking it does (in a new tab)
    detail = page.get_by_test_id("mlp-run-detail")
    try:
        detail.wait_for(state="visible", timeout=60_000)
    except Exception:
        shot("view-run-link-no-detail")
        raise AssertionError(f"{page.url}: {page.locator('body').inner_text()[-1500:]}") from None
    run_id = link.rsplit("/", 1)[-1]
    assert detail.get_attribute("data-run-id") == run_id
    page.locator("[data-testid=mlp-run-detail] h3", has_text="linked").wait_for()
    assert "FINISHED" in detail.inner_text()
    assert "mlp-project" not in page.url  # the link's parameters are not left in the address
    detail.get_by_test_id("mlp-chart").first.wait_for()  # the one-step metric is drawn
    shot("view-run-link-panel")

    open_panel(page)
    role = page.get_by_test_id("mlp-role")
    role.wait_for()
    assert role.inner_text() in ("lead (with platform admin rights)", "lead"), role.inner_text()
