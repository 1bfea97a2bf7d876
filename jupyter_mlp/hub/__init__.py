"""JupyterHub deployment: the `jupyterhub_config.py` this package ships and what `mlp hub` needs to run it.

The config (next to this file) serves JupyterHub with configurable-http-proxy, runs the platform backend as the
hub-managed service `mlp` (reached at `/services/mlp/`), and spawns single-user servers that load the server
extension and call that backend with their user's hub token. State lives under `$MLP_HOME/hub`; a site's own
`$MLP_HOME/hub/jupyterhub_config.py`, when present, is loaded after it and may change anything (docs/deployment.md).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

from ..settings import Settings

CONFIG = Path(__file__).with_name("jupyterhub_config.py")
SERVICE = "mlp"


def hub_dir(settings: Settings) -> Path:
    return settings.home / "hub"


def proxy_command(settings: Settings) -> str:
    """configurable-http-proxy (npm): the setting, else the venv's `bin` (`make install`), else PATH."""
    if settings.hub_proxy_command:
        return settings.hub_proxy_command
    beside = Path(sys.executable).parent / "configurable-http-proxy"
    if beside.exists():
        return str(beside)
    found = shutil.which("configurable-http-proxy")
    if not found:
        raise RuntimeError("configurable-http-proxy not found: `npm install -g --prefix .venv "
                           "configurable-http-proxy@5` (make install does), or set MLP_HUB_PROXY_COMMAND")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def venv_bin(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
