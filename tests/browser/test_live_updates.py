"""Live updates in real JupyterLab (docs/events.md): a lead watches the Models panel while a scientist, another
person, registers a model and moves its champion alias through the API; the panel shows each change without a
reload and without its own polling, fed by the one events stream of this JupyterLab (never two at a time, however
many panels are open)."""

from __future__ import annotations

import pytest

from tests.browser.test_models_panel import ADMIN, lead_project, logged_runs, mlp_home  # noqa: F401 - fixtures
from tests.browser.test_projects_panel import open_panel

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = [pytest.mark.browser, pytest.mark.settings(dagster_start_with_platform=False)]


def test_an_alias_moved_by_another_user_appears_without_reload(platform, logged_runs, page, shot):  # noqa: F811
    from jupyter_mlp.client import BackendClient

    BackendClient(user=ADMIN).put("/projects/acme/members/sam", {"role": "scientist"})
    sam = BackendClient(user="sam")

    streams = {"open": 0, "most": 0, "opened": 0}

    def opened(req) -> None:  # noqa: ANN001
        if "/mlp/api/events/stream" in req.url:
            streams["open"] += 1
            streams["opened"] += 1
            streams["most"] = max(streams["most"], streams["open"])

    def closed(req) -> None:  # noqa: ANN001
        if "/mlp/api/events/stream" in req.url:
            streams["open"] -= 1

    page.on("request", opened)
    page.on("requestfinished", closed)
    page.on("requestfailed", closed)

    page.goto(platform)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option("acme")
    page.get_by_test_id("mlp-open-deployments").click()  # a second subscribing panel: still one stream
    page.get_by_test_id("mlp-open-models").click()
    page.get_by_test_id("mlp-models").wait_for(state="visible")
    page.get_by_test_id("mlp-models-empty").wait_for(timeout=30_000)
    page.evaluate("window.__mlpNoReload = 'still here'")

    # Another person registers a version: its row appears (the panel does not poll; only an event brings it).
    sam.post("/projects/acme/models", {"name": "credit", "run_id": logged_runs[0]})
    row = page.locator("[data-testid=mlp-models-list] [data-testid=mlp-model-row][data-model=credit]")
    row.wait_for(timeout=60_000)
    assert row.locator(".jp-mlp-alias").count() == 0

    # ... and moves the champion alias to it: the chip appears.
    decision = sam.post("/projects/acme/models/credit/versions/1/promote", {"alias": "champion"})
    assert decision["status"] == "passed", decision
    row.locator(".jp-mlp-alias[data-alias=champion][data-version='1']").wait_for(timeout=60_000)

    # A second version, then the alias moves on: the chip follows.
    sam.post("/projects/acme/models", {"name": "credit", "run_id": logged_runs[1]})
    sam.post("/projects/acme/models/credit/versions/2/promote", {"alias": "champion"})
    row.locator(".jp-mlp-alias[data-alias=champion][data-version='2']").wait_for(timeout=60_000)
    assert "v2" in row.inner_text()
    shot("live-updates-models")

    assert page.evaluate("window.__mlpNoReload") == "still here"  # no reload happened
    assert streams["opened"] >= 1 and streams["most"] == 1, streams  # one stream for both panels
