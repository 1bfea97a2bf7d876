"""Find and kill the local processes of a run's stages, so that a cancel stops them at once.

A stage run by the subprocess executor is papermill, started (ahead: warm_papermill) with
`MLP_STAGE_IO=<run dir>/io` in its environment, and the kernel papermill starts (in a session of its own) has it
and the stage's `MLP_STAGE`, as does whatever the notebook starts. They are found by that environment, which a process cannot
lose; a standby a stage took (warm_papermill) by the `MLP_STANDBY` the stage recorded in the run's folder. Without this, a cancel relied on
Dagster's interrupt reaching the run worker (once, under load, it did not, and the run stayed CANCELING while the
stage slept on), and even when it did, only papermill was killed: its kernel lived on, orphaned, running the
notebook to its end.

Linux (`/proc`); elsewhere nothing is found. Plain standard library: imported by the stage runner (inside Dagster's
run worker) and by the backend.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def find(run_dir: Path, stage: str | None = None) -> list[int]:
    """The pids of the processes of the run's stages (or of one stage), this process excepted."""
    wanted = {f"MLP_STAGE_IO={run_dir / 'io'}".encode()}
    if stage is not None:
        wanted.add(f"MLP_STAGE={stage}".encode())
    standbys = _standbys(run_dir, stage)
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = set((proc / "environ").read_bytes().split(b"\0"))
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if wanted <= environ or environ & standbys:
            found.append(int(proc.name))
    return found


def _standbys(run_dir: Path, stage: str | None) -> set[bytes]:
    """`MLP_STANDBY=<token>` of each standby a stage of the run took (warm_papermill: started before the run was
    known, it has no run in its environment; the stage wrote `<stage>.standby` before handing it its notebook)."""
    try:
        files = [run_dir / f"{stage}.standby"] if stage is not None else list(run_dir.glob("*.standby"))
    except OSError:
        return set()
    out = set()
    for f in files:
        try:
            token = f.read_text().strip()
        except OSError:
            continue
        if token:
            out.add(f"MLP_STANDBY={token}".encode())
    return out


def kill(run_dir: Path, stage: str | None = None) -> int:
    """SIGKILL every process of the run's stages (or of one stage); how many there were."""
    pids = find(run_dir, stage)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(pids)
