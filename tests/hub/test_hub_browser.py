"""Two people through a real JupyterHub (`mlp hub`) in a real browser (issue 15's acceptance).

alice and bob sign in with the hub's login form in headless Chromium and open JupyterLab through the hub's proxy.
alice is a scientist in project a: the ML Platform sidebar and the Experiments panel show project a and her run, the
Models panel her model, Deployments and Monitoring her deployment (a local worker) and its monitor, her stakeholder
dashboard its card. bob is a member of b only: the sidebar, his Experiments, Models, Deployments and Monitoring
panels and his dashboard show nothing of a; a's ids (runs, model, deployment, monitor) in his calls (through his own
server's extension and at /services/mlp with his hub token) give 404, alice's dashboard URL does not open for him.

alice trains from a notebook in her JupyterLab (`a/train.ipynb`, plain `mlflow.start_run()` in a folder whose
mlp-project.toml says a): its kernel gets her MLflow credentials for a from the backend, and the run is in her
Experiments panel and in none of bob's. A second run of hers is seeded before she opens the browser, as alice, with
the same credentials (`POST /api/projects/a/kernel-token`, then MLflow's REST API on the gateway through the hub's
proxy).
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM_ARGS, chromium_path
from tests.hub.conftest import PASSWORD, Hub  # `hub`, the module-scoped fixture, comes from conftest.py

pytestmark = pytest.mark.browser

DEPLOYMENT = "churn-a-api"
# a's deployment and its monitor, asked for by name in a and under bob's own project b: 404 for him either way
A_DEPLOYMENT_PATHS = tuple(f"/api/projects/{slug}/deployments/{DEPLOYMENT}{tail}" for slug in ("a", "b") for tail in (
    "", "/monitor", "/monitor/windows", "/monitor/retrainings", "/events", "/batch")) + (
    "/api/projects/a/deployments", "/api/projects/a/alerts")


def _seed_run(hub: Hub, token: str, slug: str, name: str, auc: float) -> str:
    with hub.mlp(token) as api:
        r = api.post(f"/api/projects/{slug}/kernel-token")
        assert r.status_code == 200, r.text
        creds = r.json()
    h = {"Authorization": f"Bearer {creds['token']}"}
    base = f"{hub.url}/services/mlp{creds['tracking_path']}/api/2.0/mlflow"
    r = httpx.post(f"{base}/runs/create", headers=h, timeout=60, json={
        "experiment_id": creds["experiment_id"], "run_name": name, "start_time": 0})
    assert r.status_code == 200, r.text
    run_id = r.json()["run"]["info"]["run_id"]
    r = httpx.post(f"{base}/runs/log-batch", headers=h, timeout=60, json={
        "run_id": run_id, "params": [{"key": "alpha", "value": "0.5"}],
        "metrics": [{"key": "auc", "value": auc, "timestamp": 0, "step": 0}]})
    assert r.status_code == 200, r.text
    r = httpx.post(f"{base}/runs/update", headers=h, timeout=60,
                   json={"run_id": run_id, "status": "FINISHED", "end_time": 1})
    assert r.status_code == 200, r.text
    return run_id


def _log_model(hub: Hub, token: str, slug: str, use_mlflow) -> str:
    """A scikit-learn model logged with plain `mlflow` as the token's owner, on the gateway through the hub's proxy."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    with hub.mlp(token) as api:
        r = api.post(f"/api/projects/{slug}/kernel-token")
        assert r.status_code == 200, r.text
        creds = r.json()
    use_mlflow({"MLFLOW_TRACKING_URI": f"{hub.url}/services/mlp{creds['tracking_path']}",
                "MLFLOW_TRACKING_TOKEN": creds["token"], "MLFLOW_EXPERIMENT_ID": creds["experiment_id"]})
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LogisticRegression().fit(x, y), name="model", pip_requirements=["scikit-learn"])
    return run.info.run_id


def _quiet_lab(hub: Hub, name: str) -> None:
    """No "would you like news?" toast over the screenshots: the user's lab settings (HOME is their folder)."""
    news = hub.home / "users" / name / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))


TRAIN_CELL = """\
import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(1)
x = rng.normal(size=(200, 2))
y = (x[:, 0] - x[:, 1] > 0).astype(int)
with mlflow.start_run(run_name="alice-notebook") as run:
    model = LogisticRegression(C=0.3).fit(x, y)
    mlflow.log_param("C", 0.3)
    mlflow.log_metric("accuracy", model.score(x, y))
print("trained", run.info.run_id)
"""


def _train_notebook(hub: Hub, name: str, slug: str) -> None:
    """A training notebook in the user's own folder for project `slug` (its mlp-project.toml), plain mlflow."""
    folder = hub.home / "users" / name / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlp-project.toml").write_text(f'project = "{slug}"\n')
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": TRAIN_CELL, "outputs": [],
                     "execution_count": None}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (folder / "train.ipynb").write_text(json.dumps(nb))


def _login_and_open_lab(page, hub: Hub, name: str) -> None:
    """The hub's login form, then the hub spawns the user's server and sends the browser to JupyterLab."""
    page.goto(f"{hub.url}/hub/login")
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(f"**/user/{name}/lab**", timeout=120_000)
    page.locator("#jp-main-dock-panel").wait_for(state="visible", timeout=120_000)


def _open_experiments(page, slug: str) -> None:
    from tests.browser.test_projects_panel import open_panel

    open_panel(page)
    page.get_by_test_id("mlp-project-select").select_option(slug)
    page.get_by_test_id("mlp-open-experiments").click()
    page.get_by_test_id("mlp-experiments").wait_for(state="visible")


def _options(page) -> list[str]:
    return page.eval_on_selector_all("[data-testid=mlp-project-select] option", "os => os.map(o => o.value)")


def test_alice_sees_her_runs_and_bob_none_of_them_through_the_hub(hub: Hub, use_mlflow):
    from playwright.sync_api import sync_playwright

    lead, alice, bob = hub.login("lead"), hub.login("alice"), hub.login("bob")
    lead_token, alice_token, bob_token = hub.token(lead, "lead"), hub.token(alice, "alice"), hub.token(bob, "bob")
    with hub.mlp(lead_token) as api:  # lead is a hub admin, so a platform admin
        for slug, name, who in (("a", "Project A", "alice"), ("b", "Project B", "bob")):
            assert api.post("/api/projects", json={"slug": slug, "name": name}).status_code == 201
            assert api.put(f"/api/projects/{slug}/members/{who}", json={"role": "scientist"}).status_code == 200
    run_id = _seed_run(hub, alice_token, "a", "alice-forest", 0.91)
    with hub.mlp(alice_token) as api:  # and a registered model in a, deployed (a local worker) and watched
        r = api.post("/api/projects/a/models", json={"name": "churn-a",
                                                     "run_id": _log_model(hub, alice_token, "a", use_mlflow)})
        assert r.status_code == 201, r.text
        r = api.post("/api/projects/a/models/churn-a/versions/1/promote", json={"alias": "staging"})
        assert r.status_code == 201 and r.json()["status"] == "passed", r.text
        r = api.post("/api/projects/a/deployments", json={"name": DEPLOYMENT, "model": "churn-a", "version": 1},
                     timeout=180)  # it copies and verifies the model: slow on a loaded machine
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 180
        while (d := api.get(f"/api/projects/a/deployments/{DEPLOYMENT}").json())["status"] != "ready":
            assert d["status"] != "failed" and time.monotonic() < deadline, d
            time.sleep(1)
        r = api.put(f"/api/projects/a/deployments/{DEPLOYMENT}/monitor", json={"window_size": 50}, timeout=180)
        assert r.status_code == 200 and r.json()["created_by"] == "alice", r.text
        assert [x["name"] for x in api.get("/api/dashboard").json()["projects"][0]["deployments"]] == [DEPLOYMENT]
    for name in ("alice", "bob"):
        _quiet_lab(hub, name)
    _train_notebook(hub, "alice", "a")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            # alice: her own browser (her own cookies), the hub's login form, JupyterLab under /user/alice/
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            _login_and_open_lab(page, hub, "alice")
            # she trains from a notebook in her JupyterLab: its kernel gets her credentials for project a
            page.goto(f"{hub.url}/user/alice/lab/tree/a/train.ipynb")
            page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=120_000)
            page.wait_for_function("() => (document.querySelector('[data-testid=mlp-notebook-project]')"
                                   "?.textContent || '').includes('a')", timeout=60_000)
            # run the cell once the kernel is up: an execute sent before it connects is dropped
            page.wait_for_function("() => document.body.innerText.includes('| Idle')", timeout=120_000)
            page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
            page.keyboard.press("Shift+Enter")
            trained = page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="trained ")
            try:
                trained.wait_for(timeout=180_000)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "hub-alice-notebook-failed.png"))
                raise AssertionError(page.locator(".jp-NotebookPanel").first.inner_text()[-2000:]) from None
            notebook_run = trained.inner_text().split("trained ", 1)[1].split()[0]
            page.screenshot(path=str(ARTIFACTS / "hub-alice-notebook.png"))
            _open_experiments(page, "a")
            assert _options(page) == ["a"]
            who = page.get_by_test_id("mlp-whoami")
            assert "alice" in who.inner_text()
            row = page.locator(f"[data-testid=mlp-runs-table] [data-run-id='{run_id}']")
            row.wait_for(state="visible", timeout=60_000)
            assert "alice-forest" in row.inner_text()
            mine = page.locator(f"[data-testid=mlp-runs-table] [data-run-id='{notebook_run}']")
            mine.wait_for(state="visible", timeout=60_000)
            assert "alice-notebook" in mine.inner_text()
            page.screenshot(path=str(ARTIFACTS / "hub-alice-experiments.png"))
            page.get_by_test_id("mlp-open-models").click()
            page.locator("[data-testid=mlp-model-row][data-model=churn-a]").wait_for(state="visible")
            # her deployment in the Deployments panel, its monitor in Monitoring, both on her dashboard
            page.get_by_test_id("mlp-open-deployments").click()
            page.locator(f"[data-testid=mlp-deployment-row][data-deployment={DEPLOYMENT}]").wait_for(state="visible")
            page.get_by_test_id("mlp-open-monitoring").click()
            page.locator(f"[data-testid=monitoring-deployment] option[value={DEPLOYMENT}]").wait_for(state="attached")
            page.goto(f"{hub.url}/user/alice/mlp/dashboard")
            page.get_by_test_id(f"dash-deployment-{DEPLOYMENT}").wait_for(state="visible", timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "hub-alice-dashboard.png"))
            page.context.close()

            # bob: member of b only
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            _login_and_open_lab(page, hub, "bob")
            _open_experiments(page, "b")
            assert _options(page) == ["b"]
            assert "bob" in page.get_by_test_id("mlp-whoami").inner_text()
            page.wait_for_function("() => (document.querySelector('[data-testid=mlp-runs-count]')?.textContent"
                                   " || '').includes('0 runs')")
            assert page.locator("[data-testid=mlp-runs-table] [data-run-id]").count() == 0
            assert "alice-forest" not in page.content() and run_id not in page.content()
            assert "alice-notebook" not in page.content() and notebook_run not in page.content()
            page.screenshot(path=str(ARTIFACTS / "hub-bob-experiments.png"))
            # ... nor a's model in the Models panel; his Deployments and Monitoring panels are empty too
            for panel, empty in (("models", "mlp-models-empty"), ("deployments", "mlp-deployments-empty"),
                                 ("monitoring", "monitoring-empty")):
                page.get_by_test_id(f"mlp-open-{panel}").click()
                page.get_by_test_id(empty).wait_for(state="visible")
            page.screenshot(path=str(ARTIFACTS / "hub-bob-monitoring.png"))
            assert "churn-a" not in page.content()
            # his stakeholder dashboard: project b only, none of a's deployments
            page.goto(f"{hub.url}/user/bob/mlp/dashboard")
            page.get_by_test_id("dash-project-b").wait_for(state="visible", timeout=60_000)
            assert page.get_by_test_id("dashboard").get_attribute("data-state") == "ready"
            assert page.locator("[data-testid^=dash-project-]").count() == 1
            assert page.locator("[data-testid^=dash-deployment-]").count() == 0 and DEPLOYMENT not in page.content()
            page.screenshot(path=str(ARTIFACTS / "hub-bob-dashboard.png"))
            # alice's dashboard URL typed into his browser: her server is hers; the hub does not let him in
            r = page.request.get(f"{hub.url}/user/alice/mlp/dashboard", max_redirects=0)
            assert r.status in (302, 403, 404) and DEPLOYMENT not in r.text(), (r.status, r.text()[:500])
            r = page.request.get(f"{hub.url}/user/alice/mlp/api/dashboard")
            assert r.status in (403, 404) and DEPLOYMENT not in r.text(), (r.status, r.text()[:500])
            # a's ids typed into bob's calls through his own server's extension (his browser session): not found
            for path in ("/api/projects/a", "/api/projects/a/runs", f"/api/projects/a/runs/{run_id}",
                         f"/api/projects/a/runs/{notebook_run}",
                         "/api/projects/a/models/churn-a", *A_DEPLOYMENT_PATHS):
                r = page.request.get(f"{hub.url}/user/bob/mlp{path}")
                assert r.status == 404, (path, r.status, r.text())
            page.context.close()
        finally:
            browser.close()

    # ... and at the service with his hub token
    with hub.mlp(bob_token) as api:
        assert [p["slug"] for p in api.get("/api/projects").json()["items"]] == ["b"]
        for path in ("/api/projects/a", "/api/projects/a/runs", f"/api/projects/a/runs/{run_id}",
                     "/api/projects/a/members", "/api/projects/a/models", "/api/projects/a/models/churn-a",
                     *A_DEPLOYMENT_PATHS):
            r = api.get(path)
            assert r.status_code == 404 and r.headers["content-type"].startswith("application/json"), (path, r.text)
        assert api.post("/api/projects/a/kernel-token").status_code == 404
        for method, path in (("POST", f"/api/projects/a/deployments/{DEPLOYMENT}/monitor/evaluate"),
                             ("PUT", f"/api/projects/b/deployments/{DEPLOYMENT}/monitor"),
                             ("DELETE", f"/api/projects/a/deployments/{DEPLOYMENT}")):
            r = api.request(method, path, json={} if method == "PUT" else None)
            assert r.status_code == 404, (method, path, r.text)
        dash = api.get("/api/dashboard").json()
        assert [p["slug"] for p in dash["projects"]] == ["b"] and DEPLOYMENT not in json.dumps(dash), dash
    with hub.mlp(alice_token) as api:  # nothing of hers changed
        assert api.get(f"/api/projects/a/deployments/{DEPLOYMENT}").json()["status"] == "ready"
        assert api.delete(f"/api/projects/a/deployments/{DEPLOYMENT}").status_code == 204  # its worker stops


def test_a_lead_approves_the_promotion_a_scientist_asked_for_through_the_hub(hub: Hub, use_mlflow):
    """Two people, each with their own hub token: alice (scientist) logs a model with plain `mlflow` on the
    platform's gateway through the hub's proxy, registers it and asks for `champion`; she cannot approve her own
    request, bob (not a member) cannot see it, lena (the project's lead, not a hub admin) approves it in the Models
    panel of her own JupyterLab through the hub."""
    lead, alice, bob, lena = (hub.login(n) for n in ("lead", "alice", "bob", "lena"))
    lead_token, alice_token, bob_token, lena_token = (hub.token(c, n) for c, n in (
        (lead, "lead"), (alice, "alice"), (bob, "bob"), (lena, "lena")))
    with hub.mlp(lead_token) as api:
        assert api.post("/api/projects", json={"slug": "p", "name": "Promotions"}).status_code == 201
        for who, role in (("alice", "scientist"), ("lena", "lead")):
            assert api.put(f"/api/projects/p/members/{who}", json={"role": role}).status_code == 200

    run_id = _log_model(hub, alice_token, "p", use_mlflow)

    models = "/api/projects/p/models"
    with hub.mlp(alice_token) as sam, hub.mlp(lena_token) as lead_api, hub.mlp(bob_token) as other:
        r = sam.post(models, json={"name": "churn", "run_id": run_id})
        assert r.status_code == 201, r.text
        assert lead_api.put(f"{models}/churn/gates", json={"require_approval": True}).status_code == 200
        assert sam.post(f"{models}/churn/versions/1/promote", json={"alias": "staging"}).json()["status"] == "passed"
        asked = sam.post(f"{models}/churn/versions/1/promote", json={"alias": "champion"}).json()
        assert asked["status"] == "pending" and asked["requested_by"] == "alice", asked
        approve = f"/api/projects/p/gate-decisions/{asked['id']}/approve"
        assert sam.post(approve, json={"reason": "mine"}).status_code == 403  # a scientist cannot approve
        assert other.post(approve, json={"reason": "not mine"}).status_code == 404  # bob cannot even see it
        assert other.get(f"{models}/churn").status_code == 404

    # lena approves in her own JupyterLab through the hub: the Models panel's approval row, with a reason
    _quiet_lab(hub, "lena")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            _login_and_open_lab(page, hub, "lena")
            from tests.browser.test_projects_panel import open_panel

            open_panel(page)
            page.get_by_test_id("mlp-project-select").select_option("p")
            page.get_by_test_id("mlp-open-models").click()
            page.locator("[data-testid=mlp-model-row][data-model=churn]").click()
            pending = page.get_by_test_id("mlp-approvals").get_by_test_id("mlp-approval-row")
            pending.wait_for(timeout=60_000)
            assert "alice" in pending.inner_text()
            pending.get_by_test_id("mlp-approval-reason").fill("holdout reviewed")
            pending.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "hub-lena-approval.png"))
            pending.get_by_test_id("mlp-approve").click()
            page.locator("[data-testid=mlp-decision][data-status=approved]").wait_for(timeout=60_000)
        finally:
            browser.close()

    with hub.mlp(alice_token) as sam:
        r = sam.get("/api/projects/p/gate-decisions", params={"status": "approved"})
        assert r.status_code == 200, r.text
        [d] = [x for x in r.json()["items"] if x["id"] == asked["id"]]
        assert (d["status"], d["requested_by"], d["decided_by"], d["reason"]) == (
            "approved", "alice", "lena", "holdout reviewed"), d
        assert sam.get(f"{models}/churn").json()["aliases"] == {"staging": 1, "champion": 1}
