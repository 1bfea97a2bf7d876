"""A monitor window's citation in the Chat opens the Monitoring panel on its deployment with that window's drift
report open (issue 13 acceptance), and a pipeline run's citation the Pipelines panel on that run. The history is tests/bench/assistant_history.py's `small` plan applied to the
platform `mlp up` started (real runs, versions and deployments; monitor windows written with the backend's ORM,
as that module explains), asked about by the real planner."""

from __future__ import annotations

import getpass

import pytest
from playwright.sync_api import expect

from jupyter_mlp.local_backend import find_running
from jupyter_mlp.settings import Settings
from tests.browser.test_assistant_chat import _ask, _open_chat
from tests.browser.test_projects_panel import open_panel

pytestmark = pytest.mark.browser


@pytest.fixture
def mlp_home(mlp_home):
    """The generator acts as the platform admin `admin`; the browser user is an admin too (it sees every project)."""
    mlp_home.mkdir(parents=True, exist_ok=True)
    (mlp_home / "settings.toml").write_text(f'admin_users = ["admin", "{getpass.getuser()}"]\n')
    return mlp_home


def test_window_and_pipeline_run_citations_open_their_records(mlp_home, platform, page, shot):
    from tests.bench.assistant_history import apply, plan

    settings = Settings(home=mlp_home)
    truth = apply(plan("small"), find_running(settings), settings, log=lambda *_: None)
    assert truth["windows"]

    page.goto(platform)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option("gx-credit-risk")
    _open_chat(page)
    # The Chat follows the sidebar's project a moment after the select; a question asked before that is dropped
    # with the old project's conversation (ChatPanel starts a new one per project), so wait for it to follow.
    expect(page.get_by_test_id("mlp-chat-project")).to_have_text("Project gx-credit-risk", timeout=30_000)
    answer = _ask(page, "Show me the drift of risk-api in the last 90 days.")
    chips = answer.locator("[data-testid=mlp-chat-citation][data-type=monitor_window]")
    chips.first.wait_for(timeout=30_000)
    window_id = chips.first.get_attribute("data-id")
    shot("assistant-drift-answer")
    chips.first.click()
    panel = page.get_by_test_id("monitoring-panel")
    panel.wait_for(state="visible", timeout=60_000)
    report = panel.get_by_test_id("window-report-section")
    report.wait_for(timeout=60_000)
    assert report.get_attribute("data-window-id") == window_id
    shot("assistant-citation-opened-window")

    # A pipeline run's chip: the Pipelines panel on risk-nightly with that run's detail open
    answer = _ask(page, "Which stage failed in the last run of risk-nightly?")
    chip = answer.locator("[data-testid=mlp-chat-citation][data-type=pipeline_run]").first
    chip.wait_for(timeout=30_000)
    run_id = chip.get_attribute("data-id")
    assert run_id in truth["pipeline_runs"].values()
    chip.click()
    page.locator("[data-testid=mlp-pipeline][data-pipeline=risk-nightly]").wait_for(state="visible", timeout=60_000)
    page.locator(f"[data-testid=mlp-pipeline-run][data-run-id='{run_id}']").wait_for(state="visible", timeout=60_000)
    shot("assistant-citation-opened-pipeline-run")
