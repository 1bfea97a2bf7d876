"""Retraining the recommender's encoder is a Dagster schedule of the platform's code location (issue 14 item 3):
weekly by default (`recommender_retrain_cron`), and its job runs end to end — the platform's runs become the corpus's
platform part, a new encoder version is trained, registered signed in `mlp-recommender` and made champion.

The job is the real code location's, executed in process (as tests/pipelines/test_stages_run.py does); its op runs
`python -m jupyter_mlp_gpu.recommender.train --history` against a live backend with the corpus fixture and a tiny
encoder (tens of seconds, mostly imports)."""

from __future__ import annotations

import json

import pytest
from test_suggest_route import _dataset, _frame, _run

from jupyter_mlp_gpu.recommender.corpus import fixture_corpus, load_corpus

# 8 epochs: model.py's OneCycleLR divides by zero with 10 optimiser steps or fewer
TINY = {"layers": 1, "heads": 2, "width": 16, "epochs": 8, "batch_size": 8}


def _index(home, **extra):
    path = home / "dagster" / "pipelines.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"versions": [], "schedules": [], **extra}))


def test_schedule_is_weekly_by_default_and_a_setting(mlp_home):
    """While suggestions rank with the encoder the backend writes the schedule into the code location's index (and
    keeps Dagster's daemon for it); with a baseline ranking, nothing retrains an encoder nobody uses."""
    from jupyter_mlp_backend.pipelines.dagster_location import RECOMMENDER_JOB, build
    from jupyter_mlp_backend.pipelines.dagster_service import DagsterService
    from jupyter_mlp.settings import Settings

    def schedules(**settings):
        service = DagsterService(Settings(home=mlp_home, **settings))
        service.write_index({})
        defs = build(mlp_home)
        assert defs.resolve_job_def(RECOMMENDER_JOB) is not None  # launchable by hand in any case
        found = [s for s in defs.schedules if s.name == RECOMMENDER_JOB]
        assert service._schedules_in_index() == bool(found)  # the daemon runs for it
        return [(s.cron_schedule, s.job_name) for s in found]

    assert schedules(recommender_method="encoder") == [("0 3 * * 0", RECOMMENDER_JOB)]  # weekly by default
    assert schedules(recommender_method="encoder", recommender_retrain_cron="30 1 * * 1") == [
        ("30 1 * * 1", RECOMMENDER_JOB)]
    assert schedules(recommender_method="encoder", recommender_retrain_cron="") == []
    assert schedules() == []  # knn ranks


def test_retraining_job_runs_end_to_end(backend, mlp_home, tmp_path, monkeypatch):
    from jupyter_mlp_backend.pipelines.dagster_location import RECOMMENDER_JOB, build

    admin = backend.admin
    assert admin.post("/projects", json={"slug": "acme", "name": "Acme"}).status_code == 201
    assert admin.put("/projects/acme/members/lena", json={"role": "lead"}).status_code == 200
    snap = _dataset(backend, "lena", "acme", "churn", _frame(0, "churned"))
    _run(backend, "lena", "acme", "rf-1", "churn", snap, "churned", {"n_estimators": "80"}, 0.91)
    fixture_corpus(tmp_path / "prior", n_datasets=12)

    monkeypatch.setenv("MLP_ADMIN_USERS", '["admin"]')  # who the training process acts as
    _index(mlp_home, backend_url=backend.url, recommender_cron="0 3 * * 0")
    job = build(mlp_home).resolve_job_def(RECOMMENDER_JOB)
    result = job.execute_in_process(run_config={"ops": {"retrain_recommender_encoder": {"config": {
        "corpus": str(tmp_path / "prior"), "settings_json": json.dumps(TINY), "max_regret": 1.0}}}},
        raise_on_error=False)
    logs = [e.message for e in result.all_events if e.message]
    assert result.success, logs[-20:]

    # the corpus's platform part is rebuilt from the platform's runs (no name in it), beside the prior corpus
    corpus = load_corpus(mlp_home / "recommender" / "corpus")
    platform = corpus.datasets[corpus.datasets["source"] == "platform"]
    assert len(platform) == 1 and (corpus.datasets["source"] == "fixture").sum() == 12
    assert "churn" not in corpus.datasets.to_json() and "rf-1" not in corpus.configs.to_json()
    assert set(corpus.configs.loc[corpus.configs["config_id"].str.startswith("platform:"), "family"]) == {
        "random_forest"}

    # ... and a new signed encoder version, trained on it, is the champion
    model = admin.get("/projects/mlp-recommender/models/encoder").json()
    assert model["aliases"].get("champion") == 1, model
    v = admin.get("/projects/mlp-recommender/models/encoder/versions/1").json()
    assert v["signed"]
    assert v["lineage"]["data"]["reads"][0]["sha256"] == corpus.version.removeprefix("sha256:")


@pytest.mark.parametrize("bad", ["weekly", "0 3 * *"])
def test_cron_setting_refuses_what_is_not_cron(bad):
    from pydantic import ValidationError

    from jupyter_mlp.settings import Settings

    with pytest.raises(ValidationError):
        Settings(recommender_retrain_cron=bad)
