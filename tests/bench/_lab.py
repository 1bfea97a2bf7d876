"""Start and stop JupyterLab servers for the benchmarks, with or without jupyter-mlp."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    proc: subprocess.Popen
    url: str
    token: str

    @property
    def login(self) -> str:
        return f"{self.url}lab?token={self.token}"

    def rss_mb(self) -> float:
        """Resident memory of the server process and its children (the backend it started included)."""
        import psutil

        p = psutil.Process(self.proc.pid)
        return sum(q.memory_info().rss for q in [p, *p.children(recursive=True)]) / 2**20

    def server_rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.proc.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def without_mlp(config_dir: Path) -> list[str]:
    """Make `config_dir` (a JUPYTER_CONFIG_DIR) a Jupyter config without jupyter-mlp; returns the server's extra
    command-line arguments that go with it. Both halves are off: the server extension, and the labextension."""
    (config_dir / "labconfig").mkdir()
    (config_dir / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"jupyter-mlp": True}})
    )
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_mlp_server": False}}})
    )
    # Disabling is not enough: JupyterLab still fetches a disabled extension's code. The baseline sees a
    # labextensions folder holding every installed extension but this one.
    from jupyter_core.paths import jupyter_path

    only_others = config_dir / "labextensions"
    only_others.mkdir()
    for folder in map(Path, jupyter_path("labextensions")):
        for ext in folder.glob("*") if folder.is_dir() else []:
            if ext.name != "jupyter-mlp" and not (only_others / ext.name).exists():
                (only_others / ext.name).symlink_to(ext)
    return [f"--LabServerApp.labextensions_path={json.dumps([str(only_others)])}"]


def start_lab(with_mlp: bool, mlp_home: Path, root: Path, args: tuple[str, ...] = ()) -> LabServer:
    """`with_mlp=False` turns off both halves: the server extension, and the labextension in page_config.
    `args`: more command-line arguments for the server."""
    config_dir = Path(tempfile.mkdtemp(prefix="jupyter-config-"))
    extra = [*([] if with_mlp else without_mlp(config_dir)), *args]
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "MLP_HOME": str(mlp_home), "JUPYTER_CONFIG_DIR": str(config_dir), "JUPYTER_TOKEN": token,
           "JUPYTERLAB_WORKSPACES_DIR": str(config_dir / "workspaces"),
           "JUPYTERLAB_SETTINGS_DIR": str(config_dir / "settings")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--port-retries=0", f"--ServerApp.root_dir={root}", "--allow-root", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *extra]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = LabServer(proc, f"http://127.0.0.1:{port}/", token)
    for _ in range(600):
        try:
            if httpx.get(f"{server.url}api/status", params={"token": token}, timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("JupyterLab did not start")
