"""tests/run.sh shares one Docker engine between overlapping test runs (tests/services/docker-share.sh): a run that
finishes never stops an engine another run still uses; the last one stops the engine a test run started, and never
one that was already running. A stand-in `dockerd` (a copy of `sleep` under that name) plays the engine."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SHARE = Path(__file__).parent / "services" / "docker-share.sh"


@pytest.fixture
def engine(tmp_path):
    """A fake tests/services/docker.sh: starts the stand-in dockerd unless one runs, printing its pid if it did."""
    fake = tmp_path / "bin" / "dockerd"
    fake.parent.mkdir()
    shutil.copy(shutil.which("sleep"), fake)
    pidfile = tmp_path / "running.pid"
    start = tmp_path / "docker.sh"
    start.write_text(f"""#!/usr/bin/env bash
if [ -f {pidfile} ] && kill -0 "$(cat {pidfile})" 2>/dev/null; then exit 0; fi
nohup {fake} 600 >/dev/null 2>&1 &
echo $! > {pidfile}; echo $!
""")
    env = {**os.environ, "MLP_DOCKER_STATE": str(tmp_path / "state"), "MLP_DOCKER_START": str(start)}
    users = []

    def share(cmd: str, user: subprocess.Popen) -> None:
        subprocess.run(["bash", str(SHARE), cmd, str(user.pid)], env=env, check=True, timeout=30)

    def run() -> subprocess.Popen:  # a test run: a live process whose pid registers
        users.append(subprocess.Popen(["sleep", "600"]))
        return users[-1]

    def alive() -> bool:
        if not pidfile.exists():
            return False
        status = Path(f"/proc/{int(pidfile.read_text())}/status")
        try:
            return "State:\tZ" not in status.read_text()  # a zombie has stopped; nobody reaped it yet
        except OSError:
            return False

    yield share, run, alive, pidfile
    for u in users:
        u.kill()
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_the_last_run_stops_the_engine_a_run_started(engine):
    share, run, alive, _ = engine
    a, b = run(), run()
    share("acquire", a)  # starts the engine
    share("acquire", b)  # finds it running
    share("release", a)
    assert alive(), "the first run to finish stopped the engine the other run still uses"
    share("release", b)
    time.sleep(0.3)
    assert not alive()


def test_a_run_that_died_does_not_keep_the_engine(engine):
    share, run, alive, _ = engine
    a, b = run(), run()
    share("acquire", a)
    share("acquire", b)
    b.kill()
    b.wait()
    share("release", a)
    time.sleep(0.3)
    assert not alive()


def test_an_engine_that_was_already_running_is_never_stopped(engine, tmp_path):
    share, run, alive, pidfile = engine
    outside = subprocess.Popen([str(tmp_path / "bin" / "dockerd"), "600"])  # the system's dockerd
    pidfile.write_text(str(outside.pid))
    try:
        a = run()
        share("acquire", a)
        share("release", a)
        time.sleep(0.3)
        assert outside.poll() is None
    finally:
        outside.kill()
