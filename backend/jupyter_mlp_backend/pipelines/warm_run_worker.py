"""Dagster run workers started ahead, with Dagster imported (issue 17): the managed Dagster's default run launcher.

Dagster's DefaultRunLauncher asks the code server to start a run: the code server spawns a fresh interpreter that
imports Dagster and the code location, and GraphQL's `launchRun` answers only once that process has started the run
(5-12 s of every run under load, before its first stage could begin). `WarmRunLauncher` keeps one run worker
process started ahead, Dagster's execution machinery and the stage runner already imported, waiting on its stdin;
`launch_run` hands it the run (Dagster's own `ExecuteRunArgs`, one line) and answers at once; the next one is started
when that run's worker exits (not beside the run, whose kernel and cells would share the CPUs with its imports).
The worker then does exactly what `dagster api execute_run` does (the same function): loads the code location
from the run's origin — imported only now, so a version promoted while it waited is there — and executes the run
in this process (the jobs use the in-process executor: one run worker per run, each stage its own papermill
process as before). Events, steps and the run's status go to Dagster's instance as with any launcher, so the run
is in Dagster's UI and the platform's panels as before.

Cancelling: `terminate` marks the run CANCELING and interrupts its worker (SIGINT, as Dagster's termination thread
does in the code server's run process); the backend kills the stage's processes itself, as before.

Started by the launcher (in Dagster's webserver or daemon) as `python -c CHILD`. A worker whose stdin closes
without a run (its webserver or daemon went away) exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

from dagster._core.launcher.base import LaunchRunContext, RunLauncher
from dagster._serdes import ConfigurableClass, serialize_value
from dagster._serdes.config_class import ConfigurableClassData

WORKER_TAG = "mlp/run_worker"  # "ahead" (handed to a worker started ahead) or "cold" (none was ready)
PID_TAG = "mlp/run_worker_pid"
MODULE = "jupyter_mlp_backend.pipelines.warm_run_worker"
# The worker's command: SIGINT blocked first, so that a cancel arriving while it imports or waits (`terminate`) stays
# pending and the run is recorded as cancelled instead of run (an interrupt there would end the process and leave
# the run STARTING for good); unblocked before the run executes, so the stage processes it starts inherit no mask.
CHILD = f"""\
import signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGINT}})
from {MODULE} import main
sys.exit(main())
"""


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    """Hands each run to a run worker process started ahead (see the module's docstring)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None):
        self._inst_data = inst_data
        self._lock = threading.Lock()
        self._ready: subprocess.Popen | None = None  # the worker waiting for the next run
        self._workers: dict[str, subprocess.Popen] = {}  # run id -> its worker (reaped on each launch)
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> WarmRunLauncher:
        return cls(inst_data=inst_data)

    @staticmethod
    def _start() -> subprocess.Popen:
        # stdout/stderr: Dagster's own log (the webserver's or daemon's); the same process group, so stopping
        # Dagster stops its workers, as it stopped the code server's run processes. The webserver's workers (the
        # runs people launch and wait for) start standby stage processes while they wait (warm_papermill); the
        # daemon's (schedules, sensors) do not, so that one instance never keeps two sets of idle kernels.
        standby = ["standby"] if "dagster_webserver" in sys.modules else []
        return subprocess.Popen([sys.executable, "-c", CHILD, *standby], stdin=subprocess.PIPE, text=True,
                                close_fds=True)

    def _take(self) -> tuple[subprocess.Popen, str]:
        with self._lock:
            for run_id, proc in list(self._workers.items()):  # reap the workers whose runs ended
                if proc.poll() is not None:
                    del self._workers[run_id]
            proc, self._ready = self._ready, None
        if proc is not None and proc.poll() is None:
            return proc, "ahead"
        return self._start(), "cold"

    def launch_run(self, context: LaunchRunContext) -> None:
        from dagster._grpc.types import ExecuteRunArgs

        run = context.dagster_run
        if run.job_code_origin is None:
            raise RuntimeError(f"Run {run.run_id} has no code origin to load its job from")
        args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id,
                              instance_ref=self._instance.get_ref())
        proc, how = self._take()
        self._instance.add_run_tags(run.run_id, {WORKER_TAG: how, PID_TAG: str(proc.pid)})
        try:
            proc.stdin.write(serialize_value(args) + "\n")
            proc.stdin.close()
        except OSError as e:  # the worker died while it waited: start this run in a fresh one
            proc = self._start()
            self._instance.add_run_tags(run.run_id, {WORKER_TAG: "cold", PID_TAG: str(proc.pid)})
            proc.stdin.write(serialize_value(args) + "\n")
            proc.stdin.close()
            self._instance.report_engine_event(f"Run worker started ahead was gone ({e}); started a new one",
                                               run, cls=self.__class__)
        with self._lock:
            self._workers[run.run_id] = proc
        threading.Thread(target=self._start_next_after, args=(proc,), name="mlp-run-worker-ahead",
                         daemon=True).start()

    def _start_next_after(self, proc: subprocess.Popen) -> None:
        """The next run's worker is started when this run's worker exits, not beside it: its imports (several
        seconds of CPU) would otherwise compete with the run's own kernel start and cells on a small machine. At
        most one waits; a run launched while none is ready starts in a fresh one (`cold`)."""
        proc.wait()
        with self._lock:
            if self._ready is None or self._ready.poll() is not None:
                self._ready = self._start()

    def _worker_pid(self, run_id: str) -> int | None:
        proc = self._workers.get(run_id)
        if proc is not None:
            return proc.pid if proc.poll() is None else None
        run = self._instance.get_run_by_id(run_id)
        try:  # launched by another process of this instance (the webserver's run, cancelled from the daemon...)
            pid = int(run.tags[PID_TAG])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return pid if MODULE.encode() in f.read() else None
        except (KeyError, TypeError, ValueError, OSError):
            return None

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if not run or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        pid = self._worker_pid(run_id)
        if pid is None:
            self._instance.report_engine_event("The run's worker process was not found to interrupt", run,
                                               cls=self.__class__)
            return False
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        with self._lock:
            proc, self._ready = self._ready, None
        if proc is not None and proc.poll() is None:
            proc.stdin.close()  # it exits without a run


def main() -> int:
    # What is paid ahead: Dagster's execution and CLI machinery, the stage runner and what it imports during the
    # run (httpx for the child run's REST calls; MLflow's client and artifact modules, otherwise imported in a
    # thread while the stage's kernel runs, on the same CPUs). papermill is imported by each stage's own process,
    # started ahead by the stage runner. Not the code location: it reads the index of versions when imported, so it
    # is loaded with the run.
    import importlib

    from dagster._cli.api import execute_run_command
    from dagster._core.execution import api  # noqa: F401
    from dagster._core.instance import DagsterInstance  # noqa: F401

    from . import dagster_service, stage_runner  # noqa: F401

    for name in ("httpx", "mlflow", "mlflow.store.tracking.rest_store", "mlflow.store.artifact.mlflow_artifacts_repo"):
        importlib.import_module(name)

    arrived = threading.Event()
    if "standby" in sys.argv[1:]:
        _start_standbys(arrived)
    line = sys.stdin.readline().strip()
    arrived.set()
    if not line:
        return 0
    if signal.SIGINT in signal.sigpending():  # cancelled before it started (see CHILD)
        return _cancelled(line)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # Dagster's capture_interrupts takes it from here
    try:
        execute_run_command.callback(input_json=line, compressed_input_json=None)
    finally:  # the run is recorded; leave at once (the launcher starts the next worker when this one exits)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _start_standbys(stop: threading.Event) -> None:
    """The stage processes of the pipeline last run, started while this worker waits (warm_papermill.standby),
    at most `pipeline_standby_kernels` (0: none). They end with this worker (their stdin closes), taken or not."""
    from jupyter_mlp.settings import load_settings

    from . import warm_papermill

    try:
        limit = load_settings().pipeline_standby_kernels
    except Exception:  # settings this worker cannot read: the run still runs, with no standby
        return
    specs = warm_papermill.read_hint(os.environ.get("DAGSTER_HOME"))
    if specs and limit:
        threading.Thread(target=warm_papermill.standby, args=(specs, limit, stop), name="mlp-standby",
                         daemon=True).start()


def _cancelled(line: str) -> int:
    from dagster._core.instance import DagsterInstance
    from dagster._grpc.types import ExecuteRunArgs
    from dagster._serdes import deserialize_value

    args = deserialize_value(line, ExecuteRunArgs)
    with DagsterInstance.from_ref(args.instance_ref) as instance:
        run = instance.get_run_by_id(args.run_id)
        if run is not None and not run.is_finished:
            instance.report_run_canceled(run, message="Run cancelled before its run worker started it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
