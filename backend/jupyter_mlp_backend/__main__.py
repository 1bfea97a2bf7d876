"""Run the backend: `python -m jupyter_mlp_backend` (the server extension and `mlp up` start it this way).

It binds first (port 0 picks a free one), then records pid and URL in `$MLP_HOME/run/backend.json` so that
every other process on the machine finds it instead of starting another.
"""

from __future__ import annotations

import argparse
import logging
import socket

import uvicorn

from jupyter_mlp.local_backend import BackendRecord, clear_record, write_record
from jupyter_mlp.settings import load_settings

from .app import create_app


def listen_socket(host: str, port: int) -> socket.socket:
    # proto must say TCP: asyncio only turns Nagle off (TCP_NODELAY) on accepted sockets whose proto is
    # IPPROTO_TCP, and a keep-alive client otherwise waits ~40 ms for a delayed ACK on every response.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlp_backend", description=__doc__)
    parser.add_argument("--host", help="override MLP_BACKEND_HOST")
    parser.add_argument("--port", type=int, help="override MLP_BACKEND_PORT (0: any free port)")
    args = parser.parse_args(argv)
    settings = load_settings()
    host = args.host or settings.backend_host
    port = settings.backend_port if args.port is None else args.port
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    sock = listen_socket(host, port)
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    record = BackendRecord.for_this_process(f"http://{url_host}:{bound_port}", settings.home)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None):  # noqa: ANN001
            # Forget the record before uvicorn re-raises SIGTERM, so nobody is sent to a dead port.
            clear_record(settings, record)
            await super().shutdown(sockets)

    config = uvicorn.Config(create_app(settings, eager=True), log_level=settings.log_level.lower(), access_log=False)
    write_record(settings, record)
    Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
