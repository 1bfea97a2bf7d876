"""What the platform starts when it starts (`python -m jupyter_mlp_backend`, `mlp up`: the eager app).

By default it starts Dagster's webserver at once (tests/pipelines/test_stage_start.py); with
`dagster_start_with_platform = false` and nothing ticking it leaves Dagster for its first use, so a platform (or a
test fixture) that runs no pipelines does not pay a webserver's start."""

from __future__ import annotations

import time
import uuid

from fastapi.testclient import TestClient

from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app


def test_with_the_setting_off_dagster_waits_for_its_first_use(mlp_home, mlflow_server):
    settings = Settings(home=mlp_home, container_engine="none", admin_users=["admin"],
                        mlflow_url=f"unix://{mlflow_server.socket}",
                        mlflow_backend_store_uri=mlflow_server.backend_store_uri,
                        mlflow_experiment_prefix=f"t{uuid.uuid4().hex[:8]}-",
                        dagster_start_with_platform=False)
    app = create_app(settings, eager=True)
    with TestClient(app):
        dagster = app.state.dagster
        deadline = time.monotonic() + 120
        while not dagster.index.exists() and time.monotonic() < deadline:  # the start-up's resume has run
            time.sleep(0.1)
        assert dagster.index.exists(), "the platform's start never got to Dagster's index"
        time.sleep(1.0)  # (a start would have spawned the webserver right after writing the index)
        assert dagster._proc is None and not dagster.started  # noqa: SLF001 - no webserver process was spawned
        assert not dagster.daemon_running
        assert not (settings.run_dir / "dagster.pid").exists()
