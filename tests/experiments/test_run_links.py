"""The "View run" and "View experiment" links MLflow prints in notebook output open the run in JupyterLab."""

from __future__ import annotations

import json
import re

import httpx
import mlflow
import pytest


def _printed_links(out: str) -> tuple[str, str]:
    run = re.search(r"View run \S+ at: (\S+)", out)
    exp = re.search(r"View experiment at: (\S+)", out)
    assert run and exp, out
    return run.group(1), exp.group(1)


@pytest.mark.settings(lab_url="http://lab.example:8888/")
def test_view_run_links_open_the_experiments_panel(backend, project, use_mlflow, capsys):
    use_mlflow(backend.kernel_env("sam", project))
    with mlflow.start_run() as run:
        mlflow.log_metric("auc", 0.8)
    run_url, exp_url = _printed_links(capsys.readouterr().out)
    assert run_url.endswith(f"/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}")
    for url in (run_url, exp_url):
        page = httpx.get(url.split("#")[0])  # a browser sends no fragment and no credentials
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page.text
        # The page reads the fragment and goes to JupyterLab's Experiments panel on that run.
        assert json.dumps("http://lab.example:8888/") in page.text and json.dumps(project) in page.text
        assert "mlp-run" in page.text and "location.hash" in page.text
        assert "script-src 'sha256-" in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]


def test_the_link_page_without_a_known_lab_says_how_to_find_the_run(backend, project):
    page = httpx.get(f"{backend.url}/mlflow/{project}/")
    assert page.status_code == 200 and "Experiments panel" in page.text
    assert httpx.get(f"{backend.url}/mlflow/Not%20A%20Slug/").status_code == 404
