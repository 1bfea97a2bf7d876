"""`mlp up`: starts the backend and JupyterLab with the extension, prints the URL; a second call finds them."""

from __future__ import annotations

import re

import httpx
import pytest

# Runs no pipeline: the platform leaves Dagster for its first use (the default, Dagster started with the
# platform, is tests/pipelines/test_stage_start.py's).
pytestmark = pytest.mark.settings(dagster_start_with_platform=False)


def test_up_twice_then_down(mlp, mlp_home, tmp_path):
    first = mlp("up", "--detach", "--root-dir", str(tmp_path), timeout=180)
    url = re.search(r"JupyterLab: (http://\S+)", first.stdout)
    assert url, first.stdout
    login = url.group(1)
    assert "token=" in login
    base, token = login.split("lab?token=")
    r = httpx.get(f"{base}mlp/api/whoami", headers={"Authorization": f"token {token}"}, timeout=30)
    assert r.status_code == 200 and r.json()["is_admin"] is True  # lab, extension and backend all answer
    page = httpx.get(login, timeout=30, follow_redirects=True)
    assert page.status_code == 200 and "jupyter-mlp" in page.text  # the labextension is in the page config

    gpu = re.search(r"AI services: (http://\S+)  \(started\)", first.stdout)
    assert gpu, first.stdout + first.stderr
    assert httpx.get(f"{gpu.group(1)}/health", timeout=10).json() == {"status": "ok"}
    assert httpx.get(f"{gpu.group(1)}/api/info", timeout=10).status_code == 401  # the service token is required

    second = mlp("up", "--detach", "--root-dir", str(tmp_path), timeout=60)
    assert "already running" in second.stdout and login in second.stdout
    assert f"AI services: {gpu.group(1)}  (already running)" in second.stdout

    down = mlp("down")
    assert "Stopped JupyterLab" in down.stdout and "Stopped backend" in down.stdout
    assert "Stopped AI services" in down.stdout
    try:
        httpx.get(f"{base}api/status", timeout=5)
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("JupyterLab still answers after `mlp down`")
