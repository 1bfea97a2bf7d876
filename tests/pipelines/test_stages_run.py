"""Promoted versions run as Dagster assets, each stage a papermill execution; values flow, failures name the cell."""

from __future__ import annotations

import json

import pytest

TRAIN = [
    ("import math", ["imports"]),
    ("alpha = 0.5\nepochs = 3\nlabel = 'x'", ["parameters"]),
    ("data = [i * alpha for i in range(epochs)]", ["stage:prep"]),
    ("score = math.fsum(data)\nprint('score', score, label)", ["stage:train"]),
]


def _promote(api, make_nb, cells):
    r = api.as_user("sam").post("/projects/acme/pipelines", json={"notebook": make_nb(*cells), "path": "t.ipynb",
                                                                  "name": "train"})
    assert r.status_code in (200, 201), r.text
    version = r.json()["version"]
    index = api.settings.home / "dagster" / "pipelines.json"
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps([{"project": "acme", "pipeline": "train", "version": version}]))
    return version


def _execute(api, version, tmp_path, parameters):
    from jupyter_mlp_backend.pipelines.dagster_location import build
    from jupyter_mlp_backend.pipelines.dagster_service import job_name

    defs = build(api.settings.home)
    job = defs.resolve_job_def(job_name("acme", "train", version))
    run_dir = tmp_path / "run"
    result = job.execute_in_process(run_config={"resources": {"mlp": {"config": {
        "project": "acme", "run_dir": str(run_dir), "parameters_json": json.dumps(parameters)}}}},
        raise_on_error=False)
    return result, run_dir


def test_stages_run_in_order_with_parameters(api, acme, make_nb, tmp_path):
    version = _promote(api, make_nb, TRAIN)
    result, run_dir = _execute(api, version, tmp_path, {"alpha": 2.0, "label": 'x"; import os; os.system("id") #'})
    assert result.success
    out = json.loads((run_dir / "train.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for c in out["cells"] for o in c.get("outputs", []))
    # alpha=2.0 over 3 epochs: 0 + 2 + 4; the injection attempt arrived as a plain string
    assert 'score 6.0 x"; import os; os.system("id") #' in text
    assert [e.asset_key.path[-1] for e in result.get_asset_materialization_events()] == ["prep", "train"]


def test_failing_stage_stops_the_run_and_names_the_cell(api, acme, make_nb, tmp_path):
    cells = [*TRAIN[:3], ("raise ValueError('bad data')", ["stage:train"]), ("z = score", ["stage:report"])]
    cells[-1] = ("z = 1", ["stage:report", "depends:train"])
    version = _promote(api, make_nb, cells)
    result, run_dir = _execute(api, version, tmp_path, {})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "cell 4" in failure.event_specific_data.error.message or "cell 4" in str(failure.event_specific_data)
    assert "ValueError: bad data" in str(failure.event_specific_data)
    assert not (run_dir / "report.ipynb").exists()  # the later stage never ran
