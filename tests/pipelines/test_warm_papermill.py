"""A stage's papermill process is started ahead (issue 17), and the stage still runs as before: its own process
and kernel, the stage's whole environment and nothing of the runner's, papermill's output and exit status.

The stage runner is called directly (no Dagster, no MLflow: a run config without a parent run), as Dagster's run
worker calls it, on a two-stage version written to a temporary folder."""

from __future__ import annotations

import json
import pytest

from tests.helpers import notebook as _nb

PROBE = ("import json, os\n"
         "json.dump({'ppid': os.getppid(), 'pid': os.getpid(), 'env': dict(os.environ)},"
         " open(os.environ['MLP_STAGE'] + '.probe.json', 'w'))")


def _version(tmp_path, stages: dict[str, list]) -> object:
    v = tmp_path / "pipelines" / "acme" / ("ab" * 32)
    (v / "stages").mkdir(parents=True)
    for name, cells in stages.items():
        (v / "stages" / f"{name}.ipynb").write_text(json.dumps(_nb(cells)))
    (v / "pipeline.json").write_text(json.dumps({"order": list(stages), "parameters": [],
                                                 "stages": [{"name": n} for n in stages]}))
    (v / "environment.txt").write_text("")
    return v


def test_the_next_stage_takes_a_papermill_process_started_ahead_with_only_its_own_environment(tmp_path,
                                                                                               monkeypatch):
    from jupyter_mlp_backend.pipelines import stage_procs, stage_runner, warm_papermill

    monkeypatch.setenv("MLP_DATABASE_URL", "postgresql://mlp:secret@db.invalid/mlp")  # the runner's, not a stage's
    v = _version(tmp_path, {"first": [(PROBE, [])], "second": [(PROBE, []), ("raise ValueError('broken')", [])],
                            "third": [("y = 2", [])]})
    run_dir = tmp_path / "pipeline-runs" / "acme" / "r1"
    cfg = {"project": "acme", "run_dir": str(run_dir), "parameters": {}, "snapshots": {"obs": 3},
           "executor": "subprocess"}

    stage_runner.run_stage(v, "first", cfg)
    assert len(warm_papermill._spare) == 1  # started for the second stage while the first ran
    ahead = warm_papermill._spare[0][1]
    assert ahead.poll() is None and stage_procs.find(run_dir) == [ahead.pid]  # a cancel of the run finds it
    with pytest.raises(stage_runner.StageFailed, match="ValueError: broken"):  # fails as it did
        stage_runner.run_stage(v, "second", cfg)
    assert ahead.wait(10) == 1 and "ValueError" in (run_dir / "second.log").read_text()

    first, second = (json.loads((run_dir / f"{s}.probe.json").read_text()) for s in ("first", "second"))
    assert second["ppid"] == ahead.pid  # the second stage's kernel was started by the process started ahead
    assert first["ppid"] != second["ppid"]  # each stage its own papermill process
    for name, seen in (("first", first), ("second", second)):
        assert seen["env"]["MLP_STAGE"] == name
        assert seen["env"]["MLP_STAGE_IO"] == str(run_dir / "io")
        assert json.loads(seen["env"]["MLP_DATASET_SNAPSHOTS"]) == {"obs": 3}
        assert "MLP_DATABASE_URL" not in seen["env"]
        assert (run_dir / f"{name}.ipynb").exists() and (run_dir / f"{name}.timings.json").exists()

    # the process started for the third stage, which no stage takes once the run failed, exits when its stdin
    # closes (the run worker ended), having run nothing
    (_, spare), = warm_papermill._spare
    warm_papermill._spare.clear()
    warm_papermill.discard(spare)
    assert spare.wait(30) == 0 and not (run_dir / "third.ipynb").exists()
    assert stage_procs.find(run_dir) == []
