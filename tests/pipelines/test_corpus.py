"""The notebook corpus (issue 18, Acceptance): notebooks in the styles real projects use (tests/pipelines/corpus,
written by make_corpus.py). Pre-flight says exactly the expected thing about each one, no false positive and the
real reason when it refuses; those that need no internet promote and run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mlp_backend.pipelines.analysis import analyse
from tests.helpers import wait_run

CORPUS = Path(__file__).parent / "corpus"

# name -> [(severity, code, cell, words the message must hold)]; an empty list: no problem at all.
EXPECTED: dict[str, list[tuple[str, str, int, str]]] = {
    "kale_blocks": [("warning", "kale_tag", 6, "'limit:nvidia.com/gpu:1' is for Kubeflow")],
    "kale_steps": [],
    "papermill_report": [],
    "papermill_import_in_parameters": [("warning", "parameters_import", 1, "parameters cell imports json, pm")],
    "mlflow_start_run": [],
    "mlflow_start_run_named": [],
    "mlflow_autolog": [],
    "mlflow_nested_runs": [],
    "mlflow_plain_logging": [],
    "scoping_idioms": [],
    "magics_and_shell": [("warning", "pip_install", 1, "already has them")],
    "relative_data_file": [("error", "relative_file", 2, "reads 'data/churn.csv' relative to the notebook")],
    "pip_install_missing": [("error", "pip_install", 1, "lacks xgboost"),
                            ("error", "missing_package", 2, "imports 'xgboost', which the pipeline environment")],
    "missing_package_import": [("error", "missing_package", 1, "imports 'catboost', which the pipeline environment")],
    "download_urllib": [("error", "download", 2, "'https://archive.ics.uci.edu/static/public/222/bank+marketing.zip'"
                                                 " (urlretrieve)")],
    "download_requests": [("error", "download", 2, "'https://api.example.org/v1/prices' (get)")],
    "download_read_csv_url": [("error", "download", 3, "seaborn-data/master/iris.csv' (read_csv)")],
    "cell_that_is_gone": [("error", "hidden_state", 2, "'frame' is not defined by any cell")],
}
RUNNABLE = sorted(n for n, exp in EXPECTED.items() if all(sev == "warning" for sev, *_ in exp))


def _load(name: str) -> dict:
    return json.loads((CORPUS / f"{name}.ipynb").read_text())


def test_the_corpus_is_what_the_expectations_cover():
    assert sorted(p.stem for p in CORPUS.glob("*.ipynb")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 15 and len(RUNNABLE) >= 10


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preflight_says_exactly_the_expected_thing(name):
    a = analyse(_load(name))
    got = [(p.severity, p.code, p.cell) for p in a.problems]
    assert got == [e[:3] for e in EXPECTED[name]], [p.message for p in a.problems]
    for p, (*_, words) in zip(a.problems, EXPECTED[name]):
        assert words in p.message, p.message
    assert a.ok == (name in RUNNABLE)


def test_refused_notebooks_are_refused_with_the_real_reason_and_the_rest_promote_and_run(backend, project):
    sam = backend.client("sam")
    for name in sorted(set(EXPECTED) - set(RUNNABLE)):
        r = sam.post(f"/projects/{project}/pipelines", json={"notebook": _load(name), "path": f"corpus/{name}.ipynb"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "preflight_failed", r.text
        assert EXPECTED[name][0][3] in r.json()["error"]["message"], r.text
    launched = {}
    for name in RUNNABLE:
        pipeline = name.replace("_", "-")
        r = sam.post(f"/projects/{project}/pipelines", json={"notebook": _load(name), "path": f"corpus/{name}.ipynb",
                                                              "name": pipeline})
        assert r.status_code == 201, r.text
        run = sam.post(f"/projects/{project}/pipelines/{pipeline}/runs", json={})
        assert run.status_code == 201, run.text
        launched[name] = run.json()["run_id"]
    failed = {}
    for name, run_id in launched.items():
        run = wait_run(sam, project, run_id, timeout=600)
        if run["status"] != "SUCCESS":
            failed[name] = [(s["name"], s["status"], (s.get("error") or {}).get("error")) for s in run["stages"]]
    assert failed == {}
