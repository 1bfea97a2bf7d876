"""How the backend starts its managed children (MLflow, Dagster's webserver and daemon, serving workers) so that
they die with it however it ends.

- Each child leads its own process group (`start_new_session`): stopping it is `killpg`, which reaches what it
  started itself (MLflow's uvicorn, Dagster's code server) too.
- Each child asks Linux for a parent-death signal (`prctl(PR_SET_PDEATHSIG, SIGTERM)`): when the backend ends
  without running its shutdown — `kill -9`, `mlp down` killing it after its grace period, a crash — the kernel
  sends the child SIGTERM, and the child stops its own group (MLflow's server forwards SIGTERM to its uvicorn).

Linux delivers the signal when the *thread* that forked the child ends, not the process: every child is started
from the event loop's thread, which lives as long as the backend (never from a worker thread that may be retired).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec: no allocation-heavy work here
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the backend died between fork and prctl: no signal would come
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def child_options() -> dict[str, Any]:
    """Keyword arguments for `subprocess.Popen` / `asyncio.create_subprocess_exec` of a managed child."""
    return {"start_new_session": True, "preexec_fn": _die_with(os.getpid())}
