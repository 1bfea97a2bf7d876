"""Pipelines run for real: Dagster's webserver (managed by the backend) launches them via GraphQL, papermill
executes each stage, and MLflow records a parent run with a child run per stage."""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import notebook as _nb
from tests.helpers import wait_run as _wait

CELLS = [
    ("import math", ["imports"]),
    ("alpha = 0.5\nepochs = 3\nlabel = 'base'", ["parameters"]),
    ("data = [i * alpha for i in range(epochs)]", ["stage:prep"]),
    ("import mlflow\nscore = math.fsum(data)\nmlflow.log_metric('score', score)", ["stage:train"]),
]


@pytest.fixture
def promoted(backend, project):
    sam = backend.client("sam")
    ok = sam.post(f"/projects/{project}/pipelines", json={"notebook": _nb(CELLS), "path": "acme/t.ipynb",
                                                           "name": "train"})
    bad = sam.post(f"/projects/{project}/pipelines", json={"notebook": _nb(
        [*CELLS[:3], ("raise ValueError('broken ' + str(len(data)))", ["stage:train"]),
         ("done = True", ["stage:report", "depends:train"])]), "path": "acme/b.ipynb", "name": "broken"})
    assert ok.status_code == 201 and bad.status_code == 201, (ok.text, bad.text)
    return sam


def test_run_with_parameters_then_a_failing_one(backend, project, promoted):
    sam = promoted
    r = sam.post(f"/projects/{project}/pipelines/train/runs", json={"parameters": {"alpha": 2, "epochs": 4}})
    assert r.status_code == 201, r.text
    run = _wait(sam, project, r.json()["run_id"])
    assert run["status"] == "SUCCESS", run
    assert [(s["name"], s["status"]) for s in run["stages"]] == [("prep", "SUCCESS"), ("train", "SUCCESS")]
    assert run["parameters"] == {"alpha": 2.0, "epochs": 4}
    later = sam.get(f"/projects/{project}/pipelines/train/runs").json()["items"][0]  # read back after it ended
    assert [(s["name"], s["status"]) for s in later["stages"]] == [("prep", "SUCCESS"), ("train", "SUCCESS")]

    runs = sam.get(f"/projects/{project}/runs", params={"filter": "tags.mlp.pipeline.stage = 'train'"}).json()
    assert runs["total"] == 1
    child = runs["items"][0]
    assert child["metrics"]["score"] == 0 + 2 + 4 + 6  # the stage's own mlflow call landed in its child run
    assert child["tags"]["mlflow.parentRunId"] == run["mlflow_run_id"]
    assert child["tags"]["mlp.pipeline.version"] == run["version"]
    assert json.loads(child["tags"]["mlp.pipeline.parameters"]) == {"alpha": 2.0, "epochs": 4}
    assert json.loads(child["tags"]["mlp.datasets.pinned"]) == run["snapshots"]
    assert child["tags"]["mlp.pipeline.executor"] == "subprocess"
    assert child["user"] == "sam"
    parent = sam.get(f"/projects/{project}/runs/{run['mlflow_run_id']}").json()
    assert parent["status"] == "FINISHED" and parent["params"]["alpha"] == "2.0"
    assert parent["tags"]["mlp.env.freeze_sha256"] == child["tags"]["mlp.env.freeze_sha256"]
    arts = sam.get(f"/projects/{project}/runs/{child['run_id']}/artifacts", params={"path": "output"}).json()
    assert [a["path"] for a in arts["items"]] == ["output/train.ipynb"]

    r = sam.post(f"/projects/{project}/pipelines/broken/runs", json={})
    run = _wait(sam, project, r.json()["run_id"])
    assert run["status"] == "FAILURE"
    stages = {s["name"]: s for s in run["stages"]}
    assert stages["prep"]["status"] == "SUCCESS"
    assert stages["train"]["status"] == "FAILURE"
    assert stages["train"]["error"]["cell"] == 4 and "ValueError: broken 3" in stages["train"]["error"]["error"]
    assert stages["report"]["status"] != "SUCCESS"
    parent = sam.get(f"/projects/{project}/runs/{run['mlflow_run_id']}").json()
    assert parent["status"] == "FAILED"


@pytest.mark.parametrize("params, field", [
    ({"nope": 1}, "parameters.nope"),
    ({"epochs": "three"}, "parameters.epochs"),
    ({"epochs": 2.5}, "parameters.epochs"),
    ({"label": 5}, "parameters.label"),
])
def test_bad_parameters_are_refused_before_anything_runs(backend, project, promoted, params, field):
    r = promoted.post(f"/projects/{project}/pipelines/train/runs", json={"parameters": params})
    assert r.status_code == 422 and field in json.dumps(r.json()["error"]["detail"])
    assert promoted.get(f"/projects/{project}/pipelines/train/runs").json()["total"] == 0


def test_roles_and_other_projects(backend, project, promoted):
    assert backend.client("vic").post(f"/projects/{project}/pipelines/train/runs", json={}).status_code == 403
    assert backend.client("gus").post(f"/projects/{project}/pipelines/train/runs", json={}).status_code == 404
    assert promoted.post(f"/projects/{project}/pipelines/nope/runs", json={}).status_code == 404
    assert promoted.get(f"/projects/{project}/pipeline-runs/not-a-run").status_code == 404


def test_cli_runs_a_pipeline_and_shows_the_failing_cell(backend, project, promoted):
    import os
    import subprocess
    import sys
    from pathlib import Path

    mlp = Path(sys.executable).parent / "mlp"
    env = {**os.environ, "MLP_HOME": str(backend.settings.home), "MLP_BACKEND_URL": backend.url, "USER": "sam",
           "LOGNAME": "sam"}

    def run(*args):
        return subprocess.run([str(mlp), *args], env=env, capture_output=True, text=True, timeout=300)

    shown = run("pipelines", "show", project, "train")
    assert "stages: prep -> train" in shown.stdout and "alpha: float = 0.5" in shown.stdout
    ok = run("pipelines", "run", project, "train", "-p", "alpha=1", "-p", "epochs=2", "--wait")
    assert ok.returncode == 0 and "SUCCESS" in ok.stdout, ok.stdout + ok.stderr
    assert "in local subprocesses" in ok.stdout
    run_id = ok.stdout.split()[1]
    log = run("pipelines", "log", project, run_id, "train")
    assert log.returncode == 0 and "Input Notebook" in log.stdout, log.stdout + log.stderr
    assert run("pipelines", "log", project, run_id, "../../secret").returncode == 2
    made = run("pipelines", "schedule", project, "train", "--cron", "30 2 * * *", "-p", "alpha=3")
    assert made.returncode == 0 and "at '30 2 * * *' (UTC)" in made.stdout, made.stdout + made.stderr
    listed = run("pipelines", "schedules", project, "train")
    assert '{"alpha": 3.0}' in listed.stdout and "T02:30" in listed.stdout, listed.stdout
    sched_id = made.stdout.split()[1].rstrip(":")
    assert run("pipelines", "unschedule", project, sched_id).returncode == 0
    assert "(none)" in run("pipelines", "schedules", project, "train").stdout
    bad = run("pipelines", "run", project, "broken", "--wait")
    assert bad.returncode == 1 and "cell 4: ValueError: broken 3" in bad.stdout
    wrong = run("pipelines", "run", project, "train", "-p", "nope=1")
    assert wrong.returncode == 2 and "'nope' is not a parameter" in wrong.stderr


def test_killing_a_stage_fails_the_run_and_a_retry_works(backend, project):
    import psutil

    from jupyter_mlp_backend.pipelines import stage_procs

    sam = backend.client("sam")
    nb = _nb([("import time", ["imports"]), ("seconds = 60", ["parameters"]),
              ("time.sleep(seconds)\nslept = seconds", ["stage:wait"]), ("done = slept", ["stage:after"])])
    assert sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "w.ipynb",
                                                           "name": "wait"}).status_code == 201
    run = sam.post(f"/projects/{project}/pipelines/wait/runs", json={}).json()
    run_dir = backend.settings.home / "pipeline-runs" / project / run["run_id"]
    victim = None
    def papermill() -> psutil.Process | None:  # the stage's papermill process: its kernel's parent (the kernel
        for pid in stage_procs.find(run_dir, "wait"):  # found as a cancel finds the stage's processes)
            try:
                proc = psutil.Process(pid)
                if "ipykernel" in " ".join(proc.cmdline()):
                    return proc.parent()
            except psutil.Error:
                pass
        return None

    for _ in range(240):
        victim = papermill()
        if victim:
            break
        time.sleep(0.5)
    assert victim is not None, "the stage never started"
    time.sleep(2)
    victim.kill()
    ended = _wait(sam, project, run["run_id"])
    stages = {s["name"]: s for s in ended["stages"]}
    assert ended["status"] == "FAILURE" and stages["wait"]["status"] == "FAILURE"
    assert stages["after"]["status"] != "SUCCESS"
    # what happened, in words: the stage, killed by which signal, when, and that nothing was registered
    said = stages["wait"]["error"]["error"]
    assert said.startswith("StageKilled: Stage 'wait'") and "killed by signal 9 (SIGKILL)" in said, said
    assert " UTC" in said and "nothing from this run was registered" in said, said
    assert "IPKernelApp" not in said
    retry = sam.post(f"/projects/{project}/pipelines/wait/runs", json={"parameters": {"seconds": 0}}).json()
    assert _wait(sam, project, retry["run_id"])["status"] == "SUCCESS"


def test_cancel_a_running_pipeline(backend, project):
    sam = backend.client("sam")
    nb = _nb([("import time", ["imports"]), ("seconds = 120", ["parameters"]), ("time.sleep(seconds)", ["stage:s"])])
    assert sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "c.ipynb",
                                                           "name": "sleepy"}).status_code == 201
    run = sam.post(f"/projects/{project}/pipelines/sleepy/runs", json={}).json()
    for _ in range(120):
        if sam.get(f"/projects/{project}/pipeline-runs/{run['run_id']}").json()["stages"][0]["status"] == "IN_PROGRESS":
            break
        time.sleep(0.5)
    assert backend.client("vic").post(f"/projects/{project}/pipeline-runs/{run['run_id']}/cancel").status_code == 403
    r = sam.post(f"/projects/{project}/pipeline-runs/{run['run_id']}/cancel")
    assert r.status_code == 200
    ended = _wait(sam, project, run["run_id"], timeout=90)
    assert ended["status"] in ("CANCELED", "FAILURE") and ended["status"] != "SUCCESS"
    again = sam.post(f"/projects/{project}/pipeline-runs/{run['run_id']}/cancel")
    assert again.status_code == 409


def test_cancel_stops_the_stage_and_its_kernel_when_dagsters_interrupt_never_arrives(backend, project, monkeypatch):
    """Once, under load, Dagster marked a cancelled run CANCELING but its interrupt never reached the run worker: the
    stage slept on and the run stayed CANCELING. A cancel kills the stage's processes (papermill and its kernel,
    which runs in a session of its own) itself; here Dagster's termination is lost on purpose."""
    from jupyter_mlp_backend.pipelines import dagster_service, stage_procs

    async def lost(self, run_id: str) -> None:
        return None

    monkeypatch.setattr(dagster_service.DagsterService, "terminate", lost)
    sam = backend.client("sam")
    nb = _nb([("import time", ["imports"]), ("seconds = 300", ["parameters"]), ("time.sleep(seconds)", ["stage:s"])])
    assert sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "d.ipynb",
                                                           "name": "deaf"}).status_code == 201
    run = sam.post(f"/projects/{project}/pipelines/deaf/runs", json={}).json()
    run_dir = backend.settings.home / "pipeline-runs" / project / run["run_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(stage_procs.find(run_dir)) < 2:  # papermill and its kernel
        time.sleep(0.5)
    assert len(stage_procs.find(run_dir)) >= 2
    assert sam.post(f"/projects/{project}/pipeline-runs/{run['run_id']}/cancel").status_code == 200
    ended = _wait(sam, project, run["run_id"], timeout=60)
    assert ended["status"] in ("CANCELED", "FAILURE"), ended
    assert stage_procs.find(run_dir) == []


def test_replay_reads_the_same_snapshots_after_new_rows_arrive(backend, project, use_mlflow, monkeypatch):
    import pandas as pd

    from jupyter_mlp import datasets

    use_mlflow(backend.kernel_env("sam", project))
    monkeypatch.setenv("MLP_PROJECT", project)
    datasets.register("obs", pd.DataFrame({"v": [1.0, 2.0, 3.0]}))
    sam = backend.client("sam")
    nb = _nb([("import mlflow\nfrom jupyter_mlp import datasets", ["imports"]), ("scale = 2", ["parameters"]),
              ("df = datasets.read('obs')\nmlflow.log_metric('total', float(df.v.sum()) * scale)", ["stage:sum"])])
    assert sam.post(f"/projects/{project}/pipelines", json={"notebook": nb, "path": "s.ipynb",
                                                           "name": "sums"}).status_code == 201

    def children(run):
        return sam.get(f"/projects/{project}/runs", params={
            "filter": f"tags.mlflow.parentRunId = '{run['mlflow_run_id']}'"}).json()["items"]

    def total(run):
        return children(run)[0]["metrics"]["total"]

    first = _wait(sam, project, sam.post(f"/projects/{project}/pipelines/sums/runs", json={}).json()["run_id"])
    assert first["status"] == "SUCCESS" and total(first) == 12.0
    datasets.register("obs", pd.DataFrame({"v": [100.0]}), mode="append")  # new rows arrive

    # issue 17: the run worker started ahead for the next run starts a standby stage process for each stage of the
    # pipeline last run; waited for here, so that the replay's stage surely takes one
    _standby_started()
    replay = sam.post(f"/projects/{project}/pipeline-runs/{first['run_id']}/replay")
    assert replay.status_code == 201 and replay.json()["replay_of"] == first["run_id"]
    replayed = _wait(sam, project, replay.json()["run_id"])
    timings = backend.settings.home / "pipeline-runs" / project / replayed["run_id"] / "sum.timings.json"
    assert json.loads(timings.read_text())["standby"] is True
    assert replayed["status"] == "SUCCESS" and replayed["snapshots"] == first["snapshots"]
    assert total(replayed) == 12.0  # same version, parameters and snapshots: the same number
    # the same lineage (issue 17: stages now run in papermill processes started ahead): one child run per stage
    # under the run's own parent, as sam, with the same version, parameters, pinned snapshots, environment and
    # executor, and the stage's executed notebook as its artifact
    (a,), (b,) = children(first), children(replayed)
    assert a["run_id"] != b["run_id"] and a["user"] == b["user"] == "sam"
    assert {k: v for k, v in a["tags"].items() if k.startswith("mlp.")} == \
        {k: v for k, v in b["tags"].items() if k.startswith("mlp.")}
    assert a["tags"]["mlp.pipeline.stage"] == "sum" and a["params"] == b["params"] == {"scale": "2"}
    for child in (a, b):
        arts = sam.get(f"/projects/{project}/runs/{child['run_id']}/artifacts", params={"path": "output"}).json()
        assert [x["path"] for x in arts["items"]] == ["output/sum.ipynb"]
    parent = sam.get(f"/projects/{project}/runs/{replayed['mlflow_run_id']}").json()
    assert parent["tags"]["mlp.pipeline.replay_of"] == first["run_id"] and parent["status"] == "FINISHED"
    # the path (issue 17): Dagster handed each run to a run worker process (warm_run_worker.WarmRunLauncher, the
    # default launcher) and the run executed in that process; the replay's was started ahead, while the first ran
    from dagster import DagsterInstance, RunsFilter

    with DagsterInstance.from_config(str(backend.settings.home / "dagster")) as instance:
        for r in (first, replayed):
            (d,) = instance.get_runs(RunsFilter(tags={"mlp/run_id": r["run_id"]}))
            said = [e.message for e in instance.all_logs(d.run_id) if "Started process for run" in (e.message or "")]
            assert said == [f"Started process for run (pid: {d.tags.get('mlp/run_worker_pid')})."], (said, d.tags)
        assert d.tags["mlp/run_worker"] == "ahead"

    fresh = _wait(sam, project, sam.post(f"/projects/{project}/pipelines/sums/runs", json={}).json()["run_id"])
    assert total(fresh) == 212.0  # a new run sees the new rows
    assert backend.client("vic").post(f"/projects/{project}/pipeline-runs/{first['run_id']}/replay").status_code == 403


def _standby_started(timeout: float = 120) -> None:
    """Wait until a standby stage process (warm_papermill.standby: MLP_STANDBY in its environment) runs."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if "papermill" in " ".join(proc.info["cmdline"] or []) and "MLP_STANDBY" in proc.environ():
                    return
            except psutil.Error:
                pass
        time.sleep(0.2)
    raise AssertionError("no standby stage process started")
