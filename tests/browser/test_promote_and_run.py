"""A data scientist right-clicks a tagged notebook, promotes it, runs it with another parameter value, and
watches every stage succeed."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.browser.conftest import MLP

pytestmark = pytest.mark.browser

CELLS = [
    ("import math", ["imports"]),
    ("alpha = 0.5\nepochs = 3", ["parameters"]),
    ("data = [i * alpha for i in range(epochs)]", ["stage:prep"]),
    ("score = math.fsum(data)\nprint('score', score)", ["stage:train"]),
]


@pytest.fixture
def tagged_notebook(platform_root):
    folder = platform_root / "acme"
    folder.mkdir()
    (folder / "mlp-project.toml").write_text('project = "acme"\n')
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": t}, "source": s, "outputs": [],
                     "execution_count": None} for s, t in CELLS],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / "train.ipynb").write_text(json.dumps(nb))


def test_right_click_promote_run_with_changed_parameter(mlp_home, tagged_notebook, platform, page, shot):
    env = {**os.environ, "MLP_HOME": str(mlp_home)}
    subprocess.run([str(MLP), "projects", "create", "acme"], env=env, check=True, capture_output=True, timeout=120)
    base, token = platform.split("lab?token=")
    page.goto(f"{base}lab/tree/acme?token={token}")
    item = page.locator(".jp-DirListing-item[data-file-type='notebook']", has_text="train.ipynb")
    item.wait_for(state="attached", timeout=60_000)
    if not item.is_visible():  # a restored layout may show another sidebar
        page.locator(".jp-SideBar [data-id='filebrowser']").first.click()
    item.wait_for(timeout=30_000)
    item.click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Promote to Pipeline").click()

    dialog = page.get_by_test_id("mlp-promote-dialog")
    dialog.wait_for(timeout=30_000)
    page.get_by_test_id("mlp-stage-graph").locator("[data-stage='train']").wait_for()
    shot("promote-dialog")
    page.get_by_test_id("mlp-promote-confirm").click()
    result = page.get_by_test_id("mlp-promote-result")
    result.wait_for()
    assert "new version" in result.inner_text().lower()
    page.get_by_test_id("mlp-promote-open-pipelines").click()

    form = page.get_by_test_id("mlp-run-form")
    form.wait_for(timeout=30_000)
    # The platform runs with MLP_CONTAINER_ENGINE=none: the panel says stages run in a local subprocess.
    notice = page.get_by_test_id("mlp-executor-notice")
    notice.wait_for(timeout=30_000)
    assert notice.is_visible()
    assert notice.get_attribute("data-kind") == "subprocess"
    assert "local subprocess" in notice.inner_text()
    alpha = form.locator("[data-param='alpha']")
    alpha.fill("2")
    page.get_by_test_id("mlp-run-pipeline").click()
    run = page.get_by_test_id("mlp-pipeline-run")
    run.wait_for(timeout=60_000)
    for stage in ("prep", "train"):
        run.locator(f"[data-stage='{stage}'][data-status='SUCCESS']").first.wait_for(timeout=180_000)
    assert "alpha" in page.get_by_test_id("mlp-pipeline-run-params").inner_text()
    assert "2" in page.get_by_test_id("mlp-pipeline-run-params").locator("[data-param='alpha']").inner_text()
    shot("pipeline-run-succeeded")

    page.get_by_test_id("mlp-replay").click()  # same version, parameters and data snapshots, as a new run
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=mlp-pipeline-runs] > li').length === 2", timeout=60_000)
    run.locator("[data-stage='train'][data-status='SUCCESS']").first.wait_for(timeout=180_000)
    assert "2" in page.get_by_test_id("mlp-pipeline-run-params").locator("[data-param='alpha']").inner_text()

    # Where the stages ran, and what a stage printed.
    assert "local subprocess" in page.get_by_test_id("mlp-run-executor").inner_text()
    run.locator("[data-testid='mlp-stage-log-button'][data-stage='train']").click()
    log = run.locator("[data-testid='mlp-stage-log'][data-stage='train']")
    log.wait_for(timeout=30_000)
    text = log.inner_text().strip()
    assert text and text != "No output yet.", text

    # Schedule the version with the Run form's values (alpha=2), see its next run, then delete it.
    schedules_empty = page.get_by_test_id("mlp-schedules-empty")
    schedules_empty.wait_for(timeout=30_000)
    assert schedules_empty.inner_text() == "No schedules."
    assert page.get_by_test_id("mlp-schedule-timezone").input_value() == "UTC"
    page.get_by_test_id("mlp-schedule-cron").fill("0 3 * * *")
    page.get_by_test_id("mlp-schedule-create").click()
    row = page.get_by_test_id("mlp-schedule-row")
    row.wait_for(timeout=120_000)
    assert page.get_by_test_id("mlp-schedule-error").count() == 0
    assert row.count() == 1
    assert "0 3 * * *" in row.inner_text()
    assert "alpha" in row.inner_text()
    next_run = row.get_by_test_id("mlp-schedule-next").inner_text().strip()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}:00", next_run), next_run  # 03:00 UTC, in local time
    row.scroll_into_view_if_needed()
    shot("pipelines-schedules")
    row.get_by_test_id("mlp-schedule-delete").click()
    schedules_empty.wait_for(timeout=120_000)
    assert page.get_by_test_id("mlp-schedule-row").count() == 0
