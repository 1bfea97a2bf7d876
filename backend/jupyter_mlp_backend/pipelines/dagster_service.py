"""Dagster as the backend's managed child: a webserver over the generated code location, driven by GraphQL.

Embedded default: `dagster-webserver` on a loopback port with `DAGSTER_HOME=$MLP_HOME/dagster` (SQLite storage, or
PostgreSQL's with `dagster_postgres_url`; runs launched at once by the default coordinator through the
`dagster_run_launcher` setting's launcher, the platform's warm_run_worker.WarmRunLauncher unless a team names
another; telemetry
off). A team deployment names an existing Dagster instead (`MLP_DAGSTER_URL`) whose workspace loads
`jupyter_mlp_backend.pipelines.dagster_location`. Started on first use, like MLflow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from jupyter_mlp.settings import Settings

from ..children import child_options

log = logging.getLogger(__name__)

LOCATION = "jupyter_mlp"
REPOSITORY = "__repository__"

DAGSTER_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""

# `dagster_postgres_url`: runs, event logs and schedules in PostgreSQL (dagster-postgres). The URL reaches Dagster's
# processes (webserver, daemon, the run workers they start) through this variable, so no password is written to disk.
PG_URL_ENV = "JUPYTER_MLP_DAGSTER_PG_URL"
POSTGRES_STORAGE_YAML = f"""\
storage:
  postgres:
    postgres_url:
      env: {PG_URL_ENV}
"""


def run_launcher_yaml(settings: Settings) -> str:
    """The `run_launcher:` part of dagster.yaml: `dagster_run_launcher` (`module.Class`) with
    `dagster_run_launcher_config` as its `config:` (Dagster checks it against the class's schema on load)."""
    import yaml

    module, _, cls = settings.dagster_run_launcher.rpartition(".")
    block: dict[str, Any] = {"module": module, "class": cls}
    if settings.dagster_run_launcher_config:
        block["config"] = settings.dagster_run_launcher_config
    return yaml.safe_dump({"run_launcher": block}, sort_keys=False)


def check_run_launcher(settings: Settings) -> None:
    """A launcher whose package is not installed beside the backend is named before Dagster fails on it. Only the
    top-level package is looked up: finding a submodule would import its parents (all of Dagster) into the backend."""
    import importlib.util

    module = settings.dagster_run_launcher.rpartition(".")[0]
    if importlib.util.find_spec(module.split(".")[0]) is None:
        raise DagsterUnavailable(f"dagster_run_launcher {settings.dagster_run_launcher}: module '{module}' is not "
                                 "installed beside the backend")


def dagster_yaml(settings: Settings) -> str:
    """The managed Dagster's instance config: SQLite under DAGSTER_HOME, or PostgreSQL storage when set; the run
    launcher setting."""
    return DAGSTER_YAML + (POSTGRES_STORAGE_YAML if settings.dagster_postgres_url else "") + run_launcher_yaml(settings)


def dagster_env(settings: Settings, home: Path) -> dict[str, str]:
    """The environment of Dagster's processes: the webserver and the daemon share one instance (DAGSTER_HOME)."""
    env = {**os.environ, "DAGSTER_HOME": str(home), "MLP_HOME": str(settings.home)}
    env.pop(PG_URL_ENV, None)
    if settings.dagster_postgres_url:
        from sqlalchemy.engine import make_url

        # dagster-postgres is written for psycopg2 (its dependency); SQLAlchemy 2.1's default PostgreSQL driver is
        # psycopg 3, on which Dagster's launches fail ("the connection is closed"): name psycopg2 explicitly
        url = make_url(settings.dagster_postgres_url)
        if url.get_backend_name() != "postgresql":
            raise DagsterUnavailable(f"dagster_postgres_url must be a PostgreSQL URL, not {url.get_backend_name()}")
        env[PG_URL_ENV] = url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return env


WORKSPACE_YAML = f"""\
load_from:
  - python_module:
      module_name: jupyter_mlp_backend.pipelines.dagster_location
      location_name: {LOCATION}
"""


def job_name(project: str, pipeline: str, version: str) -> str:
    """The Dagster job of one pipeline version (Dagster names allow letters, digits and underscores)."""
    return f"{project}__{pipeline}__{version[:12]}".replace("-", "_")


class DagsterUnavailable(RuntimeError):
    pass


STATUS_TIMEOUT = 15.0  # seconds a poll of a run waits for Dagster before answering the status it last recorded


def recommender_cron(settings: Settings) -> str:
    """When the recommender's encoder is retrained: its cron while suggestions rank with the encoder
    (`recommender_method = "encoder"`), else "" (no schedule, and no daemon kept for it)."""
    return settings.recommender_retrain_cron if settings.recommender_method == "encoder" else ""


class DagsterService:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = settings.home / "dagster"
        self._proc: subprocess.Popen | None = None
        self._url: str | None = settings.dagster_url.rstrip("/") if settings.dagster_url else None
        self._lock = asyncio.Lock()
        self._ready = False
        self._loaded: str | None = None  # the index content Dagster last loaded
        self._starting_index: str | None = None  # the index content when this backend started the webserver
        self.backend_url: str | None = settings.public_url  # where schedule ticks reach the backend
        self._daemon: subprocess.Popen | None = None
        self._daemon_index: str | None = None  # the index the running daemon loaded

    @property
    def started(self) -> bool:
        """Whether this backend has reached Dagster yet (started it, or found MLP_DAGSTER_URL's answering)."""
        return self._ready

    @property
    def index(self) -> Path:
        return self.home / "pipelines.json"

    def write_index(self, entries: dict[str, list[dict[str, Any]]]) -> None:
        """Record which versions and schedules the code location defines (the backend's database is the source)."""
        self.home.mkdir(parents=True, exist_ok=True)
        index = {"backend_url": self.backend_url,
                 "versions": sorted(entries.get("versions", []),
                                    key=lambda e: (e["project"], e["pipeline"], e["version"])),
                 "schedules": sorted(entries.get("schedules", []), key=lambda e: e["id"]),
                 # The monitors' sensor, when any monitor is enabled and the interval is not 0 (0: on demand only)
                 "monitors": entries.get("monitors", 0) if self.settings.monitor_interval_seconds else 0,
                 "monitor_interval": self.settings.monitor_interval_seconds,
                 # the recommender's retraining schedule (dagster_location): only while the encoder ranks
                 "recommender_cron": recommender_cron(self.settings)}
        text = json.dumps(index, indent=1)
        if self.index.exists() and self.index.read_text() == text:
            return
        tmp = self.index.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.index)

    def _start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        check_run_launcher(self.settings)
        (self.home / "dagster.yaml").write_text(dagster_yaml(self.settings))
        (self.home / "workspace.yaml").write_text(WORKSPACE_YAML)
        if not self.index.exists():
            self.write_index({})
        self._starting_index = self.index.read_text()  # what the webserver's code location is about to load
        for name in ("dagster.pid", "dagster-daemon.pid"):
            try:  # a webserver or daemon left by a backend that died
                os.killpg(int((self.settings.run_dir / name).read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        pidfile = self.settings.run_dir / "dagster.pid"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dagster_env(self.settings, self.home)
        log = open(self.settings.run_dir / "dagster.log", "ab")
        self._proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
             "-w", str(self.home / "workspace.yaml")],
            cwd=self.home, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            **child_options())
        log.close()
        pidfile.write_text(str(self._proc.pid))
        self._url = f"http://127.0.0.1:{port}"

    async def ready(self, timeout: float = 180.0) -> str:
        async with self._lock:
            if self._ready:
                return self._url
            if self._url is None:
                self._start()
            deadline = time.monotonic() + timeout
            async with httpx.AsyncClient(timeout=2.0) as client:
                while time.monotonic() < deadline:
                    if self._proc is not None and self._proc.poll() is not None:
                        raise DagsterUnavailable(f"Dagster exited with code {self._proc.returncode}; see "
                                                 f"{self.settings.run_dir / 'dagster.log'}")
                    try:
                        if (await client.get(f"{self._url}/server_info")).status_code == 200:
                            self._ready = True
                            # The code location loaded the index as it was at the start (or a later one): no
                            # reload for that content, which cost the first run 8 s before its first stage.
                            self._loaded = self._loaded or self._starting_index
                            return self._url
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.3)
            raise DagsterUnavailable(f"Dagster did not answer within {timeout:.0f} s")

    async def graphql(self, query: str, variables: dict[str, Any] | None = None,
                      timeout: float = 120.0) -> dict[str, Any]:
        """Dagster's answer; DagsterUnavailable when it cannot be had (not reachable, too slow, not GraphQL's JSON,
        or GraphQL's errors), so callers have one thing to handle."""
        url = await self.ready()
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0))) as client:
                r = await client.post(f"{url}/graphql", json={"query": query, "variables": variables or {}})
            body = r.json()
        except httpx.TimeoutException as e:
            raise DagsterUnavailable(f"Dagster did not answer within {timeout:.0f} s ({type(e).__name__})") from e
        except httpx.HTTPError as e:
            raise DagsterUnavailable(f"Dagster is not reachable: {type(e).__name__}: {e}") from e
        except ValueError as e:  # not JSON: a proxy's or a crashed server's page
            raise DagsterUnavailable(f"Dagster answered {r.status_code} without GraphQL's JSON: {r.text[:200]!r}") from e
        if not isinstance(body, dict):
            raise DagsterUnavailable(f"Dagster answered {r.status_code} with unexpected JSON: {str(body)[:200]}")
        if r.status_code != 200 or body.get("errors"):
            raise DagsterUnavailable(f"Dagster GraphQL error: {json.dumps(body.get('errors') or body)[:500]}")
        return body["data"]

    async def reload(self) -> None:
        """Make Dagster load the code location again if the index changed since it last did."""
        current = self.index.read_text() if self.index.exists() else ""
        if current == self._loaded:
            return
        data = await self.graphql(RELOAD, {"name": LOCATION})
        result = data["reloadRepositoryLocation"]
        if result.get("__typename") != "WorkspaceLocationEntry":
            raise DagsterUnavailable(f"Dagster could not reload the pipelines: {result.get('message', result)}")
        status = (result.get("locationOrLoadError") or {})
        if status.get("__typename") == "PythonError":
            raise DagsterUnavailable(f"The generated code location does not load: {status.get('message')}")
        self._loaded = current

    async def launch(self, job: str, run_config: dict[str, Any], tags: dict[str, str]) -> str:
        data = await self.graphql(LAUNCH, {"params": {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
            "runConfigData": run_config,
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }})
        result = data["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise DagsterUnavailable(f"Dagster refused the run: {result.get('message', result['__typename'])}")
        return result["run"]["runId"]

    async def run(self, run_id: str) -> dict[str, Any] | None:
        """A run's status and steps. Asked on every poll of a run: a Dagster slower than STATUS_TIMEOUT is
        DagsterUnavailable, and the poll answers the last status it knows instead of outlasting its client."""
        data = await self.graphql(RUN, {"runId": run_id}, timeout=STATUS_TIMEOUT)
        r = data["runOrError"]
        return r if r.get("__typename") == "Run" else None

    async def run_by_tag(self, key: str, value: str) -> str | None:
        data = await self.graphql(RUNS_BY_TAG, {"filter": {"tags": [{"key": key, "value": value}]}})
        runs = (data["runsOrError"] or {}).get("results") or []
        return runs[0]["runId"] if runs else None

    async def terminate(self, run_id: str) -> None:
        """Ask Dagster to stop a run. Its answer is logged, not raised: the caller kills the run's stage processes
        itself, as Dagster's interrupt does not always reach the run worker (and then the run stays CANCELING
        until its stage ends)."""
        result = (await self.graphql(TERMINATE, {"runId": run_id}))["terminateRun"] or {}
        if result.get("__typename") != "TerminateRunSuccess":
            log.warning("Dagster did not stop run %s: %s: %s", run_id, result.get("__typename"), result.get("message"))

    def _schedules_in_index(self) -> bool:
        try:
            index = json.loads(self.index.read_text())
            return bool(index.get("schedules") or index.get("monitors") or index.get("recommender_cron"))
        except (OSError, ValueError, AttributeError):
            return False

    async def sync_daemon(self) -> None:
        """Run `dagster-daemon` (it ticks schedules and the monitors' sensor) while any schedule or enabled monitor
        exists, on the index it last loaded.

        The daemon loads the code location once; when schedules change it is restarted, so a tick never runs
        against a schedule that was deleted or misses one that was added. An external Dagster runs its own.
        """
        if self.settings.dagster_url:
            return
        current = self.index.read_text() if self.index.exists() else ""
        wanted = self._schedules_in_index()
        running = self._daemon is not None and self._daemon.poll() is None
        if running and (not wanted or current != self._daemon_index):
            await _stop_group(self._daemon)
            self._daemon = None
            running = False
        if wanted and not running:
            await self.ready()
            env = dagster_env(self.settings, self.home)
            log = open(self.settings.run_dir / "dagster-daemon.log", "ab")
            self._daemon = subprocess.Popen(
                [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(self.home / "workspace.yaml")],
                cwd=self.home, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                **child_options())
            log.close()
            (self.settings.run_dir / "dagster-daemon.pid").write_text(str(self._daemon.pid))
            self._daemon_index = current

    @property
    def daemon_running(self) -> bool:
        return self._daemon is not None and self._daemon.poll() is None

    async def stop(self) -> None:
        for proc in (self._daemon, self._proc):
            await _stop_group(proc)


async def _stop_group(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if proc.poll() is not None:
            return
        await asyncio.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


RELOAD = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry { locationOrLoadError { __typename ... on PythonError { message } } }
    ... on PythonError { message }
    ... on RepositoryLocationNotFound { message }
  }
}"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
  }
}"""

RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId status startTime endTime
      stepStats { stepKey status startTime endTime }
    }
  }
}"""

RUNS_BY_TAG = """
query Runs($filter: RunsFilter!) {
  runsOrError(filter: $filter, limit: 1) { __typename ... on Runs { results { runId status } } }
}"""

TERMINATE = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) { __typename ... on TerminateRunFailure { message } ... on PythonError { message } }
}
"""
