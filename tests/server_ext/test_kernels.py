"""Zero-config notebooks: the marker-file rule, and a real kernel that logs to its project with plain mlflow."""

from __future__ import annotations

import json
import textwrap
import time

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlp_server.kernels import MARKER, project_of


def test_nearest_marker_decides(tmp_path):
    (tmp_path / "acme" / "deep" / "er").mkdir(parents=True)
    (tmp_path / "acme" / MARKER).write_text('project = "acme"\n')
    (tmp_path / "acme" / "deep" / MARKER).write_text('project = "acme-sub"\n')
    assert project_of(str(tmp_path), "acme/nb.ipynb").project == "acme"
    found = project_of(str(tmp_path), "acme/deep/er/nb.ipynb")
    assert found.project == "acme-sub" and found.marker == f"acme/deep/{MARKER}"
    assert project_of(str(tmp_path), "elsewhere.ipynb").project is None
    assert project_of(str(tmp_path), "../outside.ipynb").problem == "path is outside the Jupyter root"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / MARKER).write_text("project = ")
    assert "not valid TOML" in project_of(str(tmp_path), "bad/nb.ipynb").problem


async def _json(jp_fetch, *parts, method="GET", body=None, params=None):
    kw = {"method": method, "params": params or {}, "headers": {"Content-Type": "application/json"}}
    if body is not None:
        kw["body"] = json.dumps(body)
    try:
        r = await jp_fetch(*parts, **kw)
    except HTTPClientError as e:
        return e.code, json.loads(e.response.body or b"null")
    return r.code, json.loads(r.body) if r.body else None


async def test_project_of_endpoint(jp_fetch, jp_root_dir):
    (jp_root_dir / "acme").mkdir()
    (jp_root_dir / "acme" / MARKER).write_text('project = "acme"\n')
    code, body = await _json(jp_fetch, "mlp", "local", "project-of", params={"path": "acme/nb.ipynb"})
    assert code == 200 and body["project"] == "acme" and body["marker"] == f"acme/{MARKER}"
    assert MARKER in body["rule"]
    code, body = await _json(jp_fetch, "mlp", "local", "project-of", params={"path": "../etc/passwd"})
    assert code == 400 and body["error"]["code"] == "bad_path"


def _run_in_kernel(jp_serverapp, kernel_id: str, code: str) -> str:
    km = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    client = km.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        out: list[str] = []
        reply = client.execute_interactive(code, timeout=180, output_hook=lambda m: out.append(
            m["content"].get("text", "") if m["msg_type"] == "stream" else
            m["content"].get("evalue", "") if m["msg_type"] == "error" else ""))
        assert reply["content"]["status"] == "ok", "".join(out)
        return "".join(out)
    finally:
        client.stop_channels()


async def test_kernel_in_a_project_folder_logs_there_with_plain_mlflow(jp_fetch, jp_serverapp, jp_root_dir):
    code, _ = await _json(jp_fetch, "mlp", "api", "projects", method="POST", body={"slug": "acme", "name": "Acme"})
    assert code == 201
    folder = jp_root_dir / "acme"
    folder.mkdir()
    (folder / MARKER).write_text('project = "acme"\n')
    (folder / "train.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (jp_root_dir / "loose.ipynb").write_text((folder / "train.ipynb").read_text())

    code, session = await _json(jp_fetch, "api", "sessions", method="POST", body={
        "path": "acme/train.ipynb", "type": "notebook", "name": "train.ipynb", "kernel": {"name": "python3"}})
    assert code == 201, session
    out = _run_in_kernel(jp_serverapp, session["kernel"]["id"], textwrap.dedent("""
        import os, mlflow
        print(os.environ["MLP_PROJECT"], os.environ["MLP_NOTEBOOK_PATH"], "token" if os.environ.get("MLFLOW_TRACKING_TOKEN") else "none")
        with mlflow.start_run(run_name="from-kernel"):
            mlflow.log_metric("auc", 0.77)
    """))
    assert "acme acme/train.ipynb token" in out

    for _ in range(20):
        code, page = await _json(jp_fetch, "mlp", "api", "projects", "acme", "runs")
        if code == 200 and page["total"]:
            break
        time.sleep(0.5)
    assert page["total"] == 1
    run = page["items"][0]
    assert run["run_name"] == "from-kernel" and run["metrics"]["auc"] == 0.77
    assert run["tags"]["mlp.notebook.path"] == "acme/train.ipynb"

    code, loose = await _json(jp_fetch, "api", "sessions", method="POST", body={
        "path": "loose.ipynb", "type": "notebook", "name": "loose.ipynb", "kernel": {"name": "python3"}})
    out = _run_in_kernel(jp_serverapp, loose["kernel"]["id"],
                         "import os; print(os.environ.get('MLP_PROJECT', 'no-project'), "
                         "os.environ.get('MLFLOW_TRACKING_URI', 'no-uri'))")
    assert "no-project no-uri" in out
