"""The MLflow tracking server as the backend's managed child, reachable only by the backend.

Embedded default: `mlflow server` on SQLite + local artifacts under `$MLP_HOME/mlflow` (sealed per project with
encryption at rest on: experiments/sealed_artifacts.py), listening on a Unix socket inside a 0700 folder — no TCP
port, so no other process can talk to MLflow around the backend. Artifacts
may live on an S3-compatible bucket instead (`mlflow_artifacts_destination = "s3://…"`, `s3_endpoint_url`): the
server proxies them (`--serve-artifacts`), so clients never hold bucket credentials.
A team deployment names an existing MLflow server instead (`MLP_MLFLOW_URL`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from jupyter_mlp.settings import Settings

from .children import child_options

log = logging.getLogger(__name__)

# The sealed artifact store (encryption at rest; experiments/sealed_artifacts.py, an MLflow artifact-repository plugin
# under this scheme) and what the MLflow server's environment gives it: the platform database, MLP_HOME (the master
# key's folder), the master-key provider, and the store's root (paths below it start with the experiment id).
SEALED_SCHEME = "mlp-sealed"
SEALED_DATABASE_ENV = "MLP_ARTIFACTS_DATABASE_URL"
SEALED_HOME_ENV = "MLP_ARTIFACTS_HOME"
SEALED_MASTER_KEY_ENV = "MLP_ARTIFACTS_AT_REST_MASTER_KEY"
SEALED_ROOT_ENV = "MLP_ARTIFACTS_ROOT"


def sealed_destination(root: Path) -> str:
    from urllib.parse import quote

    return f"{SEALED_SCHEME}://{quote(str(Path(root).resolve()))}"


class MlflowService:
    def __init__(self, settings: Settings, database_url: str | None = None):
        self.settings = settings
        # The platform database, for the sealed artifact store (encryption at rest, experiments/sealed_artifacts.py):
        # given by the backend for its own MLflow; without it (a bare MLflow, as tests share one) artifacts are plain.
        self.database_url = database_url
        self.root = settings.home / "mlflow"
        self.sock_dir = settings.run_dir / "mlflow"
        self.socket = self.sock_dir / "mlflow.sock"
        self.pidfile = self.sock_dir / "mlflow.pid"
        self._proc: subprocess.Popen | None = None
        self._ready = asyncio.Event()
        self._error: str | None = None
        self.client: httpx.AsyncClient | None = None

    @property
    def external(self) -> bool:
        return bool(self.settings.mlflow_url)

    @property
    def backend_store_uri(self) -> str:
        return self.settings.mlflow_backend_store_uri or f"sqlite:///{self.root / 'mlflow.db'}"

    def _client(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(120.0, connect=10.0)
        url = self.settings.mlflow_url or ""
        if url and not url.startswith("unix://"):
            return httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout)
        # `unix:///path/mlflow.sock` names another platform process's managed MLflow (tests share one this way).
        transport = httpx.AsyncHTTPTransport(uds=url[len("unix://"):] if url else str(self.socket))
        return httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=timeout)

    def _kill_stale(self) -> None:
        try:
            pid = int(self.pidfile.read_text())
            os.killpg(pid, signal.SIGTERM)
            log.info("stopped a stale MLflow server (process group %s)", pid)
            time.sleep(0.5)
        except (OSError, ValueError):
            pass
        self.socket.unlink(missing_ok=True)

    def start(self) -> None:
        """Start MLflow (or point at the external one); readiness is awaited with `wait_ready`."""
        self.client = self._client()
        if self.external:
            self._ready.set()
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.sock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.sock_dir, 0o700)
        self._kill_stale()
        env = {
            **os.environ,
            # The job runner and its queue consumers (GenAI features) cost ~1 GB resident; we do not use them.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }
        if self.settings.s3_endpoint_url:  # `s3://` artifacts on an S3-compatible store; credentials: AWS_* as usual
            env["MLFLOW_S3_ENDPOINT_URL"] = self.settings.s3_endpoint_url
        artifacts = self.settings.mlflow_artifacts_destination or str(self.root / "artifacts")
        if self.database_url and "://" not in artifacts:
            # A local store: the files of projects with encryption on are sealed as MLflow writes them
            Path(artifacts).mkdir(parents=True, exist_ok=True)
            env.update({SEALED_DATABASE_ENV: self.database_url, SEALED_HOME_ENV: str(self.settings.home),
                        SEALED_MASTER_KEY_ENV: self.settings.at_rest_master_key or "",
                        SEALED_ROOT_ENV: str(Path(artifacts).resolve())})
            artifacts = sealed_destination(Path(artifacts))
        cmd = [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", self.backend_store_uri,
            "--artifacts-destination", artifacts,
            "--serve-artifacts",
            "--workers", "1",
            "--host", "127.0.0.1", "--port", "0",  # ignored: uvicorn binds the socket below instead
            "--uvicorn-opts", f"--uds {self.socket}",
        ]
        logf = open(self.settings.run_dir / "mlflow.log", "ab")
        # Its own process group, so stopping it stops the uvicorn worker it spawns too; and it stops (forwarding
        # SIGTERM to that worker) when the backend dies without stopping it.
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, env=env,
                                      **child_options())
        logf.close()
        self.pidfile.write_text(str(self._proc.pid))

    async def wait_ready(self, timeout: float = 120.0) -> None:
        if self._ready.is_set():
            return
        if self._error:
            raise RuntimeError(self._error)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                self._error = f"MLflow exited with code {self._proc.returncode}; see {self.settings.run_dir / 'mlflow.log'}"
                raise RuntimeError(self._error)
            try:
                r = await self.client.get("/health", timeout=2.0)
                if r.status_code == 200:
                    self._ready.set()
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"MLflow did not answer within {timeout:.0f} s")

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for _ in range(100):
            if self._proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            os.killpg(self._proc.pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)
        self.socket.unlink(missing_ok=True)
