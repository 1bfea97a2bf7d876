"""The Dagster run launcher is a setting: `dagster_run_launcher` (`module.Class`) and its `config:` block are written
into the managed Dagster's dagster.yaml, and Dagster's own instance, loaded from that file, reports that launcher."""

from __future__ import annotations

import textwrap

import pytest
from dagster import DagsterInstance
from dagster._core.launcher import DefaultRunLauncher

from jupyter_mlp.settings import Settings, load_settings
from jupyter_mlp_backend.pipelines.dagster_service import DagsterUnavailable, check_run_launcher, dagster_yaml

# What a team ships beside the backend: a launcher with its own config (here, a default launcher that says which
# queue it serves).
TEAM_LAUNCHER = textwrap.dedent('''
    from dagster import Field, String
    from dagster._core.launcher import DefaultRunLauncher


    class QueueLauncher(DefaultRunLauncher):
        def __init__(self, queue, inst_data=None):
            super().__init__(inst_data=inst_data)
            self.queue = queue

        @classmethod
        def config_type(cls):
            return {"queue": Field(String)}

        @classmethod
        def from_config_value(cls, inst_data, config_value):
            return cls(config_value["queue"], inst_data=inst_data)
''')


def _instance(settings: Settings, folder) -> DagsterInstance:  # noqa: ANN001
    check_run_launcher(settings)
    folder.mkdir(exist_ok=True)
    (folder / "dagster.yaml").write_text(dagster_yaml(settings))
    return DagsterInstance.from_config(str(folder))


def test_the_default_launcher_hands_runs_to_workers_started_ahead(mlp_home, tmp_path):
    """issue 17: the default is the platform's WarmRunLauncher (a run worker started ahead with Dagster imported);
    Dagster's own DefaultRunLauncher stays one setting away."""
    from jupyter_mlp_backend.pipelines.warm_run_worker import WarmRunLauncher

    instance = _instance(Settings(home=mlp_home), tmp_path / "dagster")
    assert type(instance.run_launcher) is WarmRunLauncher
    assert ("run_launcher:\n  module: jupyter_mlp_backend.pipelines.warm_run_worker\n  class: WarmRunLauncher\n"
            in dagster_yaml(Settings(home=mlp_home)))
    dagsters = _instance(Settings(home=mlp_home, dagster_run_launcher="dagster._core.launcher.DefaultRunLauncher"),
                         tmp_path / "dagster2")
    assert type(dagsters.run_launcher) is DefaultRunLauncher


def test_a_run_cancelled_before_its_worker_started_it_is_recorded_cancelled(tmp_path):
    """`terminate` interrupts the run's worker; one still importing or waiting for its run records the run
    CANCELED instead of dying with it STARTING (or running it)."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from dagster import DagsterInstance
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import serialize_value

    from jupyter_mlp_backend.pipelines.warm_run_worker import CHILD

    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        run = instance.add_run(DagsterRun(job_name="never", status=DagsterRunStatus.STARTING))
        origin = JobPythonOrigin("never", RepositoryPythonOrigin(sys.executable, ModuleCodePointer(
            "no_such_location_module", "defs", None)))  # had it run, the run would FAIL on this import
        worker = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, text=True)
        status = Path(f"/proc/{worker.pid}/status")
        deadline = time.monotonic() + 60  # until its SIGINT is blocked (the worker's first line)
        while time.monotonic() < deadline and not any(
                line.startswith("SigBlk:") and int(line.split()[1], 16) & (1 << (signal.SIGINT - 1))
                for line in status.read_text().splitlines()):
            time.sleep(0.02)
        worker.send_signal(signal.SIGINT)  # the launcher's terminate
        worker.communicate(serialize_value(ExecuteRunArgs(job_origin=origin, run_id=run.run_id,
                                                          instance_ref=instance.get_ref())) + "\n", timeout=120)
        assert worker.returncode == 0
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED


def test_a_team_launcher_with_its_config_is_the_one_dagster_reports(mlp_home, tmp_path, monkeypatch):
    (tmp_path / "team_launchers.py").write_text(TEAM_LAUNCHER)
    monkeypatch.syspath_prepend(str(tmp_path))
    # as a platform admin sets it: environment variables, the config as JSON
    monkeypatch.setenv("MLP_DAGSTER_RUN_LAUNCHER", "team_launchers.QueueLauncher")
    monkeypatch.setenv("MLP_DAGSTER_RUN_LAUNCHER_CONFIG", '{"queue": "gpu-a"}')
    instance = _instance(load_settings(), tmp_path / "dagster")
    launcher = instance.run_launcher
    assert type(launcher).__module__ == "team_launchers" and type(launcher).__name__ == "QueueLauncher"
    assert launcher.queue == "gpu-a"
    assert launcher.inst_data.config_dict == {"queue": "gpu-a"}


def test_a_launcher_that_is_not_installed_is_named(mlp_home):
    with pytest.raises(DagsterUnavailable, match="dagster_run_launcher nowhere_pkg.Launcher: module 'nowhere_pkg'"):
        check_run_launcher(Settings(home=mlp_home, dagster_run_launcher="nowhere_pkg.Launcher"))
    with pytest.raises(ValueError, match="dagster_run_launcher"):
        Settings(home=mlp_home, dagster_run_launcher="QueueLauncher")  # a class needs its module


def test_the_managed_dagster_runs_with_the_configured_launcher(mlp_home, tmp_path, monkeypatch):
    """The webserver the backend starts (and so every run it launches) uses the setting's launcher: Dagster's own
    GraphQL says which, with its config."""
    import asyncio

    from jupyter_mlp_backend.pipelines.dagster_service import DagsterService

    (tmp_path / "team_launchers.py").write_text(TEAM_LAUNCHER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # installed beside the backend: Dagster's processes import it
    monkeypatch.syspath_prepend(str(tmp_path))
    service = DagsterService(Settings(home=mlp_home, dagster_run_launcher="team_launchers.QueueLauncher",
                                      dagster_run_launcher_config={"queue": "gpu-a"}))

    async def ask() -> dict:
        try:
            await service.ready()
            return await service.graphql("{ instance { runLauncher { name } info } }")
        finally:
            await service.stop()

    instance = asyncio.run(ask())["instance"]
    assert instance["runLauncher"]["name"] == "QueueLauncher"
    assert "team_launchers" in instance["info"] and "gpu-a" in instance["info"], instance["info"]


def test_checking_the_launcher_does_not_import_dagster_into_the_backend():
    """The backend speaks to Dagster over GraphQL only: looking for the launcher's package must not import Dagster
    (3-4 s and its memory in the backend's process, for every team)."""
    import subprocess
    import sys

    code = ("import sys\nfrom jupyter_mlp.settings import Settings\n"
            "from jupyter_mlp_backend.pipelines.dagster_service import check_run_launcher\n"
            "check_run_launcher(Settings())\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout[:500]
