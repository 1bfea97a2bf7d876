"""The MLflow idioms people write interactively work unchanged in a pipeline stage (issue 18, item 1).

A real notebook, promoted and run as a real pipeline: `with mlflow.start_run():`, `start_run(run_name=...)`,
nested runs, autolog, `start_run()`/`end_run()` after the stage's run ended, and `log_model` with and without an
active run. What each logged lands in the stage's child run or in a run nested under it (checked through MLflow),
and every model is registered with the pipeline's lineage.
"""

from __future__ import annotations

from tests.helpers import notebook as _nb
from tests.helpers import wait_run as _wait

SK = "pip_requirements=['scikit-learn']"
CELLS = [
    # the first lines of most MLflow tutorials: a tracking URI (here a local folder) and an experiment by name; in a
    # stage both are kept (with a notice) so that what follows still lands in the stage's run
    ("import mlflow\nimport mlflow.sklearn\nimport numpy as np\nfrom sklearn.linear_model import LogisticRegression\n"
     "mlflow.set_tracking_uri('mlruns')\nexperiment = mlflow.set_experiment('churn-tutorial')",
     ["imports"]),
    ("C = 1.0", ["parameters"]),
    # the most common idiom: a plain `with mlflow.start_run():`
    ("rng = np.random.default_rng(0)\nX = rng.normal(size=(200, 2))\ny = (X[:, 0] + X[:, 1] > 0).astype(int)\n"
     "with mlflow.start_run():\n    mlflow.log_param('rows', len(X))\n    mlflow.log_metric('positives', int(y.sum()))",
     ["stage:prep"]),
    # a named run, nested trials inside it, and the model logged inside the active run
    ("with mlflow.start_run(run_name='fit'):\n"
     "    model = LogisticRegression(C=C).fit(X, y)\n"
     "    mlflow.log_metric('accuracy', model.score(X, y))\n"
     "    for c in (0.1, 10.0):\n"
     "        with mlflow.start_run(run_name=f'C={c}', nested=True):\n"
     "            mlflow.log_param('trial_C', c)\n"
     "            mlflow.log_metric('trial_accuracy', LogisticRegression(C=c).fit(X, y).score(X, y))\n"
     f"    mlflow.sklearn.log_model(model, name='churn', {SK})",
     ["stage:train"]),
    # autolog (its run ends after fit), then start_run()/end_run() by hand with a model in that second run
    ("mlflow.sklearn.autolog(log_models=False)\n"
     "LogisticRegression(C=C).fit(X, y)\n"
     "mlflow.sklearn.autolog(disable=True)\n"
     "mlflow.start_run(run_name='second')\n"
     "mlflow.log_metric('second', 2.0)\n"
     f"mlflow.sklearn.log_model(model, name='second-model', {SK})\n"
     "mlflow.end_run()",
     ["stage:sweep", "depends:train"]),
    # log_model with no run at all
    (f"mlflow.sklearn.log_model(model, name='bare', {SK})", ["stage:export", "depends:train"]),
]


def test_usual_mlflow_idioms_work_in_stages(backend, project):
    """Also: `set_tracking_uri`/`set_experiment` at the top (the imports cell, so in every stage) are kept as the
    stage's, with a notice in the stage's output, instead of failing the first `start_run()`."""
    sam = backend.client("sam")
    r = sam.post(f"/projects/{project}/pipelines", json={"notebook": _nb(CELLS), "path": "idioms.ipynb",
                                                         "name": "idioms"})
    assert r.status_code == 201, r.text
    run = _wait(sam, project, sam.post(f"/projects/{project}/pipelines/idioms/runs", json={}).json()["run_id"],
                timeout=400)
    assert run["status"] == "SUCCESS", [s.get("error") for s in run["stages"]]

    def runs(flt):
        return sam.get(f"/projects/{project}/runs", params={"filter": flt, "limit": 100}).json()["items"]

    stages = {c["tags"]["mlp.pipeline.stage"]: c for c in runs(f"tags.mlflow.parentRunId = '{run['mlflow_run_id']}'")}
    assert sorted(stages) == ["export", "prep", "sweep", "train"]
    assert all(c["status"] == "FINISHED" for c in stages.values())

    # with mlflow.start_run(): the stage's own run
    assert stages["prep"]["params"]["rows"] == "200" and stages["prep"]["metrics"]["positives"] > 0
    # start_run(run_name=...): still the stage's run; the nested trials hang under it
    train = stages["train"]
    assert train["metrics"]["accuracy"] > 0.9
    trials = runs(f"tags.mlflow.parentRunId = '{train['run_id']}'")
    assert sorted(t["params"]["trial_C"] for t in trials) == ["0.1", "10.0"]
    assert all("trial_accuracy" in t["metrics"] and t["status"] == "FINISHED" for t in trials)
    # autolog wrote into the stage's run; the run started after it ended is nested under the stage's run
    sweep = stages["sweep"]
    assert "training_score" in sweep["metrics"] and sweep["params"]["C"] == "1.0"
    (second,) = runs(f"tags.mlflow.parentRunId = '{sweep['run_id']}'")
    assert second["run_name"] == "second" and second["metrics"]["second"] == 2.0 and second["status"] == "FINISHED"
    # nothing the stages did escaped the pipeline run's tree
    tops = [x for x in runs("") if "mlflow.parentRunId" not in x["tags"]]
    assert [x["run_id"] for x in tops] == [run["mlflow_run_id"]]

    # set_experiment/set_tracking_uri were not applied: a notice in each stage's output says so and where the logs
    # went; no experiment of that name was made, no local store written
    import json

    run_dir = backend.settings.home / "pipeline-runs" / project / run["run_id"]
    for stage in stages:
        said = "".join("".join(o.get("text", "")) for c in json.loads((run_dir / f"{stage}.ipynb").read_text())["cells"]
                       for o in c.get("outputs", []) if o.get("name") == "stderr")
        assert "mlflow.set_experiment('churn-tutorial') is not applied in pipeline stage " f"'{stage}'" in said, said
        assert "mlflow.set_tracking_uri('mlruns') is not applied" in said and stages[stage]["run_id"] in said, said
    experiments = sam.get(f"/projects/{project}/experiments").json()["items"]
    assert "churn-tutorial" not in {e["name"] for e in experiments}, experiments
    assert not (run_dir / "mlruns").exists()

    # every model is registered, from the run it belongs to, with the pipeline's lineage
    expected = {"churn": train["run_id"], "second-model": second["run_id"], "bare": stages["export"]["run_id"]}
    names = {m["name"] for m in sam.get(f"/projects/{project}/models").json()["items"]}
    assert names == set(expected), names
    for name, source_run in expected.items():
        v = sam.get(f"/projects/{project}/models/{name}/versions/1").json()
        assert v["signed"] and v["pipeline_run_id"] == run["run_id"], v
        assert v["lineage"]["pipeline_run"] == run["run_id"] and v["lineage"]["pipeline_version"] == run["version"]
        assert v["lineage"]["mlflow_run"] == source_run and v["lineage"]["code"]["stage_notebooks"]
        assert v["lineage"]["environment_sha256"]


def test_set_experiment_and_set_tracking_uri_keep_the_stage_run(backend, project, use_mlflow, monkeypatch, capsys):
    """The stage kernel's hook on its own (no pipeline run): with MLFLOW_RUN_ID naming a stage's run, MLflow's
    `set_experiment` for another experiment made the first `start_run()` fail; now it keeps the stage's experiment
    and says so, the same experiment or the same tracking URI say nothing, and MLflow's own errors stay."""
    import mlflow
    import pytest
    from mlflow import MlflowClient

    from jupyter_mlp import stage_mlflow

    env = backend.kernel_env("sam", project)
    use_mlflow(env)
    stage_run = MlflowClient().create_run(env["MLFLOW_EXPERIMENT_ID"], run_name="prep").info.run_id
    for k, v in {"MLFLOW_RUN_ID": stage_run, "MLP_STAGE_RUN_ID": stage_run, "MLP_STAGE": "prep"}.items():
        monkeypatch.setenv(k, v)
    for name in ("set_experiment", "set_tracking_uri"):  # put MLflow's own functions back after the test
        monkeypatch.setattr(mlflow, name, getattr(mlflow, name))
    monkeypatch.setattr(mlflow.tracking, "set_tracking_uri", mlflow.tracking.set_tracking_uri)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)

    assert stage_mlflow.install() and stage_mlflow.install()  # twice: wrapped once
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"] + "/")  # the same server: nothing to say
    same = mlflow.set_experiment(experiment_id=env["MLFLOW_EXPERIMENT_ID"])
    assert capsys.readouterr().err == ""
    mlflow.set_tracking_uri("http://localhost:5000")
    kept = mlflow.set_experiment("churn-tutorial")
    said = capsys.readouterr().err
    assert kept.experiment_id == same.experiment_id == env["MLFLOW_EXPERIMENT_ID"]
    assert mlflow.get_tracking_uri() == env["MLFLOW_TRACKING_URI"]
    assert "mlflow.set_tracking_uri('http://localhost:5000') is not applied in pipeline stage 'prep'" in said
    assert f"mlflow.set_experiment('churn-tutorial') is not applied in pipeline stage 'prep': a stage logs to " \
           f"the pipeline's experiment '{kept.name}', into the stage's run {stage_run}" in said
    with pytest.raises(mlflow.exceptions.MlflowException, match="exactly one of"):
        mlflow.set_experiment()
    with mlflow.start_run() as run:  # failed before: "Cannot start run with ID ... does not match"
        mlflow.log_metric("m", 1.0)
    assert run.info.run_id == stage_run
    assert MlflowClient().get_run(stage_run).data.metrics == {"m": 1.0}
    assert MlflowClient().get_experiment_by_name("churn-tutorial") is None
