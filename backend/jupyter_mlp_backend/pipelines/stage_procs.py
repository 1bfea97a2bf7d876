"""Find and kill the local processes of a run's stages, so that a cancel stops them at once.

A stage run by the subprocess executor is papermill, started (ahead: warm_papermill) with
`MLP_STAGE_IO=<run dir>/io` in its environment, and the kernel papermill starts (in a session of its own) has it
and the stage's `MLP_STAGE`, as does whatever the notebook starts. They are found by that environment, which a process cannot lose. Without this, a cancel relied on
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
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = set((proc / "environ").read_bytes().split(b"\0"))
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if wanted <= environ:
            found.append(int(proc.name))
    return found


def kill(run_dir: Path, stage: str | None = None) -> int:
    """SIGKILL every process of the run's stages (or of one stage); how many there were."""
    pids = find(run_dir, stage)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(pids)
