"""Run the AI services process: `python -m jupyter_mlp_gpu` (`mlp up` starts it this way).

Like the backend it binds first, then records pid and URL in `$MLP_HOME/run/gpu.json`; with `gpu_port = 0` the
first start picks a free port and keeps it in `$MLP_HOME/run/ports.json` (key `gpu`).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys

from jupyter_mlp.gpu_service import GpuRecord, clear_gpu_record, write_gpu_record
from jupyter_mlp.local_backend import port_holder, remember_port, remembered_port
from jupyter_mlp.settings import load_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlp_gpu", description=__doc__)
    parser.add_argument("--host", help="override MLP_GPU_HOST")
    parser.add_argument("--port", type=int, help="override MLP_GPU_PORT (0: any free port)")
    args = parser.parse_args(argv)
    settings = load_settings()
    host = args.host or settings.gpu_host
    port = settings.gpu_port if args.port is None else args.port
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from local packages; no hub is reachable

    stable = args.port is None and settings.gpu_port == 0
    kept = remembered_port(settings, "gpu") if stable else None
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, kept or port))
    except OSError as e:
        if e.errno != errno.EADDRINUSE:
            raise
        wanted = kept or port
        print(f"port {wanted} is taken by {port_holder(wanted)}: stop it, or set MLP_GPU_PORT to another port",
              file=sys.stderr, flush=True)
        sys.exit(1)
    sock.listen(512)
    bound = sock.getsockname()[1]
    if stable and kept != bound:
        remember_port(settings, bound, "gpu")

    import uvicorn

    from .app import create_app

    url_host = f"[{host}]" if ":" in host else host
    record = GpuRecord(pid=os.getpid(), url=f"http://{url_host}:{bound}", home=str(settings.home))

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None):  # noqa: ANN001
            clear_gpu_record(settings, record)
            await super().shutdown(sockets)

    config = uvicorn.Config(create_app(settings), log_level=settings.log_level.lower(), access_log=False)
    write_gpu_record(settings, record)
    Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
