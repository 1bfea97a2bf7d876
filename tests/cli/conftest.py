"""CLI fixtures.

- `mlp`: runs the installed `mlp` entry point with `MLP_HOME` set to the test's home; returns the finished
  process. A backend it starts is stopped at teardown (`mlp down`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import settings_env

MLP = Path(sys.executable).parent / "mlp"


@pytest.fixture
def mlp(request, mlp_home):
    if not MLP.exists():
        pytest.fail(f"{MLP} is missing: the package is not installed into this environment")
    # `@pytest.mark.settings(...)`: the settings of the platform the CLI starts (as MLP_* variables)
    env = {**os.environ, "MLP_HOME": str(mlp_home), **settings_env(request)}

    def run(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        p = subprocess.run([str(MLP), *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"mlp {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    yield run
    subprocess.run([str(MLP), "down"], env=env, capture_output=True, timeout=60)
