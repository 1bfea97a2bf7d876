"""`mlp up` / `mlp down`: start (or find) the backend and JupyterLab of one `MLP_HOME`, and stop them."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .gpu_service import RECORD as GPU_RECORD, ensure_gpu_service, read_gpu_record
from .local_backend import clean_stale_socket_dirs, pid_alive, ensure_backend, read_record
from .settings import Settings

LAB_RECORD = "lab.json"


@dataclass
class Lab:
    pid: int
    url: str
    token: str

    @property
    def login_url(self) -> str:
        return f"{self.url}lab?token={self.token}"


def _read_lab(settings: Settings) -> Lab | None:
    try:
        d = json.loads((settings.run_dir / LAB_RECORD).read_text())
        lab = Lab(pid=int(d["pid"]), url=d["url"], token=d["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return lab if pid_alive(lab.pid) and _lab_answers(lab) else None


def _lab_answers(lab: Lab, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{lab.url}api/status", params={"token": lab.token}, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port(host: str, preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((host, port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise RuntimeError("no free port")


def start_lab(settings: Settings, root_dir: Path, detach: bool) -> tuple[Lab, subprocess.Popen]:
    port = _free_port(settings.lab_ip, settings.lab_port)
    token = secrets.token_hex(24)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", f"--ip={settings.lab_ip}", f"--port={port}", "--port-retries=0",
        f"--ServerApp.root_dir={root_dir}",
        # Hubs of client engagements are often offline: no news feed, no update pings.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    # The token travels by environment, not argv, so `ps` does not show it.
    env = {**os.environ, "MLP_HOME": str(settings.home), "JUPYTER_TOKEN": token}
    log = open(settings.run_dir / "lab.log", "ab")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=detach)
    log.close()
    lab = Lab(pid=proc.pid, url=f"http://{settings.lab_ip}:{port}/", token=token)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}; see {settings.run_dir / 'lab.log'}")
        if _lab_answers(lab, timeout=1.0):
            path = settings.run_dir / LAB_RECORD
            path.write_text(json.dumps(lab.__dict__))
            path.chmod(0o600)  # it holds the login token
            return lab, proc
        time.sleep(0.25)
    proc.terminate()
    raise RuntimeError(f"JupyterLab did not answer within 120 s; see {settings.run_dir / 'lab.log'}")


def up(settings: Settings, root_dir: Path, detach: bool) -> int:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    backend = ensure_backend(settings, detach=True)
    print(f"Backend:    {backend.url}  ({'already running' if backend.process is None else 'started'})", flush=True)
    if settings.gpu_url:
        print(f"AI services: {settings.gpu_url}  (configured)", flush=True)
    elif settings.gpu_autostart:
        try:
            gpu = ensure_gpu_service(settings, detach=True)
            print(f"AI services: {gpu.url}  ({'already running' if gpu.process is None else 'started'})", flush=True)
        except RuntimeError as e:  # the platform works without the assistant; say why it is missing
            print(f"AI services: not started: {e}", file=sys.stderr, flush=True)
    lab = _read_lab(settings)
    if lab is not None:
        print(f"JupyterLab: {lab.login_url}  (already running)", flush=True)
        return 0
    lab, proc = start_lab(settings, root_dir, detach)
    print(f"JupyterLab: {lab.login_url}", flush=True)
    if detach:
        return 0
    print(f"Press Ctrl-C to stop JupyterLab; `{Path(sys.executable).parent / 'mlp'} down` (or `make down` in the "
          "repository) also stops the backend.", flush=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)  # JupyterLab asks for confirmation on the first one
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.terminate()
        return 0


def _stop(pid: int, what: str) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if not pid_alive(pid):
            print(f"Stopped {what} (pid {pid}).")
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    print(f"Killed {what} (pid {pid}).")


def down(settings: Settings) -> int:
    lab_path = settings.run_dir / LAB_RECORD
    try:
        lab = json.loads(lab_path.read_text())
        _stop(int(lab["pid"]), "JupyterLab")
        lab_path.unlink(missing_ok=True)
    except (OSError, ValueError, KeyError):
        pass
    gpu = read_gpu_record(settings)
    if gpu is not None and pid_alive(gpu.pid):
        _stop(gpu.pid, "AI services")
    (settings.run_dir / GPU_RECORD).unlink(missing_ok=True)
    rec = read_record(settings)
    if rec is not None and pid_alive(rec.pid):
        _stop(rec.pid, "backend")
    clean_stale_socket_dirs(settings.run_dir)  # a backend killed (here or before) left its socket folder
    return 0
