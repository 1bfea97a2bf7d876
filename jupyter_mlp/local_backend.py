"""Find the local backend, or start one: shared by the server extension, the CLI and `mlp up`.

A running backend records itself in `$MLP_HOME/run/backend.json`. Starting is guarded by a file lock, so two
processes that look at the same time start one backend between them, not two.

The address is stable: with `backend_port = 0` the first start picks a free port and keeps it in
`$MLP_HOME/run/ports.json`; every later start of this home listens there again (and fails, naming the process that
holds it, when something else took it), so the URLs client systems were given survive a restart.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from .settings import Settings

RECORD = "backend.json"
PORTS = "ports.json"
SOCKETS = "serving-sockets"  # one file per backend pid: the /tmp folder of its serving workers' sockets


@dataclass(frozen=True)
class BackendRecord:
    pid: int
    url: str
    home: str

    @classmethod
    def for_this_process(cls, url: str, home: Path) -> BackendRecord:
        return cls(pid=os.getpid(), url=url, home=str(home))


def write_record(settings: Settings, record: BackendRecord, name: str = RECORD) -> None:
    """Record a running platform process (the backend's `backend.json`, the AI services' `gpu.json`) atomically."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.run_dir / f".{name}.{record.pid}"
    tmp.write_text(json.dumps(asdict(record)))
    tmp.replace(settings.run_dir / name)


def clear_record(settings: Settings, record: BackendRecord, name: str = RECORD) -> None:
    path = settings.run_dir / name
    try:
        if json.loads(path.read_text()).get("pid") == record.pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def read_record(settings: Settings, name: str = RECORD) -> BackendRecord | None:
    try:
        data = json.loads((settings.run_dir / name).read_text())
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


def remembered_port(settings: Settings, name: str = "backend") -> int | None:
    """The port this home's `name` listened on before (`ports.json`), if any."""
    try:
        port = json.loads((settings.run_dir / PORTS).read_text()).get(name)
    except (OSError, ValueError, AttributeError):
        return None
    return port if isinstance(port, int) and 0 < port < 65536 else None


def remember_port(settings: Settings, port: int, name: str = "backend") -> None:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    path = settings.run_dir / PORTS
    try:
        data = json.loads(path.read_text())
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data[name] = port
    tmp = path.with_name(f".{PORTS}.{os.getpid()}")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def port_holder(port: int) -> str:
    """Who listens on TCP `port` on this machine, from /proc: "pid N (command line)", or what can be said."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f[9])
    if not inodes:
        return "a process that could not be identified"
    targets = {f"socket:[{i}]" for i in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in targets:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                    return f"pid {proc.name} ({cmd[:120]})"
        except OSError:
            continue
    return "a process of another user"


def note_socket_dir(run_dir: Path, path: Path) -> Path:
    """Note that this process keeps its serving sockets in `path`; returns the note (removed at shutdown)."""
    note = run_dir / SOCKETS / str(os.getpid())
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(str(path))
    return note


def clean_stale_socket_dirs(run_dir: Path) -> list[str]:
    """Remove the serving socket folders of this home's backends that are gone (killed: nothing ran their
    shutdown); `mlp down` and every backend start call it. Returns the folders removed."""
    removed = []
    folder = run_dir / SOCKETS
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == os.getpid() or pid_alive(int(entry.name)):
            continue
        try:
            path = Path(entry.read_text().strip())
        except OSError:
            continue
        # Only what a backend made: a folder of ours under the temporary directory, named as the manager names it.
        if path.name.startswith("mlp-serve-") and path.is_dir() and not path.is_symlink() \
                and path.stat().st_uid == os.getuid():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
        entry.unlink(missing_ok=True)
    return removed


def _log_tail(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


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
                tail = _log_tail(settings.run_dir / "backend.log")
                raise RuntimeError(
                    f"the backend exited with code {proc.returncode}: {tail}; see {settings.run_dir / 'backend.log'}"
                )
            rec = read_record(settings)
            if rec and rec != stale and rec.pid == proc.pid and healthy(rec.url, timeout=1.0):
                return Started(rec.url, proc)
            time.sleep(0.1)
        proc.terminate()
        raise RuntimeError(f"the backend did not answer within {wait_seconds:.0f} s; see {settings.run_dir / 'backend.log'}")
