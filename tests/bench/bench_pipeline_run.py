"""One notebook three ways, same run: plain papermill, a one-stage pipeline, and split into three stages.

The pipelines go through everything a user's run does: the backend API, Dagster's webserver (GraphQL launch,
a run worker process), papermill per stage, MLflow parent and child runs, values passed between stages.
Dagster is warmed by one untimed run first. Budget (issue 4): a one-stage run costs at most 2x plain papermill.

Run: .venv/bin/python -m tests.bench.bench_pipeline_run [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from tests.bench._lab import free_port

SETUP = "import numpy as np\nfrom sklearn.linear_model import LogisticRegression"
PARAMS = "n = 2000\nseed = 0"
LOAD = "rng = np.random.default_rng(seed)\nX = rng.normal(size=(n, 20))\ny = (X[:, 0] + rng.normal(size=n) > 0)"
FIT = "model = LogisticRegression(max_iter=500).fit(X, y)"
SCORE = "score = model.score(X, y)\nprint(score)"


def notebook(stages: list[str] | None) -> dict:
    cells = [(SETUP, ["imports"]), (PARAMS, ["parameters"])]
    bodies = [LOAD, FIT, SCORE]
    for i, body in enumerate(bodies):
        tags = [f"stage:{stages[i]}"] if stages and i < len(stages) and stages[i] else []
        cells.append((body, tags))
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {"tags": t}, "outputs": [],
                       "source": s} for s, t in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from jupyter_mlp.identity import mint_token, read_secret
    from jupyter_mlp.settings import Settings
    from jupyter_mlp_backend import create_app

    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-pipe-"))
    settings = Settings(home=tmp / "home", admin_users=["bench"])
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    token = mint_token(read_secret(settings.secret_path), "bench", 7200)
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api", headers={"Authorization": f"Bearer {token}"},
                       timeout=600)
    assert api.post("/projects", json={"slug": "bench", "name": "Bench"}).status_code == 201
    for name, stages in (("one", None), ("three", ["load", "fit", "score"])):
        r = api.post("/projects/bench/pipelines", json={"notebook": notebook(stages), "path": f"{name}.ipynb",
                                                        "name": name})
        assert r.status_code == 201, r.text
    plain = tmp / "plain.ipynb"
    plain.write_text(json.dumps(notebook(None)))

    def run_pipeline(name: str) -> float:
        t0 = time.perf_counter()
        run = api.post(f"/projects/bench/pipelines/{name}/runs", json={}).json()
        while run["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
            time.sleep(0.2)
            run = api.get(f"/projects/bench/pipeline-runs/{run['run_id']}").json()
        assert run["status"] == "SUCCESS", run
        return time.perf_counter() - t0

    def run_papermill() -> float:
        # The papermill CLI, as a user would run it (in-process papermill would share this process's event loop
        # with the backend under test).
        t0 = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "papermill"), str(plain), str(tmp / "out.ipynb"),
                        "-k", "python3", "--no-progress-bar"], check=True, capture_output=True)
        return time.perf_counter() - t0

    try:
        warm = run_pipeline("one")  # starts Dagster and MLflow
        times: dict[str, list[float]] = {"papermill": [], "one": [], "three": []}
        for _ in range(args.rounds):
            times["papermill"].append(run_papermill())
            times["one"].append(run_pipeline("one"))
            times["three"].append(run_pipeline("three"))
    finally:
        server.should_exit = True
        time.sleep(2)
        asyncio.run(app.state.dagster.stop())
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"same notebook (2000x20 logistic regression), median of {args.rounds}, end to end:")
    print(f"  plain papermill:          {med['papermill']:6.2f} s")
    print(f"  one-stage pipeline:       {med['one']:6.2f} s   ratio {med['one'] / med['papermill']:.2f}")
    print(f"  three-stage pipeline:     {med['three']:6.2f} s   ratio {med['three'] / med['papermill']:.2f}")
    print(f"  (first pipeline run, starting Dagster and MLflow: {warm:.1f} s)")


if __name__ == "__main__":
    main()
