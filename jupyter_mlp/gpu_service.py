"""Find the AI services process (`gpu_services/jupyter_mlp_gpu`), or start one: used by `mlp up` / `mlp down`, and
by the backend when it calls the assistant.

A running process records itself in `$MLP_HOME/run/gpu.json` (pid, url, home); its log is
`$MLP_HOME/run/gpu.log`; its port is kept in `$MLP_HOME/run/ports.json` under `gpu`. With `gpu_url` set, the
process runs elsewhere (a GPU host) and nothing is started here. Callers authenticate with the service token in
`Settings.gpu_key_path` (`service_headers`). This module only starts the process by command line; it never
imports `jupyter_mlp_gpu`, so the shared core stays free of torch and Qdrant.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import httpx

from .identity import ensure_secret
from .local_backend import BackendRecord, Started, clear_record, pid_alive, read_record, write_record
from .settings import Settings

RECORD = "gpu.json"
LOG = "gpu.log"


# The AI services process is recorded like the backend, in its own file.
GpuRecord = BackendRecord


def write_gpu_record(settings: Settings, record: GpuRecord) -> None:
    write_record(settings, record, RECORD)


def clear_gpu_record(settings: Settings, record: GpuRecord) -> None:
    clear_record(settings, record, RECORD)


def read_gpu_record(settings: Settings) -> GpuRecord | None:
    return read_record(settings, RECORD)


BUSY_HEALTH_SECONDS = 15.0


def gpu_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        r = httpx.get(f"{url.rstrip('/')}/health", timeout=timeout)
        return r.status_code == 200 and r.json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def service_headers(settings: Settings) -> dict[str, str]:
    """The header that authenticates a call to the AI services process (creates the token on first use)."""
    return {"Authorization": f"Bearer {ensure_secret(settings.gpu_key_path).decode()}"}


def find_gpu_service(settings: Settings) -> str | None:
    """The URL of the AI services process: `gpu_url`, else this home's running one, else None."""
    if settings.gpu_url:
        return settings.gpu_url.rstrip("/")
    rec = read_gpu_record(settings)
    # A live process slow to answer (busy embedding or indexing on a loaded machine) is given longer before it is
    # called "not running": the chat refused with that message while the process was only busy.
    if rec and pid_alive(rec.pid) and (gpu_healthy(rec.url) or gpu_healthy(rec.url, timeout=BUSY_HEALTH_SECONDS)):
        return rec.url
    return None


def ensure_gpu_service(settings: Settings, wait_seconds: float = 60.0, detach: bool = False) -> Started:
    """Reuse the configured or running process, or start one (a child, or detached when `detach`)."""
    if url := find_gpu_service(settings):
        return Started(url, None)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    ensure_secret(settings.gpu_key_path)  # before the start, so the caller and the process read the same token
    with open(settings.run_dir / "gpu.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if url := find_gpu_service(settings):
            return Started(url, None)
        stale = read_gpu_record(settings)
        log = open(settings.run_dir / LOG, "ab")
        env = {**os.environ, "MLP_HOME": str(settings.home), "HF_HUB_OFFLINE": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "jupyter_mlp_gpu"], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=detach)
        log.close()
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the AI services process exited with code {proc.returncode}; "
                                   f"see {settings.run_dir / LOG}")
            rec = read_gpu_record(settings)
            if rec and rec != stale and rec.pid == proc.pid and gpu_healthy(rec.url, timeout=1.0):
                return Started(rec.url, proc)
            time.sleep(0.1)
        proc.terminate()
        raise RuntimeError(f"the AI services process did not answer within {wait_seconds:.0f} s; "
                           f"see {settings.run_dir / LOG}")
