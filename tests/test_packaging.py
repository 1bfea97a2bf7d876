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


def test_wheel_ships_the_built_labextension_and_server_config(tmp_path):
    """`pip wheel .` on a clean copy of the tracked sources runs the JS build through the hatch hook."""
    import shutil
    import zipfile

    root = Path(__file__).parents[1]
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    src = tmp_path / "src"
    for f in files:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, src / f)
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                        str(src)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("jupyter_mlp-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    data = "jupyter_mlp-" + wheel.name.split("-")[1] + ".data/data/"
    assert f"{data}share/jupyter/labextensions/jupyter-mlp/package.json" in names
    assert f"{data}share/jupyter/labextensions/jupyter-mlp/install.json" in names
    assert any(n.startswith(f"{data}share/jupyter/labextensions/jupyter-mlp/static/remoteEntry.") for n in names)
    assert f"{data}etc/jupyter/jupyter_server_config.d/jupyter_mlp_server.json" in names
    assert {"jupyter_mlp/cli/__init__.py", "jupyter_mlp_server/app.py", "jupyter_mlp_backend/app.py",
            "jupyter_mlp_gpu/app.py", "jupyter_mlp_gpu/assistant/store.py"} <= set(names)
    assert "jupyter_mlp_backend/migrations/versions/0001_projects_members_audit.py" in names
