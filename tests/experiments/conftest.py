"""Experiment fixtures: one real MLflow server for the session, and real backends in front of it.

- `mlflow_server` (session): a managed MLflow (SQLite + local artifacts, Unix socket) in a temp folder.
- `backend`: a live backend (uvicorn on a free loopback port) whose MLflow is that server; each test gets its
  own platform database and its own experiment-name prefix, so tests cannot see each other's experiments.
  `backend.token(user)` mints a user token; `backend.admin` is an httpx client for user `admin`.
- `project`: project `acme` with lead `lena`, scientist `sam`, viewer `vic`; `other`: project `globex` (lead
  `gus`) with a run of its own.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from jupyter_mlp.identity import mint_token, read_secret
from jupyter_mlp.settings import Settings
from jupyter_mlp_backend import create_app
from jupyter_mlp_backend.mlflow_service import MlflowService


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("mlflow-home")
    settings = Settings(home=home)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    service = MlflowService(settings)
    service.start()
    asyncio.run(service.wait_ready())
    yield service
    asyncio.run(service.stop())


@dataclass
class Backend:
    url: str
    settings: Settings

    def token(self, user: str) -> str:
        return mint_token(read_secret(self.settings.secret_path), user, 600)

    def client(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api", headers={"Authorization": f"Bearer {self.token(user)}"},
                            timeout=60)

    @property
    def admin(self) -> httpx.Client:
        return self.client("admin")

    def kernel_env(self, user: str, slug: str) -> dict[str, str]:
        creds = self.client(user).post(f"/projects/{slug}/kernel-token")
        assert creds.status_code == 200, creds.text
        c = creds.json()
        return {"MLFLOW_TRACKING_URI": f"{self.url}{c['tracking_path']}", "MLFLOW_TRACKING_TOKEN": c["token"],
                "MLFLOW_EXPERIMENT_ID": c["experiment_id"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def backend(mlp_home: Path, mlflow_server: MlflowService):
    settings = Settings(
        home=mlp_home,
        admin_users=["admin"],
        mlflow_url=f"unix://{mlflow_server.socket}",
        mlflow_backend_store_uri=mlflow_server.backend_store_uri,
        mlflow_experiment_prefix=f"t{uuid.uuid4().hex[:8]}-",
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield Backend(url, settings)
    server.should_exit = True
    thread.join(30)


@pytest.fixture
def project(backend: Backend) -> str:
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "acme", "name": "Acme credit"}).status_code == 201
    for user, role in [("lena", "lead"), ("sam", "scientist"), ("vic", "viewer")]:
        assert admin.put(f"/projects/acme/members/{user}", json={"role": role}).status_code == 200
    return "acme"


@pytest.fixture
def use_mlflow(monkeypatch):
    """Point the in-process MLflow client at a gateway with given credentials; returns a setter."""
    import mlflow

    def point(env: dict[str, str]) -> None:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])

    yield point
    mlflow.set_tracking_uri(None)
    if mlflow.active_run():
        mlflow.end_run()
