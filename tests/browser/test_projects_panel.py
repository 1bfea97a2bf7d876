"""A user in real JupyterLab: open the ML Platform panel, create a project, add a member, reload, still there."""

from __future__ import annotations

import pytest

from tests.browser._sidebar import open_sidebar

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = [pytest.mark.browser, pytest.mark.settings(dagster_start_with_platform=False)]


def open_panel(page):
    open_sidebar(page, "jupyter-mlp-projects", "mlp-panel")


def test_create_project_add_member_and_reload(platform, page, shot):
    page.goto(platform)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    open_panel(page)
    who = page.get_by_test_id("mlp-whoami")
    who.wait_for()
    assert "admin" in who.inner_text().lower()

    page.get_by_test_id("mlp-new-project-slug").fill("acme-credit")
    page.get_by_test_id("mlp-new-project-name").fill("Acme credit risk")
    page.get_by_test_id("mlp-create-project").click()
    select = page.get_by_test_id("mlp-project-select")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=mlp-project-select]')?.value === 'acme-credit'"
    )

    page.get_by_test_id("mlp-member-user").fill("alice")
    page.get_by_test_id("mlp-member-role").select_option("scientist")
    page.get_by_test_id("mlp-add-member").click()
    page.locator("[data-testid=mlp-members] tr[data-user=alice]").wait_for()
    shot("projects-panel-after-add")

    page.reload()
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    open_panel(page)
    page.locator("[data-testid=mlp-members] tr[data-user=alice]").wait_for()
    assert select.input_value() == "acme-credit"
    assert "scientist" in page.locator("[data-testid=mlp-members] tr[data-user=alice]").inner_text()
    options = select.locator("option").all_inner_texts()
    assert any("Acme credit risk" in o or "acme-credit" in o for o in options)
    shot("projects-panel-after-reload")


def test_bad_slug_and_duplicate_are_explained(platform, page, shot):
    page.goto(platform)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    open_panel(page)
    slug, name, create = (page.get_by_test_id(t) for t in
                          ("mlp-new-project-slug", "mlp-new-project-name", "mlp-create-project"))
    slug.fill("Not A Slug")
    name.fill("x")
    hint = page.locator(".jp-mlp-panel .jp-mlp-hint", has_text="slug")
    hint.wait_for(state="visible")
    assert "lowercase" in hint.inner_text().lower()
    assert create.is_disabled()  # the panel says why before the backend has to
    shot("projects-panel-bad-slug")

    slug.fill("globex")
    create.click()
    page.wait_for_function("() => document.querySelector('[data-testid=mlp-project-select]')?.value === 'globex'")
    slug.fill("globex")
    name.fill("again")
    create.click()
    err = page.get_by_test_id("mlp-error")
    err.wait_for(state="visible")
    assert "already exists" in err.inner_text()  # the backend's 409, in plain words
    shot("projects-panel-duplicate")
