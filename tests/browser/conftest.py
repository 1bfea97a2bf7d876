"""Browser fixtures: the platform started as a user starts it, and Debian's Chromium driven by Playwright.

- `platform`: `mlp up --detach` in a fresh MLP_HOME; yields the login URL; `mlp down` at teardown.
- `page`: a Playwright page in headless /usr/bin/chromium (installed by `make test` when missing).
- `shot(name)`: saves a PNG screenshot under test-artifacts/ (look at them).

A failed browser test leaves `test-artifacts/failed-<test>.png` and the tails of the platform's logs in its report,
so a failure seen only on a loaded CI machine can be understood from CI's output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import settings_env

MLP = Path(sys.executable).parent / "mlp"
ARTIFACTS = Path(os.environ.get("ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium is not installed; `make test` installs Debian's package")
    return path


@pytest.fixture
def platform_root(tmp_path):
    """The folder JupyterLab serves."""
    root = tmp_path / "work"
    root.mkdir()
    return root


@pytest.fixture
def platform(request, mlp_home, platform_root):
    # Workspaces and user settings of its own: a layout restored from another test would change what is shown.
    # Stages in local subprocesses: the panel then says so, and no image is built (tests/pipelines covers Docker).
    # `@pytest.mark.settings(...)` on a test or module: the platform's settings (as MLP_* variables); a test that
    # runs no pipeline sets dagster_start_with_platform=False so Dagster's start does not compete with the browser.
    env = {**os.environ, "MLP_HOME": str(mlp_home), "MLP_LAB_PORT": "18888", "MLP_CONTAINER_ENGINE": "none",
           "JUPYTERLAB_WORKSPACES_DIR": str(mlp_home.parent / "lab-workspaces"),
           "JUPYTERLAB_SETTINGS_DIR": str(mlp_home.parent / "lab-settings"), **settings_env(request)}
    root = platform_root
    # No "would you like news?" toast over the screenshots (the machine is offline anyway).
    news = mlp_home.parent / "lab-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    p = subprocess.run([str(MLP), "up", "--detach", "--root-dir", str(root)], env=env, capture_output=True,
                       text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    url = re.search(r"JupyterLab: (http://\S+)", p.stdout).group(1)
    yield url
    subprocess.run([str(MLP), "down"], env=env, capture_output=True, timeout=60)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    context.close()


@pytest.fixture
def shot(page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take


def _tail(path: Path, lines: int = 40) -> str:
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 16_000))
        return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    page = item.funcargs.get("page")
    if page is not None:
        try:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"failed-{item.name}.png"))
        except Exception as e:  # noqa: BLE001 - the page may be gone with the failure; the report still counts
            report.sections.append(("screenshot", f"no screenshot: {e}"))
    home = item.funcargs.get("mlp_home")
    for name in ("backend.log", "mlflow.log", "lab.log"):
        log = Path(home) / "run" / name if home else None
        if log is not None and log.exists():
            report.sections.append((f"{name} (last 40 lines)", _tail(log)))
