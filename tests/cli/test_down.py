"""Nothing the backend starts outlives it: `mlp down` and a `kill -9` of the backend take MLflow (the server and its
uvicorn child) along, found by scanning /proc for processes that carry this MLP_HOME."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from jupyter_mlp.local_backend import read_record
from jupyter_mlp.settings import Settings

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")


def processes_of(home: Path) -> dict[int, str]:
    """pid -> command line of every process whose environment or command line names this MLP_HOME."""
    needle = str(home).encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            if b"State:\tZ" in (entry / "status").read_bytes():
                continue  # a zombie holds nothing; its parent (this test) has not reaped it yet
        except OSError:
            continue
        if needle in cmdline or b"MLP_HOME=" + needle + b"\0" in environ:
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
    return found


def wait_gone(home: Path, seconds: float) -> dict[int, str]:
    deadline = time.monotonic() + seconds
    while (left := processes_of(home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def start_backend(home: Path) -> tuple[subprocess.Popen, Settings]:
    """The backend as `mlp up` starts it (its own session, MLflow started at once), up once MLflow answers."""
    env = {**os.environ, "MLP_HOME": str(home)}
    for var in [v for v in env if v.startswith("MLP_") and v != "MLP_HOME"]:
        env.pop(var)
    home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_mlp_backend"], env=env, stdin=subprocess.DEVNULL,
                            stdout=open(home / "backend.out", "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    settings = Settings(home=home)
    sock = settings.run_dir / "mlflow" / "mlflow.sock"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, (home / "backend.out").read_text()[-2000:]
        if sock.exists() and read_record(settings):
            try:
                with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=2) as c:
                    if c.get("http://mlflow/health").status_code == 200:
                        return proc, settings
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("MLflow did not answer within 180 s")


def mlflow_processes(home: Path) -> list[str]:
    return [c for c in processes_of(home).values() if "mlflow" in c]


def test_mlp_down_leaves_nothing_behind(mlp_home):
    proc, _ = start_backend(mlp_home)
    try:
        # MLflow's server and the uvicorn it runs: both carry the home (environment and store path)
        assert len(mlflow_processes(mlp_home)) >= 2, processes_of(mlp_home)
        down = subprocess.run([str(Path(sys.executable).parent / "mlp"), "down"], capture_output=True, text=True,
                              env={**os.environ, "MLP_HOME": str(mlp_home)}, timeout=60)
        assert down.returncode == 0, down.stderr
        proc.wait(10)
        assert wait_gone(mlp_home, 15) == {}
    finally:
        proc.kill()
        for pid in processes_of(mlp_home):  # what a failed run left: only processes of this test's home
            os.kill(pid, signal.SIGKILL)


def test_a_killed_backend_takes_its_children_along(mlp_home):
    proc, _ = start_backend(mlp_home)
    try:
        assert len(mlflow_processes(mlp_home)) >= 2, processes_of(mlp_home)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert wait_gone(mlp_home, 20) == {}
    finally:
        proc.kill()
        for pid in processes_of(mlp_home):  # what a failed run left: only processes of this test's home
            os.kill(pid, signal.SIGKILL)
