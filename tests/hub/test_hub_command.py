"""`mlp hub`'s parts that need no running hub: the shipped config's copy and the proxy lookup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jupyter_mlp import hub
from jupyter_mlp.settings import Settings


def test_write_config_copies_the_shipped_file(tmp_path):
    target = tmp_path / "jupyterhub_config.py"
    p = subprocess.run([sys.executable, "-m", "jupyter_mlp.cli", "hub", "--write-config", str(target)],
                       capture_output=True, text=True, timeout=60, env={"MLP_HOME": str(tmp_path / "home"),
                                                                        "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert target.read_text() == hub.CONFIG.read_text()


def test_proxy_lookup_setting_then_venv_then_path(tmp_path, monkeypatch):
    assert hub.proxy_command(Settings(home=tmp_path, hub_proxy_command="/opt/chp")) == "/opt/chp"
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match="npm install -g --prefix .venv configurable-http-proxy@5"):
        hub.proxy_command(Settings(home=tmp_path))
    (venv / "configurable-http-proxy").write_text("#!/bin/sh\n")
    assert hub.proxy_command(Settings(home=tmp_path)) == str(venv / "configurable-http-proxy")
