"""The Binder demo: `binder/start` seeds a fresh MLP_HOME in the background (`python -m jupyter_mlp.demo`) against
the real backend it starts (MLflow, Dagster, serving workers; stages and workers as local processes, as on Binder)
and hands over to the launch command; then every panel's list API has something, the deployment answers, and a
second start adds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from jupyter_mlp.client import BackendClient


def _seed(root, mlp_home) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {**os.environ, "MLP_HOME": str(mlp_home), "MLP_CONTAINER_ENGINE": "none"}
    p = subprocess.run([sys.executable, "-m", "jupyter_mlp.demo", "--root", str(root)], env=env, cwd=root,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


START = Path(__file__).parents[2] / "binder" / "start"


def _binder_start(root, mlp_home) -> None:  # noqa: ANN001
    """What repo2docker does at launch: binder/start with the launch command; wait for the background seeder."""
    # Binder's `python` is the environment's: here, this venv's
    env = {**os.environ, "MLP_HOME": str(mlp_home), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("MLP_CONTAINER_ENGINE", None)  # the script chooses local processes itself
    p = subprocess.run([str(START), sys.executable, "-c", "print('lab starts')"], env=env, cwd=root,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "lab starts\n", p.stdout + p.stderr
    log = mlp_home / "demo.log"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if "demo ready in" in text:
            return
        assert not any(bad in text for bad in ("demo: ", "Traceback", "Error")), text
        time.sleep(0.5)  # reads a file: a shorter poll costs nothing
    raise AssertionError(f"the demo was not seeded in 10 minutes:\n{log.read_text()}")


def _counts(c: BackendClient) -> dict[str, int]:
    """How many of each thing the panels list in project demo."""
    d = "/projects/demo"
    return {
        "projects": c.get("/projects")["total"],
        "runs": c.get(f"{d}/runs", limit=1)["total"],
        "pipelines": c.get(f"{d}/pipelines")["total"],
        "pipeline_runs": c.get(f"{d}/pipelines/churn/runs")["total"],
        "models": c.get(f"{d}/models")["total"],
        "versions": c.get(f"{d}/models/churn/versions")["total"],
        "deployments": c.get(f"{d}/deployments")["total"],
        "keys": c.get(f"{d}/api-keys")["total"],
        "windows": c.get(f"{d}/deployments/churn-api/monitor/windows")["total"],
        "alerts": c.get(f"{d}/alerts")["total"],
    }


def test_demo_seed_populates_every_panel_once(mlp, mlp_home, tmp_path):
    root = tmp_path / "lab"
    root.mkdir()
    _binder_start(root, mlp_home)

    folder = root / "demo"
    assert (folder / "mlp-project.toml").read_text() == 'project = "demo"\n'
    nb = json.loads((folder / "churn.ipynb").read_text())
    code = "".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")
    assert "mlflow.log_metric" in code and "mlflow.sklearn.log_model" in code  # plain MLflow idioms
    assert {t for c in nb["cells"] for t in c["metadata"].get("tags", [])} >= {"stage:prep", "stage:train"}

    c = BackendClient()
    first = _counts(c)
    assert first["runs"] >= 5, first  # the sweep's four, the pipeline's runs
    sweep = c.get("/projects/demo/runs", filter="tags.mlp_demo = 'sweep'")["items"]
    assert len(sweep) == 4 and all("roc_auc" in r["metrics"] for r in sweep)
    assert [r["status"] for r in c.get("/projects/demo/pipelines/churn/runs")["items"]] == ["SUCCESS"]
    model = c.get("/projects/demo/models/churn")
    assert "champion" in json.dumps(model["aliases"]), model
    monitor = c.get("/projects/demo/deployments/churn-api/monitor")
    assert monitor["version"] == 1
    windows = c.get("/projects/demo/deployments/churn-api/monitor/windows")["items"]
    assert len(windows) == 3 and any(w["status"] == "drift" for w in windows), windows
    assert any(a["state"] == "firing" for a in c.get("/projects/demo/alerts")["items"])

    edited = (folder / "churn.ipynb").read_text().replace("C = 1.0", "C = 0.5")  # the visitor's edit
    (folder / "churn.ipynb").write_text(edited)
    # Binder seeds at build time (postBuild, then `mlp down`) and again at every launch (binder/start): the platform
    # restarts, and the seeder adds nothing and overwrites nothing.
    mlp("down")
    _seed(root, mlp_home)
    assert _counts(c) == first
    assert (folder / "churn.ipynb").read_text() == edited

    # The deployment, restarted with the platform, answers a prediction with a key of the visitor's own.
    key = c.post("/projects/demo/api-keys", {"name": "visitor"})["key"]
    body = {"dataframe_split": {"columns": ["tenure", "monthly_charges", "support_calls"],
                                "data": [[3, 95.0, 4], [60, 40.0, 0]]}}
    deadline = time.monotonic() + 180  # its workers may still be starting
    while (r := httpx.post(f"{c.url}/serve/demo/churn-api/invocations", headers={"Authorization": f"Bearer {key}"},
                           json=body, timeout=60)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert r.status_code == 200, r.text
    assert len(r.json()["predictions"]) == 2


def test_demo_files_only_writes_the_folder_without_a_backend(mlp_home, tmp_path):
    """Binder's build (postBuild) puts the project folder in the image; no platform is started for it."""
    p = subprocess.run([sys.executable, "-m", "jupyter_mlp.demo", "--files-only", "--root", str(tmp_path)],
                       env={**os.environ, "MLP_HOME": str(mlp_home)}, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "demo" / "mlp-project.toml").exists() and (tmp_path / "demo" / "churn.ipynb").exists()
    assert not mlp_home.exists()  # nothing started, nothing written under MLP_HOME
