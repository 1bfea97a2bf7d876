"""How long a pipeline run waits before its first stage's first cell runs (issue 16 item 2).

Three runs through the backend API on a fresh MLP_HOME, as the Ship's run step makes them: the first run after the
platform started (Dagster not started yet), a run of a newly promoted version (the code location reloads), and the
same version again. Each time is from the POST of the run to the moment the first stage's first cell executes (the
cell appends time.time() to a file), so papermill's own kernel start is inside it; the total is the run's end.

Run: .venv/bin/python -m tests.bench.bench_stage_start
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from tests.bench._lab import free_port


def notebook(marker: Path, c: int) -> dict:
    cells = [(f"import time\nopen({str(marker)!r}, 'a').write(f'{{time.time()}}\\n')", ["stage:first"]),
             (f"x = {c}", ["parameters"]),
             ("y = x * 2", ["stage:second"])]
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {"tags": t}, "outputs": [],
                       "source": s} for s, t in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def main() -> None:
    from jupyter_mlp.identity import mint_token, read_secret
    from jupyter_mlp.settings import Settings
    from jupyter_mlp_backend import create_app

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("jupyter_mlp_backend.pipelines.run_service").setLevel(logging.INFO)
    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-stage1-"))
    marker = tmp / "first-cell.txt"
    settings = Settings(home=tmp / "home", admin_users=["bench"], container_engine="none")
    app = create_app(settings, eager=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    token = mint_token(read_secret(settings.secret_path), "bench", 7200)
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api", headers={"Authorization": f"Bearer {token}"},
                       timeout=600)
    assert api.post("/projects", json={"slug": "bench", "name": "Bench"}).status_code == 201

    def promote(c: int) -> None:
        r = api.post("/projects/bench/pipelines", json={"notebook": notebook(marker, c), "path": "p.ipynb",
                                                        "name": "p"})
        assert r.status_code == 201, r.text

    def run(label: str) -> None:
        before = len(marker.read_text().splitlines()) if marker.exists() else 0
        t0 = time.time()
        r = api.post("/projects/bench/pipelines/p/runs", json={})
        assert r.status_code in (200, 201), r.text
        answered = time.time() - t0
        out = r.json()
        while out["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
            time.sleep(0.2)
            out = api.get(f"/projects/bench/pipeline-runs/{out['run_id']}").json()
        total = time.time() - t0
        assert out["status"] == "SUCCESS", out
        first = float(marker.read_text().splitlines()[before]) - t0
        print(f"  {label:<34} launch answered {answered:5.1f} s   first cell {first:5.1f} s   run {total:5.1f} s",
              flush=True)

    try:
        time.sleep(5)  # the platform's start-up work (eager) under way, as when a user opens the Ship dialog
        promote(1)
        run("first run after the platform start")
        promote(2)
        run("a newly promoted version")
        run("the same version again")
    finally:
        server.should_exit = True
        time.sleep(2)
        asyncio.run(app.state.dagster.stop())


if __name__ == "__main__":
    main()
