"""The `ExtensionApp`: options as traitlets, the proxy route, and the local backend's life cycle."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Unicode

from jupyter_mlp.local_backend import Started, ensure_backend
from jupyter_mlp.settings import Settings, load_settings

from .dashboard import DashboardHandler
from .handlers import BackendProxyHandler, ProjectOfHandler
from .identity import IdentityForwarder, make_forwarder
from .kernels import KernelEnvironment


class MLPServerApp(ExtensionApp):
    name = "jupyter_mlp_server"

    backend_url = Unicode(
        "",
        config=True,
        help="URL of the jupyter-mlp backend (a JupyterHub service, say). Empty: use MLP_BACKEND_URL, else the "
        "local backend recorded under MLP_HOME, else start one.",
    )
    start_backend = Bool(
        True, config=True, help="Start a local backend when none is configured or running, and stop it on shutdown."
    )
    request_timeout = Float(300.0, config=True, help="Seconds a proxied request may take (streams included).")

    def initialize_settings(self) -> None:
        overrides = {"backend_url": self.backend_url} if self.backend_url else {}
        self.mlp_settings: Settings = load_settings(**overrides)
        self.forwarder: IdentityForwarder = make_forwarder(self.mlp_settings)
        self._client: httpx.AsyncClient | None = None
        self._started: Future[Started] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlp-backend")
        if self.start_backend or self.mlp_settings.backend_url:
            # Start in the background: the Jupyter server does not wait on the backend's migrations.
            self._started = self._pool.submit(ensure_backend, self.mlp_settings)
        self.settings["jupyter_mlp"] = self
        KernelEnvironment(self).install(self.serverapp.session_manager)

    def initialize_handlers(self) -> None:
        self.handlers.extend([
            (r"/mlp/api/(.*)", BackendProxyHandler),
            (r"/mlp/local/project-of", ProjectOfHandler),
            (r"/mlp/dashboard/?", DashboardHandler),  # the stakeholder dashboard (read-only page)
        ])

    async def backend_base(self) -> str:
        if self._started is None:
            raise RuntimeError("no backend configured and start_backend is off")
        if self._started.done() and self._started.exception() is not None:
            # A failed start is retried on the next request rather than remembered forever.
            self._started = self._pool.submit(ensure_backend, self.mlp_settings)
        return (await asyncio.wrap_future(self._started)).url

    async def backend_request(self, method: str, path: str, body: object = None) -> dict:
        """Call the backend as the server's owner (for work no browser request carries, like kernel start-up)."""
        base = await self.backend_base()
        r = await self.http_client().request(method, f"{base}/api/{path}", json=body,
                                             headers={"Authorization": f"Bearer {self.forwarder.server_owner()}"})
        if r.status_code >= 400:
            try:
                message = r.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = r.text[:300]
            raise RuntimeError(f"{r.status_code}: {message}")
        return r.json() if r.content else {}

    def http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.request_timeout, connect=10.0),
                # Idle connections are dropped before the backend's own keep-alive timeout (uvicorn: 5 s) could
                # close one under a request the proxy just sent on it.
                limits=httpx.Limits(max_keepalive_connections=20, keepalive_expiry=2.0),
            )
        return self._client

    async def stop_extension(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._started is not None:
            try:  # a start still under way is waited for, so that what it starts is stopped too
                started = await asyncio.wait_for(asyncio.wrap_future(self._started), timeout=60)
            except Exception as e:  # noqa: BLE001
                self.log.warning("jupyter-mlp backend did not start: %s", e)
            else:
                started.stop()
        self._pool.shutdown(wait=False)
