"""Run the backend: `python -m jupyter_mlp_backend` (the server extension and `mlp up` start it this way).

It binds first, then records pid and URL in `$MLP_HOME/run/backend.json` so that every other process on the
machine finds it instead of starting another. With `backend_port = 0` the first start picks a free port and keeps
it in `$MLP_HOME/run/ports.json`; later starts listen on that port again, so the serving URLs clients were given
stay valid across restarts. The socket listens before the app starts: a request that arrives while deployments
are being restored waits in the backlog instead of being refused.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys

from jupyter_mlp.local_backend import (BackendRecord, clear_record, port_holder, remember_port, remembered_port,
                                       write_record)
from jupyter_mlp.settings import load_settings


def listen_socket(host: str, port: int) -> socket.socket:
    # proto must say TCP: asyncio only turns Nagle off (TCP_NODELAY) on accepted sockets whose proto is
    # IPPROTO_TCP, and a keep-alive client otherwise waits ~40 ms for a delayed ACK on every response.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


class ServicePrefix:
    """Under JupyterHub the proxy forwards `/services/<name>/api/...` with its prefix (`JUPYTERHUB_SERVICE_PREFIX`);
    the app's routes are `/api/...`. Requests with the prefix lose it (and carry it as `root_path`); requests
    without it (a single-user server or kernel calling the backend's own URL) pass unchanged."""

    def __init__(self, app, prefix: str):  # noqa: ANN001
        self.app = app
        self.prefix = "/" + prefix.strip("/")

    async def __call__(self, scope, receive, send):  # noqa: ANN001
        path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
        if path == self.prefix or path.startswith(self.prefix + "/"):
            scope = dict(scope, path=path[len(self.prefix):] or "/",
                         root_path=scope.get("root_path", "") + self.prefix)
            if "raw_path" in scope and scope["raw_path"]:
                scope["raw_path"] = scope["raw_path"][len(self.prefix):] or b"/"
        await self.app(scope, receive, send)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlp_backend", description=__doc__)
    parser.add_argument("--host", help="override MLP_BACKEND_HOST")
    parser.add_argument("--port", type=int, help="override MLP_BACKEND_PORT (0: any free port)")
    args = parser.parse_args(argv)
    settings = load_settings()
    host = args.host or settings.backend_host
    port = settings.backend_port if args.port is None else args.port
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stable = args.port is None and settings.backend_port == 0  # pick once, then keep (`--port 0`: a one-off)
    kept = remembered_port(settings) if stable else None
    try:
        sock = listen_socket(host, kept or port)
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        wanted = kept or port
        source = f"kept in {settings.run_dir / 'ports.json'}" if kept else "MLP_BACKEND_PORT"
        print(f"port {wanted} ({source}) is taken by {port_holder(wanted)}: stop it, or set MLP_BACKEND_PORT to "
              "another port (clients of the serving URLs must then be told the new address)", file=sys.stderr,
              flush=True)
        sys.exit(1)
    bound_port = sock.getsockname()[1]
    if stable and kept != bound_port:
        remember_port(settings, bound_port)
    # Imported once the port listens (a few seconds of imports): connections meanwhile wait in the backlog.
    import uvicorn

    from .app import create_app

    url_host = f"[{host}]" if ":" in host else host
    record = BackendRecord.for_this_process(f"http://{url_host}:{bound_port}", settings.home)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None):  # noqa: ANN001
            # Forget the record before uvicorn re-raises SIGTERM, so nobody is sent to a dead port.
            clear_record(settings, record)
            # Open event streams end now (uvicorn waits for every response to finish before it stops).
            backend.state.stopping = True
            await super().shutdown(sockets)

    app = backend = create_app(settings, eager=True)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "").strip("/")
    if settings.auth_mode == "hub" and prefix:  # a hub-managed service (`mlp hub`): reached at /services/<name>/
        app = ServicePrefix(app, prefix)
    config = uvicorn.Config(app, log_level=settings.log_level.lower(), access_log=False)
    write_record(settings, record)
    Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
