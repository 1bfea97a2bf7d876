"""Installed the way users install it: both extensions enabled with no manual step, the CLI on PATH."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _run(*args: str) -> str:
    p = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=120)
    return p.stdout + p.stderr


def test_labextension_is_installed_and_enabled():
    out = _run("jupyter", "labextension", "list")
    line = next((l for l in out.splitlines() if "jupyter-mlp" in l), "")
    assert "enabled" in line and "OK" in line, out


def test_server_extension_is_enabled():
    out = _run("jupyter", "server", "extension", "list")
    assert any("jupyter_mlp_server" in l and "enabled" in l for l in out.splitlines()), out


def test_built_labextension_ships_schema_and_static_assets():
    import jupyter_mlp

    ext = Path(jupyter_mlp.__file__).parent / "labextension"
    meta = json.loads((ext / "package.json").read_text())
    assert meta["name"] == "jupyter-mlp"
    assert (ext / "static" / "style.js").exists()
    assert list((ext / "static").glob("remoteEntry.*.js"))
    assert (ext / "schemas" / "jupyter-mlp" / "projects-panel.json").exists()


def test_cli_entry_point_and_version():
    import jupyter_mlp

    assert (BIN / "mlp").exists()
    assert "projects" in _run("mlp", "--help")
    assert jupyter_mlp.__version__ != "0.0.0+unknown"
