"""What a pipeline run waits on before its first stage (issue 16 item 2): the platform starts Dagster's webserver
when it starts, with every version loaded, so the first run (a Ship's) neither waits for the webserver (22 s
measured, docs/benchmarks.md) nor reloads a code location the start has just loaded (8 s)."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import uvicorn

from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_platform_starts_dagster_at_start_and_the_first_run_does_not_reload_it(mlp_home, mlflow_server):
    settings = Settings(home=mlp_home, container_engine="none", admin_users=["admin"],
                        mlflow_url=f"unix://{mlflow_server.socket}",
                        mlflow_backend_store_uri=mlflow_server.backend_store_uri,
                        mlflow_experiment_prefix=f"t{uuid.uuid4().hex[:8]}-")
    app = create_app(settings, eager=True)  # as `python -m jupyter_mlp_backend` starts the platform
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 240
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        dagster = app.state.dagster
        while not dagster.started and time.monotonic() < deadline:  # nobody has run a pipeline
            time.sleep(0.5)
        assert dagster.started, "the platform did not start Dagster's webserver when it started"
        # the code location the webserver loaded at its start counts as loaded: the first run reloads only when a
        # version was added since (before, every first run reloaded it: 8 s on this machine)
        assert dagster._loaded == dagster.index.read_text()  # noqa: SLF001 - the state reload() decides on
    finally:
        server.should_exit = True
        thread.join(60)
