"""Find the local backend, or start one: shared by the server extension, the CLI and `mlp up`.

A running backend records itself in `$MLP_HOME/run/backend.json`. Starting is guarded by a file lock, so two
processes that look at the same time start one backend between them, not two.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from .settings import Settings

RECORD = "backend.json"


@dataclass(frozen=True)
class BackendRecord:
    pid: int
    url: str
    home: str

    @classmethod
    def for_this_process(cls, url: str, home: Path) -> BackendRecord:
        return cls(pid=os.getpid(), url=url, home=str(home))


def write_record(settings: Settings, record: BackendRecord) -> None:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.run_dir / f".{RECORD}.{record.pid}"
    tmp.write_text(json.dumps(asdict(record)))
    tmp.replace(settings.run_dir / RECORD)


def clear_record(settings: Settings, record: BackendRecord) -> None:
    path = settings.run_dir / RECORD
    try:
        if json.loads(path.read_text()).get("pid") == record.pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def read_record(settings: Settings) -> BackendRecord | None:
    try:
        data = json.loads((settings.run_dir / RECORD).read_text())
        return BackendRecord(pid=int(data["pid"]), url=str(data["url"]), home=str(data["home"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        r = httpx.get(f"{url}/api/health", timeout=timeout)
        return r.status_code == 200 and r.json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def find_running(settings: Settings) -> str | None:
    """The URL of this home's backend if one is up."""
    rec = read_record(settings)
    if rec and pid_alive(rec.pid) and healthy(rec.url):
        return rec.url
    return None


@dataclass
class Started:
    url: str
    process: subprocess.Popen | None  # None: it was already running and is not ours to stop

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def ensure_backend(settings: Settings, wait_seconds: float = 60.0, detach: bool = False) -> Started:
    """Reuse the running backend of this home, or start one (a child, or detached when `detach`)."""
    if settings.backend_url:
        return Started(settings.backend_url.rstrip("/"), None)
    if url := find_running(settings):
        return Started(url, None)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.run_dir / "backend.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if url := find_running(settings):  # someone started it while we waited for the lock
            return Started(url, None)
        stale = read_record(settings)
        log = open(settings.run_dir / "backend.log", "ab")
        env = {**os.environ, "MLP_HOME": str(settings.home)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlp_backend"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=detach,
        )
        log.close()
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the backend exited with code {proc.returncode}; see {settings.run_dir / 'backend.log'}"
                )
            rec = read_record(settings)
            if rec and rec != stale and rec.pid == proc.pid and healthy(rec.url, timeout=1.0):
                return Started(rec.url, proc)
            time.sleep(0.1)
        proc.terminate()
        raise RuntimeError(f"the backend did not answer within {wait_seconds:.0f} s; see {settings.run_dir / 'backend.log'}")
