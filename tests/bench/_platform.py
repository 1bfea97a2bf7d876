"""The platform as the pipeline benchmarks start it: the backend app on a fresh MLP_HOME, served by uvicorn in a
thread, an API client with an admin's token, and a project. bench_pipeline_run and bench_stage_start share it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.bench._lab import free_port


# papermill already imported; per stage notebook one kernel start and its cells. Prints the seconds.
FLOOR = """
import json, os, sys, time
import papermill as pm
io, out, stages = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
os.environ["MLP_STAGE_IO"] = io
t0 = time.perf_counter()
for name, path in stages:
    os.environ["MLP_STAGE"] = name
    pm.execute_notebook(path, os.path.join(out, name + ".ipynb"), kernel_name="python3", progress_bar=False,
                        cwd=out)
print(time.perf_counter() - t0)
"""


@dataclass
class Platform:
    tmp: Path
    app: Any
    server: uvicorn.Server
    api: httpx.Client

    def wait_run(self, project: str, run: dict, poll: float = 0.2) -> dict:
        """Poll a pipeline run to its end (as the Ship and the panel do); the final answer."""
        while run["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
            time.sleep(poll)
            run = self.api.get(f"/projects/{project}/pipeline-runs/{run['run_id']}").json()
        return run

    def floor(self, project: str, digest: str) -> float:
        """The floor of a run of the version: its stage notebooks, in order, run by papermill in a process that
        has already imported it (one kernel start and the cells per stage: no interpreter start, no papermill
        import, no Dagster, no MLflow); seconds."""
        vdir = self.tmp / "home" / "pipelines" / project / digest
        order = json.loads((vdir / "pipeline.json").read_text())["order"]
        stages = [[s, str(vdir / "stages" / f"{s}.ipynb")] for s in order]
        work = Path(tempfile.mkdtemp(prefix="floor-", dir=self.tmp))
        proc = subprocess.run([sys.executable, "-c", FLOOR, str(work / "io"), str(work), json.dumps(stages)],
                              check=True, capture_output=True, text=True)
        return float(proc.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        self.server.should_exit = True
        time.sleep(2)
        asyncio.run(self.app.state.dagster.stop())


def start_platform(prefix: str, project: str = "bench", **settings_kw: Any) -> Platform:
    from jupyter_mlp.identity import mint_token, read_secret
    from jupyter_mlp.settings import Settings
    from jupyter_mlp_backend import create_app

    eager = settings_kw.pop("eager", False)
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    settings = Settings(home=tmp / "home", admin_users=["bench"], **settings_kw)
    app = create_app(settings, eager=True) if eager else create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    token = mint_token(read_secret(settings.secret_path), "bench", 7200)
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api", headers={"Authorization": f"Bearer {token}"},
                       timeout=600)
    r = api.post("/projects", json={"slug": project, "name": project.title()})
    assert r.status_code == 201, r.text
    return Platform(tmp, app, server, api)
