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
    # a cancel of the run finds it, and the second stage's kernel it started ahead (with the stage's MLP_STAGE: the
    # stage's own kill after it finds that kernel too)
    kernel, = stage_procs.find(run_dir, "second")
    assert ahead.poll() is None and sorted(stage_procs.find(run_dir)) == sorted([ahead.pid, kernel])
    with pytest.raises(stage_runner.StageFailed, match="ValueError: broken"):  # fails as it did
        stage_runner.run_stage(v, "second", cfg)
    assert ahead.wait(10) == 1 and "ValueError" in (run_dir / "second.log").read_text()

    first, second = (json.loads((run_dir / f"{s}.probe.json").read_text()) for s in ("first", "second"))
    assert second["ppid"] == ahead.pid  # the second stage's kernel was started by the process started ahead
    assert second["pid"] == kernel  # before the stage was handed to it
    assert first["ppid"] != second["ppid"]  # each stage its own papermill process
    assert first["pid"] != second["pid"]  # and its own kernel
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


HAND_OVER_PROBE = [
    # what the notebook's namespace and history hold before its first cell (nothing of the hand-over)
    ("seen = sorted(k for k in globals() if not k.startswith('_') and k not in ('In', 'Out', 'get_ipython', 'exit',"
     " 'quit', 'open'))\nhistory = len(In)", []),
    ("import json, os\n"
     "json.dump({'pid': os.getpid(), 'env': dict(os.environ), 'seen': seen, 'history': history},"
     " open(os.environ['MLP_STAGE'] + '.probe.json', 'w'))\nprint(os.environ['MLP_STAGE'])", []),
]


def _stage(run_dir, nb_path, stage: str, run_env: dict, late: dict, proc):
    """Hand a process its stage as the stage runner does, with `late` the variables known only once the stage's
    MLflow child run exists."""
    from jupyter_mlp_backend.pipelines import warm_papermill

    out = run_dir / f"{stage}.ipynb"
    code, _, err = warm_papermill.run(proc, {**run_env, "MLP_STAGE": stage, **late},
                                      [str(nb_path), str(out), "-k", "python3", "--cwd", str(run_dir),
                                       "--no-progress-bar", "-y", "{}"])
    assert code == 0, err
    return json.loads((run_dir / f"{stage}.probe.json").read_text()), json.loads(out.read_text())


def _cells(nb: dict) -> list:
    return [(c["source"], c.get("execution_count"), c.get("outputs")) for c in nb["cells"]]


def test_a_kernel_started_ahead_gets_its_stages_own_variables_and_leaves_no_trace(tmp_path):
    """The kernel started ahead (issue 17) sees its stage's MLFLOW_RUN_ID, token and MLP_STAGE, never the stage
    before's; each stage a fresh kernel; the output notebook as papermill's own kernel leaves it; a stage the kernel
    was not started for gets the plain path; a cancel (stage_procs.kill of the run) kills a kernel started ahead."""
    from jupyter_mlp.user_env import user_code_env
    from jupyter_mlp_backend.pipelines import stage_procs, warm_papermill

    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    nb_path = tmp_path / "probe.ipynb"
    nb_path.write_text(json.dumps(_nb(HAND_OVER_PROBE)))
    run_env = user_code_env({"MLP_STAGE_IO": str(run_dir / "io"), "MLP_PIPELINE_VERSION": "v1"})
    late = {s: {"MLFLOW_RUN_ID": f"run-{s}", "MLP_STAGE_RUN_ID": f"run-{s}", "MLFLOW_TRACKING_TOKEN": f"token-{s}"}
            for s in ("a", "b", "plain", "c")}

    first = warm_papermill.take(run_env, ("a", "python3", str(run_dir)))
    warm_papermill.ahead(run_env, ("b", "python3", str(run_dir)))
    a, nb_a = _stage(run_dir, nb_path, "a", run_env, late["a"], first)
    kernel_b, = stage_procs.find(run_dir, "b")  # started ahead, while stage a ran
    b, nb_b = _stage(run_dir, nb_path, "b", run_env, late["b"], warm_papermill.take(run_env, ("b", "python3",
                                                                                              str(run_dir))))
    # the old path: papermill starts the kernel with the whole environment
    plain, nb_plain = _stage(run_dir, nb_path, "plain", run_env, late["plain"], warm_papermill.take(run_env))

    assert b["pid"] == kernel_b and a["pid"] != b["pid"]
    for name, seen in (("a", a), ("b", b), ("plain", plain)):
        assert seen["env"]["MLP_STAGE"] == name
        for k, v in late[name].items():
            assert seen["env"][k] == v
        own = (*late[name], "MLP_STAGE", "JPY_PARENT_PID")  # (JPY_PARENT_PID: its papermill process's pid)
        assert {k: v for k, v in seen["env"].items() if k not in own} == \
            {k: v for k, v in plain["env"].items() if k not in own}
        assert (seen["seen"], seen["history"]) == (plain["seen"], plain["history"])
    for name, nb in (("a", nb_a), ("b", nb_b), ("plain", nb_plain)):  # the cells, counts and outputs papermill's
        # own kernel gives (the stage's name printed), nothing more
        assert [(s, n) for s, n, _ in _cells(nb)] == [(s, n) for s, n, _ in _cells(nb_plain)]
        assert [n for _, n, _ in _cells(nb)] == [1, 2] and _cells(nb)[0][2] == []
        assert [(o["output_type"], o["text"]) for o in _cells(nb)[1][2]] == [("stream", [f"{name}\n"])]
    assert stage_procs.find(run_dir) == []  # each stage's kernel shut down with it

    # started for stage c but handed stage d (not what its kernel was started for): papermill starts d's own
    other = warm_papermill.take(run_env, ("c", "python3", str(run_dir)))
    kernel_c, = _found(stage_procs, run_dir, "c")
    d, _ = _stage(run_dir, nb_path, "d", run_env, late["c"], other)
    assert d["pid"] != kernel_c and d["env"]["MLP_STAGE"] == "d" and stage_procs.find(run_dir) == []

    # a cancel of the run kills the process started ahead and its kernel
    warm_papermill.ahead(run_env, ("c", "python3", str(run_dir)))
    (_, spare), = warm_papermill._spare
    kernel_c, = _found(stage_procs, run_dir, "c")
    assert stage_procs.kill(run_dir) == 2
    warm_papermill._spare.clear()
    assert spare.wait(30) != 0
    _gone(kernel_c)
    assert stage_procs.find(run_dir) == []


def _found(stage_procs, run_dir, stage: str) -> list[int]:
    """The stage's kernel, once the process started ahead has launched it (an event, not a duration: polled)."""
    import time

    for _ in range(600):
        pids = stage_procs.find(run_dir, stage)
        if pids:
            return pids
        time.sleep(0.05)
    return []


def _gone(pid: int) -> None:
    import os
    import time

    for _ in range(600):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{pid}/stat") as f:  # a zombie until its parent (pid 1 here) reaps it
            if f.read().split(")")[-1].split()[0] == "Z":
                return
        time.sleep(0.05)
    raise AssertionError(f"kernel {pid} still runs")


PREIMPORT_PROBE = [
    # what is loaded and bound before the notebook's own imports run
    ("import sys, json\nloaded = ['numpy' in sys.modules, 'sklearn.linear_model' in sys.modules]\n"
     "seen = sorted(k for k in globals() if not k.startswith('_') and k not in ('In', 'Out', 'get_ipython', 'exit',"
     " 'quit', 'open'))\nhistory = len(In)", []),
    ("import numpy as np\nfrom sklearn.linear_model import LogisticRegression\n"
     "json.dump({'loaded': loaded, 'seen': seen, 'history': history}, open('preimport.probe.json', 'w'))\n"
     "print(np.arange(3).sum())", []),
]


def test_preimports_are_a_notebooks_top_level_scientific_imports_unless_it_touches_what_imports_read(tmp_path):
    from jupyter_mlp_backend.pipelines.warm_papermill import preimports

    def of(cells: list[str]) -> str:
        path = tmp_path / "nb.ipynb"
        path.write_text(json.dumps(_nb([(c, []) for c in cells])))
        return preimports(path)

    assert of(["import numpy as np, json\nfrom sklearn.linear_model import LogisticRegression",
               "import mlflow\nimport torch\nfrom . import local\nimport pandas.api.types",
               "if True:\n    import scipy\n", "%matplotlib inline\nimport pyarrow", "import numpy"]) == \
        "numpy,sklearn.linear_model,pandas.api.types"  # the magic's cell is not Python: its import is not read
    assert of(["import os\nos.environ['OMP_NUM_THREADS'] = '1'", "import numpy"]) == ""
    assert of(["import sys\nsys.path.insert(0, 'vendor')\nimport numpy"]) == ""
    assert of(["import warnings\nwarnings.simplefilter('error')\nimport pandas"]) == ""
    assert of(["print(1)"]) == ""
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert preimports(tmp_path / "broken.ipynb") == ""


def test_a_kernel_started_ahead_has_the_stages_heavy_imports_done_and_nothing_else(tmp_path):
    """The kernel started ahead imports the stage's top-level numpy / scikit-learn modules before the stage is
    handed over (issue 17: the first cell's imports were paid on the stage's path): the notebook finds them loaded,
    and nothing is bound in its namespace or history; the output is papermill's own kernel's. Without preimports
    (the plain ahead path) nothing is loaded."""
    from jupyter_mlp.user_env import user_code_env
    from jupyter_mlp_backend.pipelines import stage_procs, warm_papermill

    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    nb_path = tmp_path / "pre.ipynb"
    nb_path.write_text(json.dumps(_nb(PREIMPORT_PROBE)))
    mods = warm_papermill.preimports(nb_path)
    assert mods == "numpy,sklearn.linear_model"
    run_env = user_code_env({"MLP_STAGE_IO": str(run_dir / "io"), "MLP_PIPELINE_VERSION": "v1"})

    seen = {}
    for name, spec in (("pre", ("pre", "python3", str(run_dir), mods)), ("ahead", ("ahead", "python3", str(run_dir))),
                       ("plain", None)):
        out = run_dir / f"{name}.ipynb"
        code, _, err = warm_papermill.run(warm_papermill.take(run_env, spec), {**run_env, "MLP_STAGE": name},
                                          [str(nb_path), str(out), "-k", "python3", "--cwd", str(run_dir),
                                           "--no-progress-bar", "-y", "{}"])
        assert code == 0, err
        seen[name] = (json.loads((run_dir / "preimport.probe.json").read_text()), json.loads(out.read_text()))
    assert seen["pre"][0]["loaded"] == [True, True]
    assert seen["ahead"][0]["loaded"] == seen["plain"][0]["loaded"] == [False, False]
    for name in ("pre", "ahead"):
        assert {k: v for k, v in seen[name][0].items() if k != "loaded"} == \
            {k: v for k, v in seen["plain"][0].items() if k != "loaded"}
        assert _cells(seen[name][1]) == _cells(seen["plain"][1])
    assert [o["text"] for o in _cells(seen["pre"][1])[1][2]] == [["3\n"]]
    assert stage_procs.find(run_dir) == []


STANDBY_PROBE = [
    ("import numpy as np", []),
    # the kernel's atexit handlers run when the stage ends (MLflow flushes what a stage logged in one): its shutdown
    # is graceful, never a signal
    ("import atexit, os\nstage = os.environ['MLP_STAGE']\n"
     "atexit.register(lambda s=stage: open(s + '.atexit', 'w').write('ran'))\ndel stage", []),
    ("import json, os, sys\n"
     "json.dump({'pid': os.getpid(), 'ppid': os.getppid(), 'env': dict(os.environ), 'cwd': os.getcwd(),"
     " 'dh': [str(p) for p in _dh], 'start': get_ipython().starting_dir, 'path': sys.path, 'history': len(In),"
     " 'seen': sorted(k for k in globals() if not k.startswith('_') and k not in ('In', 'Out', 'get_ipython',"
     " 'exit', 'quit', 'open'))}, open(os.environ['MLP_STAGE'] + '.probe.json', 'w'))\n"
     "with open('written-here.txt', 'w') as f:\n    f.write(os.environ['MLP_STAGE'])", []),
]


def test_a_standby_started_before_its_run_serves_one_stage_as_a_kernel_started_for_it_would(tmp_path):
    """issue 17: the run worker starts standbys before its run is known (warm_papermill.standby). A stage that takes
    one runs in the stage's folder with exactly the stage's variables (nothing of the standby's), as papermill's own
    kernel would; a standby serves one stage; one started before the installed packages changed is never taken; a
    cancel of the run finds a standby a stage took (its `<stage>.standby`) and kills it and its kernel."""
    import threading

    from jupyter_mlp.user_env import user_code_env
    from jupyter_mlp_backend.pipelines import stage_procs, warm_papermill

    nb_path = tmp_path / "standby.ipynb"
    nb_path.write_text(json.dumps(_nb(STANDBY_PROBE)))
    mods = "numpy"  # (given: the probe reads os.environ, so preimports() would import nothing ahead for it)
    warm_papermill.standby([("python3", mods)] * 3, 2, threading.Event())  # at most 2 (the limit)
    assert len(warm_papermill._standby) == 2
    standbys = {proc.pid for _, proc, _ in warm_papermill._standby}

    def stage(run_dir, name: str, proc) -> tuple[dict, dict]:
        run_env = user_code_env({"MLP_STAGE_IO": str(run_dir / "io"), "MLP_PIPELINE_VERSION": "v1"})
        out = run_dir / f"{name}.ipynb"
        code, _, err = warm_papermill.run(proc, {**run_env, "MLP_STAGE": name, "MLFLOW_RUN_ID": f"run-{name}"},
                                          [str(nb_path), str(out), "-k", "python3", "--cwd", str(run_dir),
                                           "--no-progress-bar", "-y", "{}"])
        assert code == 0, err
        return json.loads((run_dir / f"{name}.probe.json").read_text()), json.loads(out.read_text())

    runs = [tmp_path / f"r{i}" for i in range(3)]
    for r in runs:
        r.mkdir()
    envs = [user_code_env({"MLP_STAGE_IO": str(r / "io"), "MLP_PIPELINE_VERSION": "v1"}) for r in runs]
    taken = warm_papermill.take(envs[0], ("a", "python3", str(runs[0]), mods))
    assert taken.pid in standbys and (runs[0] / "a.standby").read_text() == taken.mlp_standby
    assert len(stage_procs.find(runs[0], "a")) == 2  # the standby and its kernel, by the token the stage recorded
    a, nb_a = stage(runs[0], "a", taken)
    plain, nb_plain = stage(runs[1], "plain", warm_papermill.take(envs[1]))  # papermill starts its own kernel
    assert a["ppid"] == taken.pid
    assert (runs[0] / "written-here.txt").read_text() == "a"  # the notebook's relative paths: the stage's folder
    assert (a["cwd"], a["dh"], a["start"]) == (str(runs[0]), [str(runs[0])], str(runs[0]))
    assert (plain["cwd"], plain["dh"], plain["start"]) == (str(runs[1]), [str(runs[1])], str(runs[1]))
    own = ("MLP_STAGE", "MLFLOW_RUN_ID", "MLP_STAGE_IO", "JPY_PARENT_PID")
    assert {k: v for k, v in a["env"].items() if k not in own} == \
        {k: v for k, v in plain["env"].items() if k not in own}  # MLP_STANDBY gone: nothing of the standby's
    assert (a["env"]["MLP_STAGE"], a["env"]["MLFLOW_RUN_ID"], a["env"]["MLP_STAGE_IO"]) == \
        ("a", "run-a", str(runs[0] / "io"))
    assert (a["path"], a["history"], a["seen"]) == (plain["path"], plain["history"], plain["seen"])
    assert [(s, n, o) for s, n, o in _cells(nb_a)] == [(s, n, o) for s, n, o in _cells(nb_plain)]
    assert stage_procs.find(runs[0]) == []
    assert (runs[0] / "a.atexit").read_text() == (runs[1] / "plain.atexit").read_text() == "ran"

    # the packages changed since the last standby started: the stage gets a process of its own instead
    (_, left, token), = warm_papermill._standby
    real = warm_papermill.stamp
    try:
        warm_papermill.stamp = lambda: (("site-packages", 1),)
        fresh = warm_papermill.take(envs[2], ("b", "python3", str(runs[2]), mods))
    finally:
        warm_papermill.stamp = real
    assert not hasattr(fresh, "mlp_standby") and len(warm_papermill._standby) == 1
    warm_papermill.discard(fresh)
    assert fresh.wait(30) == 0

    # a cancel of the run kills the standby its stage took, and that standby's kernel
    again = warm_papermill.take(envs[2], ("c", "python3", str(runs[2]), mods))
    assert again is left and warm_papermill._standby == []
    kernel = next(pid for pid in _found(stage_procs, runs[2], "c") if pid != left.pid)
    assert stage_procs.kill(runs[2]) == 2
    assert left.wait(30) != 0
    _gone(kernel)
    assert stage_procs.find(runs[2]) == []
