"""The demo seeder: `python -m jupyter_mlp.demo [--root FOLDER]` fills a fresh platform with a project whose every
panel has something in it — Binder's build (`binder/postBuild`) seeds the image with it, and `binder/start` runs it
again in the background at every launch (which restarts the platform and finds everything there).

What it makes, in project `demo` ("Demo: customer churn"), as the local user (a platform admin on a standalone
install, lead of the project):
- datasets `churn` and `churn_holdout` (synthetic customers: tenure, monthly charges, support calls; `churned`);
- the folder `demo/` under `--root` with `mlp-project.toml` and `churn.ipynb`, a small scikit-learn notebook in
  plain MLflow idioms, tagged in stages, that a visitor can run as it is;
- a sweep of runs (the notebook's own cells executed for several `C`), so the Experiments panel has runs to chart;
- pipeline `churn` promoted from that notebook and one finished run of it (which registers model `churn` v1);
- gates on `churn` (evaluated on `churn_holdout`) and version 1 promoted to `champion` through them;
- deployment `churn-api` serving `churn@champion`, a monitor on it, and a few windows of scored and labelled traffic (the last
  one with `support_calls` shifted, so a drift alert fires), evaluated at once.

Each step first looks for what it would make and skips it when it is there, so a second start adds nothing, and a
file lock under `MLP_HOME` keeps two seeders from working at once. A module rather than an `mlp` command: its only
callers are Binder's scripts (and a curious user), it imports scikit-learn and MLflow, and the CLI stays the
platform's own verbs.
"""

from __future__ import annotations

import argparse
import fcntl
import getpass
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

PROJECT = "demo"
PIPELINE = "churn"  # also the registered model's name (the notebook logs the default name `model`)
DEPLOYMENT = "churn-api"
FOLDER = "demo"
NOTEBOOK = "churn.ipynb"
SWEEP = (0.01, 0.1, 1.0, 10.0)
WINDOW = 100
FEATURES = ["tenure", "monthly_charges", "support_calls"]

CELLS: list[tuple[str, list[str]]] = [
    ("import mlflow\nimport mlflow.sklearn\nfrom mlflow.models import infer_signature\n"
     "from sklearn.linear_model import LogisticRegression\nfrom sklearn.metrics import roc_auc_score\n\n"
     "from jupyter_mlp import datasets", ["imports"]),
    ("C = 1.0  # inverse regularisation strength", ["parameters"]),
    ("train = datasets.read('churn')\nholdout = datasets.read('churn_holdout')\n"
     "features = ['tenure', 'monthly_charges', 'support_calls']", ["stage:prep"]),
    ("model = LogisticRegression(C=C, max_iter=500).fit(train[features], train.churned)\n"
     "auc = roc_auc_score(holdout.churned, model.predict_proba(holdout[features])[:, 1])\n"
     "mlflow.log_param('C', C)\nmlflow.log_metric('roc_auc', auc)\n"
     "mlflow.sklearn.log_model(model, name='model', pip_requirements=['scikit-learn'],\n"
     "                         signature=infer_signature(train[features], model.predict(train[features])))\n"
     "print(f'C={C}: holdout ROC AUC {auc:.3f}')", ["stage:train"]),
]

INTRO = ("# Customer churn: a small demo\n\n"
         "This folder is the **demo** project (`mlp-project.toml`): plain `mlflow` calls here log to it. Run the "
         "cells, then look at the **ML Platform** panels: *Experiments* has a sweep of runs, *Pipelines* the `churn` "
         "pipeline promoted from this notebook (cells tagged `stage:prep` and `stage:train`), *Models* its `champion`, "
         "*Deployments* `churn-api` answering predictions, *Monitoring* its windows and a drift alert.")


def notebook() -> dict[str, Any]:
    """The demo notebook (nbformat 4): an introduction, then the tagged code cells."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": INTRO}]
    cells += [{"cell_type": "code", "execution_count": None, "metadata": {"tags": tags}, "outputs": [], "source": src}
              for src, tags in CELLS]
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}


def customers(n: int, seed: int):  # noqa: ANN201
    """Synthetic customers and whether they left: short tenure, high charges and support calls raise churn."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"tenure": rng.integers(1, 72, n).astype(float),
                      "monthly_charges": rng.normal(70, 20, n).round(2),
                      "support_calls": rng.poisson(1.5, n).astype(float)})
    score = -0.05 * x.tenure + 0.03 * (x.monthly_charges - 70) + 0.6 * x.support_calls + rng.normal(0, 1, n)
    return x, (score > 0).astype(int)


def say(msg: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def write_folder(root: Path) -> Path:
    """The project folder under the Jupyter root (`demo/`: marker and notebook, each written once); the notebook."""
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "mlp-project.toml"
    if not marker.exists():
        marker.write_text(f'project = "{PROJECT}"\n')
    nb = folder / NOTEBOOK
    if not nb.exists():
        nb.write_text(json.dumps(notebook(), indent=1))
        say(f"wrote {nb}")
    return nb


class Seeder:
    def __init__(self, client: Any, root: Path, user: str):
        self.c = client
        self.user = user
        self.root = root
        self.p = f"/projects/{PROJECT}"

    def _exists(self, path: str) -> bool:
        from .client import APIError

        try:
            self.c.get(path)
            return True
        except APIError as e:
            if e.status == 404:
                return False
            raise

    def project(self) -> None:
        if not self._exists(self.p):
            self.c.post("/projects", {"slug": PROJECT, "name": "Demo: customer churn"})
            say("created project demo")
        self.c.put(f"{self.p}/members/{self.user}", {"role": "lead"})

    def kernel_env(self) -> None:
        """What a notebook in the project folder gets: MLflow's address and a token scoped to the project."""
        import mlflow

        creds = self.c.post(f"{self.p}/kernel-token")
        os.environ.update({"MLFLOW_TRACKING_URI": f"{self.c.url}{creds['tracking_path']}",
                           "MLFLOW_TRACKING_TOKEN": creds["token"], "MLFLOW_EXPERIMENT_ID": creds["experiment_id"],
                           "MLP_PROJECT": PROJECT})
        mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])

    def datasets(self) -> None:
        from . import datasets

        for name, (n, seed) in {"churn": (2000, 0), "churn_holdout": (600, 1)}.items():
            try:
                datasets.read(name)
                continue
            except RuntimeError as e:
                if "404" not in str(e):
                    raise
            x, y = customers(n, seed)
            datasets.register(name, x.assign(churned=y), target="churned")
            say(f"registered dataset {name}")

    def sweep(self) -> None:
        """The notebook's own cells, run for several C, each in its run: the Experiments panel's sweep."""
        import mlflow

        done = {r["params"].get("C") for r in self.c.get(f"{self.p}/runs", filter="tags.mlp_demo = 'sweep'",
                                                         limit=50)["items"]}
        todo = [c for c in SWEEP if str(c) not in done]
        for c in todo:
            scope: dict[str, Any] = {}
            with mlflow.start_run(run_name=f"sweep C={c}", tags={"mlp_demo": "sweep"}):
                for src, tags in CELLS:
                    exec(compile(src, NOTEBOOK, "exec"), scope)  # noqa: S102 - the demo notebook's cells, ours
                    if "parameters" in tags:
                        scope["C"] = c
        if todo:
            say(f"logged {len(todo)} sweep runs")

    def promote(self, nb: Path) -> None:
        if not self._exists(f"{self.p}/pipelines/{PIPELINE}"):
            self.c.post(f"{self.p}/pipelines", {"notebook": json.loads(nb.read_text()),
                                                "path": f"{FOLDER}/{NOTEBOOK}", "name": PIPELINE})
            say("promoted the notebook to pipeline churn")

    def start_run(self) -> str | None:
        """Start the pipeline's run unless one succeeded (or one is under way); the run's id, None when done."""
        runs = self.c.get(f"{self.p}/pipelines/{PIPELINE}/runs", limit=20)["items"]
        if any(r["status"] == "SUCCESS" for r in runs):
            return None
        active = [r for r in runs if r["status"] not in ("SUCCESS", "FAILURE", "CANCELED")]
        run = active[0] if active else self.c.post(f"{self.p}/pipelines/{PIPELINE}/runs", {})
        say(f"pipeline run {run['run_id']} started")
        return run["run_id"]

    def wait(self, run_id: str | None) -> None:
        if run_id is None:
            return
        deadline = time.monotonic() + 600
        while (r := self.c.get(f"{self.p}/pipeline-runs/{run_id}"))["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"pipeline run {run_id} did not finish in 10 minutes")
            time.sleep(1)
        if r["status"] != "SUCCESS":
            raise RuntimeError(f"pipeline run {run_id} ended {r['status']}: {r.get('message')}")
        say("pipeline run finished")

    def champion(self) -> None:
        deadline = time.monotonic() + 60  # registration follows the run's success
        while not self._exists(f"{self.p}/models/{PIPELINE}"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"model {PIPELINE} was not registered after its pipeline run")
            time.sleep(1)
        model = self.c.get(f"{self.p}/models/{PIPELINE}")
        if "champion" in json.dumps(model.get("aliases")):
            return
        self.c.put(f"{self.p}/models/{PIPELINE}/gates", {
            "evaluation": {"dataset": "churn_holdout", "target": "churned"},
            "thresholds": [{"metric": "roc_auc", "op": ">=", "value": 0.7}]})
        d = self.c.post(f"{self.p}/models/{PIPELINE}/versions/1/promote", {"alias": "champion"})
        if d["status"] != "passed":
            raise RuntimeError(f"version 1 did not pass the gates: {d}")
        say("churn v1 is champion")

    def deployment(self) -> None:
        if not self._exists(f"{self.p}/deployments/{DEPLOYMENT}"):
            self.c.post(f"{self.p}/deployments", {"name": DEPLOYMENT, "model": PIPELINE, "alias": "champion"})
            say("deployed churn@champion as churn-api")
        if not self._exists(f"{self.p}/deployments/{DEPLOYMENT}/monitor"):
            self.c.put(f"{self.p}/deployments/{DEPLOYMENT}/monitor", {"window_size": WINDOW})
            say("monitor set on churn-api")

    def traffic(self) -> None:
        """Three windows of scored and labelled customers, the last with support calls up by two (drift), then an
        evaluation."""
        import httpx

        path = f"{self.p}/deployments/{DEPLOYMENT}/monitor/windows"
        if self.c.get(path, limit=1)["items"]:
            return
        key = self.c.post(f"{self.p}/api-keys", {"name": "demo-traffic"})["key"]
        x, y = customers(3 * WINDOW, 7)
        x.loc[2 * WINDOW:, "support_calls"] += 2
        base = f"{self.c.url}/serve/{PROJECT}/{DEPLOYMENT}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as h:
            for i in range(0, len(x), 50):
                part = x.iloc[i:i + 50]
                body = {"dataframe_split": {"columns": FEATURES, "data": part.values.tolist()}}
                deadline = time.monotonic() + 120
                while (r := h.post("/invocations", json=body)).status_code != 200:  # workers still starting
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{DEPLOYMENT} does not answer: {r.status_code} {r.text[:300]}")
                    time.sleep(1)
                # The late labels, by prediction id (one per row): the monitor scores each window's performance.
                h.post("/feedback", json={"labels": [{"prediction_id": r.headers["x-prediction-id"],
                                                      "label": y.iloc[i:i + 50].tolist()}]}).raise_for_status()
        self.c.post(f"{path.rsplit('/', 1)[0]}/evaluate")
        say(f"scored {len(x)} customers; monitor evaluated")

    def run(self) -> None:
        nb = write_folder(self.root)
        self.project()
        self.promote(nb)  # first: Dagster loads the pipeline while MLflow starts
        self.kernel_env()
        self.datasets()
        run_id = self.start_run()
        self.sweep()  # while Dagster runs the pipeline
        self.wait(run_id)
        self.champion()
        self.deployment()
        self.traffic()


def seed(root: Path) -> None:
    """Seed the demo project (idempotent); `root` is the Jupyter root the `demo/` folder goes under."""
    from .client import BackendClient
    from .settings import load_settings

    settings = load_settings()
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.run_dir / "demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        t0 = time.monotonic()
        user = getpass.getuser()
        Seeder(BackendClient(settings, user=user), root, user).run()
        say(f"demo ready in {time.monotonic() - t0:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jupyter_mlp.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=".", help="the Jupyter root; the demo/ project folder is made there")
    p.add_argument("--files-only", action="store_true",
                   help="only write the demo/ folder (Binder's build does, so the notebook is there at once)")
    args = p.parse_args(argv)
    from .client import APIError

    if args.files_only:
        write_folder(Path(args.root).resolve())
        return 0

    try:
        seed(Path(args.root).resolve())
    except (APIError, RuntimeError) as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
