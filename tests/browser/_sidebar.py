"""Open one of the extension's sidebars in JupyterLab, whatever state the layout restorer leaves it in."""

from __future__ import annotations

from playwright.sync_api import TimeoutError as PlaywrightTimeout


def open_sidebar(page, tab_id: str, content_test_id: str, attempts: int = 4) -> None:
    """Show the sidebar whose tab is `tab_id` and wait for its content (`data-testid=content_test_id`).

    After a reload JupyterLab restores an open sidebar, and clicking its tab then closes it. The tab's class says
    whether it is open, but the restorer may open it between that check and a click (seen in CI: the panel stayed
    hidden). So: click only when the tab is not current, wait a while for the content (fetched when first shown),
    and look at the tab again if it did not appear.
    """
    tab = page.locator(f".jp-SideBar li[data-id='{tab_id}']").first
    tab.wait_for()
    content = page.get_by_test_id(content_test_id)
    for _ in range(attempts):
        if "lm-mod-current" not in (tab.get_attribute("class") or "").split():
            tab.click()
        try:
            content.wait_for(state="visible", timeout=15_000)
            return
        except PlaywrightTimeout:
            continue
    content.wait_for(state="visible")
