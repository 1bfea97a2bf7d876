"""The assistant in JupyterLab (issue 13 item 8): ask in the Chat sidebar, see the cited answer, click the run's
chip and land on that run in the Experiments panel; ask from a notebook through its toolbar's Ask button (the
notebook's project and file as context), click a run's chip there and land on that run; ask with `%mlp_ask`. Ask
from a notebook to load a model's champion and insert the answer's code as a new cell; click a model version's chip
and land on that version in the Models panel. `mlp up` starts the AI services process with the real planner and
embeddings; the runs are logged through the project's MLflow gateway. A run name carrying HTML shows as text and
runs nothing."""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import time

import httpx
import pytest
from playwright.sync_api import expect

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.local_backend import find_running
from jupyter_mlp.settings import Settings
from tests.browser._sidebar import open_sidebar
from tests.browser.conftest import MLP
from tests.browser.test_projects_panel import open_panel

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = [pytest.mark.browser, pytest.mark.settings(dagster_start_with_platform=False)]

HOSTILE = '<img src=x onerror="window.__mlpPwned=1">'
ANSWER_TIMEOUT = 180_000  # the first question loads the embedding model in the AI services process


def _log_runs(mlp_home, runs: dict[str, float]) -> dict[str, str]:
    """Log runs (name -> auc) to acme's Default experiment as the lab's user; their ids by name."""
    settings = Settings(home=mlp_home)
    url = find_running(settings)
    token = mint_token(read_secret(settings.secret_path), getpass.getuser(), 600)
    creds = httpx.post(f"{url}/api/projects/acme/kernel-token", headers={"Authorization": f"Bearer {token}"},
                       timeout=60).json()
    api = f"{url}{creds['tracking_path']}/api/2.0/mlflow"
    h = {"Authorization": f"Bearer {creds['token']}"}
    ids = {}
    for name, auc in runs.items():
        r = httpx.post(f"{api}/runs/create", headers=h, timeout=60,
                       json={"experiment_id": creds["experiment_id"], "run_name": name,
                             "start_time": int(time.time() * 1000)})
        assert r.status_code == 200, r.text
        run_id = r.json()["run"]["info"]["run_id"]
        r = httpx.post(f"{api}/runs/log-batch", headers=h, timeout=60, json={
            "run_id": run_id, "params": [{"key": "features", "value": "woe-binning"}],
            "metrics": [{"key": "auc", "value": auc, "timestamp": 0, "step": 0}]})
        assert r.status_code == 200, r.text
        r = httpx.post(f"{api}/runs/update", headers=h, timeout=60, json={"run_id": run_id, "status": "FINISHED"})
        assert r.status_code == 200, r.text
        ids[name] = run_id
    return ids


def _open_chat(page):
    open_sidebar(page, "jupyter-mlp-assistant", "mlp-chat")


def _notebook(folder, name: str) -> None:
    """A notebook with one empty code cell in a project folder."""
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "", "outputs": [], "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / name).write_text(json.dumps(nb))


def _ask_from_toolbar(page, platform: str, path: str) -> None:
    """Open the notebook at `path` and click its toolbar's Ask: the Chat opens about it."""
    page.goto(platform.replace("lab?", f"lab/tree/{path}?"))
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=90_000)
    ask_button = page.locator(".jp-NotebookPanel-toolbar [data-jp-item-name='mlp-ask'] button").first
    ask_button.wait_for(timeout=30_000)
    ask_button.click()
    page.get_by_test_id("mlp-chat").wait_for(state="visible")
    context = page.get_by_test_id("mlp-chat-context")
    context.wait_for()
    assert path.rsplit("/", 1)[-1] in context.inner_text()


def _ask(page, question: str):
    answers = page.get_by_test_id("mlp-chat-answer")
    errors = page.get_by_test_id("mlp-chat-error")
    before = answers.count()
    page.get_by_test_id("mlp-chat-input").fill(question)
    page.get_by_test_id("mlp-chat-input").press("Enter")
    page.wait_for_function(
        "([n]) => document.querySelectorAll('[data-testid=mlp-chat-answer]').length > n"
        " || document.querySelectorAll('[data-testid=mlp-chat-error]').length > 0",
        arg=[before], timeout=ANSWER_TIMEOUT)
    assert errors.count() == 0, errors.first.inner_text()
    return answers.nth(before)


def test_ask_in_the_chat_click_a_citation_and_ask_from_a_notebook(mlp_home, platform, platform_root, page, shot):
    env = {**os.environ, "MLP_HOME": str(mlp_home)}
    subprocess.run([str(MLP), "projects", "create", "acme", "--name", "Acme credit"], env=env, check=True,
                   capture_output=True, timeout=120)
    ids = _log_runs(mlp_home, {"woe-binning-gbm-013": 0.8318, "plain-logit-002": 0.7712, HOSTILE: 0.61})
    folder = platform_root / "acme"
    folder.mkdir()
    (folder / "mlp-project.toml").write_text('project = "acme"\n')
    _notebook(folder, "scoring.ipynb")

    page.goto(platform)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option("acme")

    # 1. The Chat: the answer names the best run, cited; its chip opens the run in the Experiments panel
    _open_chat(page)
    expect(page.get_by_test_id("mlp-chat-project")).to_have_text("Project acme", timeout=30_000)
    answer = _ask(page, "which run in acme has the best auc?")
    text = answer.inner_text()
    assert "woe-binning-gbm-013" in text and "0.8318" in text, text
    chip = answer.locator(f"[data-testid=mlp-chat-citation][data-type=run]", has_text="woe-binning-gbm-013")
    chip.wait_for()
    shot("assistant-chat-answer")
    chip.click()
    detail = page.get_by_test_id("mlp-run-detail")
    detail.wait_for(state="visible", timeout=60_000)
    page.wait_for_function(
        "(id) => document.querySelector('[data-testid=mlp-run-detail]')?.getAttribute('data-run-id') === id",
        arg=ids["woe-binning-gbm-013"], timeout=30_000)
    page.locator("[data-testid=mlp-run-detail] h3", has_text="woe-binning-gbm-013").wait_for()
    shot("assistant-citation-opened-run")

    # Record text is data: a run named with HTML is listed as its characters and runs nothing
    answer = _ask(page, "list the most recent runs in acme")
    answer.locator("code", has_text="onerror").first.wait_for()
    assert page.evaluate("() => window.__mlpPwned") is None
    assert answer.locator("img").count() == 0

    # The conversation is kept: reloading the page lists it, and picking it shows its turns again
    page.reload()
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=60_000)
    _open_chat(page)
    picker = page.get_by_test_id("mlp-chat-conversation")
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=mlp-chat-conversation] option').length > 1", timeout=30_000)
    picker.select_option(index=1)
    page.get_by_test_id("mlp-chat-answer").nth(1).wait_for(timeout=30_000)
    assert "woe-binning-gbm-013" in page.get_by_test_id("mlp-chat-answer").first.inner_text()

    # 2. From a notebook: its toolbar's Ask opens the Chat about it, in its project (the question names none)
    _ask_from_toolbar(page, platform, "acme/scoring.ipynb")
    expect(page.get_by_test_id("mlp-chat-project")).to_have_text("Project acme", timeout=30_000)
    from_notebook = _ask(page, "list the most recent runs")
    assert "plain-logit-002" in from_notebook.inner_text(), from_notebook.inner_text()
    shot("assistant-from-notebook-toolbar")

    # ... and with the magic, in the notebook's kernel (the project comes from the kernel's environment)
    page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=90_000)
    page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
    page.keyboard.type("%load_ext jupyter_mlp.magic")  # its own cell: it changes how the next cells are read
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("%mlp_ask which run has the best auc?")
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="Sources")
    try:
        output.wait_for(timeout=ANSWER_TIMEOUT)
    except Exception:
        shot("assistant-magic-no-output")
        raise AssertionError(page.locator(".jp-NotebookPanel").first.inner_text()[-2000:]) from None
    assert "woe-binning-gbm-013" in output.inner_text()
    shot("assistant-magic-output")

    # The answer asked from the notebook cites each run: a chip lands on its run (not the one opened before)
    from_notebook.locator("[data-testid=mlp-chat-citation][data-type=run]", has_text="plain-logit-002").click()
    page.wait_for_function(
        "(id) => document.querySelector('[data-testid=mlp-run-detail]')?.getAttribute('data-run-id') === id",
        arg=ids["plain-logit-002"], timeout=60_000)
    page.locator("[data-testid=mlp-run-detail] h3", has_text="plain-logit-002").wait_for()
    shot("assistant-from-notebook-citation-opened-run")


def test_insert_a_champions_loading_code_and_open_a_model_version_citation(mlp_home, platform, platform_root,
                                                                          use_mlflow, page, shot):
    import mlflow
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlp.client import BackendClient

    client = BackendClient()
    client.post("/projects", {"slug": "acme", "name": "Acme credit"})
    creds = client.post("/projects/acme/kernel-token")
    use_mlflow({"MLFLOW_TRACKING_URI": f"{client.url}{creds['tracking_path']}",
                "MLFLOW_TRACKING_TOKEN": creds["token"], "MLFLOW_EXPERIMENT_ID": creds["experiment_id"]})
    x, y = load_iris(return_X_y=True)
    with mlflow.start_run() as run:
        mlflow.log_metrics({"accuracy": 0.97})
        mlflow.sklearn.log_model(LogisticRegression(max_iter=300).fit(x, y), name="model",
                                 pip_requirements=["scikit-learn"], serialization_format="cloudpickle")
    client.post("/projects/acme/models", {"name": "credit", "run_id": run.info.run_id})
    client.put("/projects/acme/models/credit/gates", {"require_approval": True})  # a lead approves: the lab's user
    decision = client.post("/projects/acme/models/credit/versions/1/promote", {"alias": "champion"})
    assert decision["status"] == "pending", decision
    decision = client.post(f"/projects/acme/gate-decisions/{decision['id']}/approve", {"reason": "holdout reviewed"})
    assert decision["status"] == "approved", decision
    folder = platform_root / "acme"
    folder.mkdir()
    (folder / "mlp-project.toml").write_text('project = "acme"\n')
    _notebook(folder, "scoring.ipynb")

    # From the notebook: the answer carries the code that loads the champion; Insert puts it in a new cell below
    _ask_from_toolbar(page, platform, "acme/scoring.ipynb")
    answer = _ask(page, "load the champion of credit")
    code = 'champion = mlflow.pyfunc.load_model("models:/credit@champion")'
    assert code in answer.locator(".jp-mlp-chat-code code").inner_text(), answer.inner_text()
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    assert cells.count() == 1
    answer.get_by_test_id("mlp-chat-insert-cell").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length === 2", timeout=30_000)
    assert code in cells.nth(1).locator(".cm-content").inner_text()
    assert "jp-mod-active" in (cells.nth(1).get_attribute("class") or "")
    assert page.get_by_test_id("mlp-chat-problem").count() == 0
    shot("assistant-insert-cell")

    # A model version's chip opens the Models panel on that version: its row marked and in view, its lineage shown
    answer = _ask(page, "who approved credit v1?")
    assert "approved" in answer.inner_text() and "holdout reviewed" in answer.inner_text(), answer.inner_text()
    chip = answer.locator("[data-testid=mlp-chat-citation][data-type=model_version]", has_text="credit v1")
    chip.click()
    view = page.locator("[data-testid=mlp-model-view][data-model=credit]")
    view.wait_for(state="visible", timeout=60_000)
    row = view.locator("[data-testid=mlp-version-row][data-version='1'][data-focused=true]")
    row.wait_for(timeout=30_000)
    assert row.is_visible() and row.get_attribute("aria-selected") == "true"
    view.locator("[data-testid=mlp-lineage][data-version='1']").wait_for(timeout=30_000)
    shot("assistant-model-version")

    # The AI services process stops: the next question gets the backend's 503 in its words, not a stack trace
    from jupyter_mlp.gpu_service import read_gpu_record
    from jupyter_mlp.local_backend import pid_alive

    gpu = read_gpu_record(Settings(home=mlp_home))
    os.kill(gpu.pid, signal.SIGTERM)  # the process `mlp up` started for this test
    for _ in range(100):
        if not pid_alive(gpu.pid):
            break
        time.sleep(0.1)
    page.get_by_test_id("mlp-chat-input").fill("who approved credit v1?")
    page.get_by_test_id("mlp-chat-input").press("Enter")
    error = page.get_by_test_id("mlp-chat-error")
    error.wait_for(timeout=60_000)
    assert "AI services process" in error.inner_text(), error.inner_text()
    shot("assistant-ai-service-down")
