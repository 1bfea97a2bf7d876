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


def test_a_part_that_does_not_stop_does_not_hold_the_backends_stop(mlp_home, monkeypatch, caplog):
    """Each shutdown step is bounded: a part whose stop never returns (here the batch runner's, standing in for any
    of them) is cancelled after the step's bound and named in the log, and the rest still stops (the database
    closes). Before, the stop awaited it forever: the test run's per-test timeout was the only bound."""
    import asyncio
    import logging
    import threading

    from jupyter_mlp_backend import app as app_module

    monkeypatch.setattr(app_module, "SHUTDOWN_STEP_SECONDS", 1.0)
    app = create_app(Settings(home=mlp_home, container_engine="none", admin_users=["admin"]))
    client = TestClient(app)
    client.__enter__()

    async def never() -> None:
        await asyncio.Event().wait()

    app.state.batch.stop = never
    stopped = threading.Event()

    def stop() -> None:
        client.__exit__(None, None, None)
        stopped.set()

    with caplog.at_level(logging.ERROR, logger="jupyter_mlp_backend"):
        threading.Thread(target=stop, daemon=True).start()
        assert stopped.wait(120), "the backend's stop hung on one part"
    assert "shutdown: batch jobs did not stop" in caplog.text
