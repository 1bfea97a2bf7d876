"""Run one stage notebook with papermill, inside a Dagster asset, recording it as an MLflow child run.

Imported only by Dagster's processes (code server, run worker), never by the backend's request path.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_mlp.user_env import STAGE, user_code_env

from . import stage_procs, warm_papermill


@dataclass
class StageResult:
    output_notebook: Path
    mlflow_run_id: str | None


class StageFailed(Exception):
    """A stage raised: which cell, and the traceback, in words."""

    def __init__(self, stage: str, cell: int | None, ename: str, evalue: str, tb: str):
        self.stage, self.cell, self.ename, self.evalue, self.tb = stage, cell, ename, evalue, tb
        where = f" in cell {cell}" if cell is not None else ""
        super().__init__(f"stage '{stage}' failed{where}: {ename}: {evalue}")


@contextmanager
def _environ(values: dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _child_run(cfg: dict[str, Any], stage: str, version_dir: Path) -> str | None:
    """An MLflow child run of the pipeline run for this stage, through the project's gateway.

    MLflow's REST API as MlflowClient.create_run and log_batch call it (user "unknown", the gateway records who),
    without importing MLflow first: that import (2 s, more under load) was on the way to every run's first cell.
    MLflow is imported meanwhile, while the stage runs, for _finish (the artifact upload)."""
    if not cfg.get("tracking_uri") or not cfg.get("parent_run_id"):
        return None
    import time

    from jupyter_mlp.digest import file_digest

    version = version_dir.name
    env_hash = file_digest(version_dir / "environment.txt")
    tags = {
        "mlflow.parentRunId": cfg["parent_run_id"],
        "mlp.pipeline.version": version,
        "mlp.pipeline.stage": stage,
        "mlp.pipeline.parameters": json.dumps(cfg.get("parameters", {}), sort_keys=True)[:5000],
        "mlp.datasets.pinned": json.dumps(cfg.get("snapshots", {}), sort_keys=True)[:5000],
        "mlp.env.freeze_sha256": env_hash,
        "mlp.pipeline.executor": cfg.get("executor", "subprocess"),
    }
    run = _mlflow_post(cfg, "runs/create", {
        "experiment_id": cfg["experiment_id"], "user_id": "unknown", "start_time": int(time.time() * 1000),
        "run_name": stage, "tags": [{"key": k, "value": v} for k, v in tags.items()]})
    run_id = run["run"]["info"]["run_id"]
    effective = {**_defaults(version_dir), **cfg.get("parameters", {})}
    params = [{"key": k, "value": str(v)} for k, v in effective.items()]
    for i in range(0, len(params), 100):  # every parameter the stage ran with, the cell's defaults included
        _mlflow_post(cfg, "runs/log-batch", {"run_id": run_id, "params": params[i:i + 100]})  # (100: MLflow's cap)
    _import_mlflow_meanwhile()
    return run_id


_http = None  # httpx.Client, made on first use (the run worker imports this module before any stage runs)


def _mlflow_post(cfg: dict[str, Any], path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to MLflow's REST API through the gateway as the stage's user; retried on connection errors, 429 and 5xx
    as MlflowClient retries them."""
    import time

    import httpx

    global _http
    if _http is None:  # one client for the run's stages: its connection is kept, as MlflowClient's session keeps it
        _http = httpx.Client(timeout=120)
    url = f"{cfg['tracking_uri'].rstrip('/')}/api/2.0/mlflow/{path}"
    for attempt in range(5):
        try:
            r = _http.post(url, json=body, headers={"Authorization": f"Bearer {cfg['token']}"})
        except httpx.TransportError:
            if attempt == 4:
                raise
        else:
            if r.status_code == 200:
                return r.json()
            if r.status_code != 429 and r.status_code < 500 or attempt == 4:
                raise RuntimeError(f"MLflow refused {path} ({r.status_code}): {r.text[:500]}")
        time.sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")


def _import_mlflow_meanwhile() -> None:
    """Import MLflow in a thread while the stage's papermill runs (this process only waits for it then); _finish
    needs it afterwards, and its import then waits only for what is left of this one."""
    import importlib
    import threading

    def imports() -> None:  # MLflow, and what MlflowClient's log_artifact and set_terminated import on first use
        for name in ("mlflow", "mlflow.store.tracking.rest_store", "mlflow.store.artifact.mlflow_artifacts_repo"):
            importlib.import_module(name)

    threading.Thread(target=imports, name="import-mlflow", daemon=True).start()


def _defaults(version_dir: Path) -> dict[str, Any]:
    """The parameters cell's default values (literals; anything else as its source text)."""
    import ast

    out: dict[str, Any] = {}
    for p in json.loads((version_dir / "pipeline.json").read_text()).get("parameters", []):
        try:
            out[p["name"]] = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            out[p["name"]] = p["default"]
    return out


def _finish(cfg: dict[str, Any], run_id: str | None, output: Path, ok: bool) -> None:
    if run_id is None:
        return
    from mlflow import MlflowClient

    with _environ({"MLFLOW_TRACKING_TOKEN": cfg["token"]}):
        client = MlflowClient(tracking_uri=cfg["tracking_uri"])
        if output.exists():
            client.log_artifact(run_id, str(output), "output")
        client.set_terminated(run_id, "FINISHED" if ok else "FAILED")


def run_stage(version_dir: Path, stage: str, cfg: dict[str, Any]) -> StageResult:
    """Execute `stages/<stage>.ipynb` of a version with the run's parameters; raise StageFailed on an error.

    papermill runs as its own process: the kernel it starts, and the signals jupyter_client sends to stop that
    kernel, stay away from Dagster's run worker (running papermill in-process here killed the worker now and then).
    """
    import time

    marks = {"entered": time.time()}  # where the stage's seconds go: {stage}.timings.json (tests/bench reads it)
    run_dir = Path(cfg["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    output = run_dir / f"{stage}.ipynb"
    version = version_dir.name
    # The notebook is user code: it gets what a process needs and its own variables, never this worker's whole
    # environment (the backend's: database URL, object store keys, hub tokens, Dagster's storage URL...).
    run_env = user_code_env({"MLP_STAGE_IO": str(run_dir / "io"), "MLP_PIPELINE_VERSION": version,
                             # jupyter_mlp.datasets.read() uses these: every stage of a run (and its replays) sees
                             # the same rows
                             "MLP_DATASET_SNAPSHOTS": json.dumps(cfg.get("snapshots", {}))})
    local = cfg.get("executor") != "docker"
    kernel = cfg.get("kernel", "python3")
    # A local stage's papermill process and kernel, started ahead (warm_papermill): for a first stage they start
    # now, while the child run is created, papermill imported and the kernel started meanwhile.
    def ahead_spec(name: str) -> tuple[str, ...]:  # the kernel to start ahead for stage `name`, and its imports
        return name, kernel, str(run_dir), warm_papermill.preimports(version_dir / "stages" / f"{name}.ipynb")

    proc = warm_papermill.take(run_env, ahead_spec(stage)) if local else None
    order = _order(version_dir)
    if local:
        marks["standby"] = hasattr(proc, "mlp_standby")  # its kernel started before the run (warm_papermill)
        if order[:1] == [stage]:  # a run's first stage: the next run worker starts standbys for its stages
            warm_papermill.write_hint(os.environ.get("DAGSTER_HOME"), [
                (kernel, warm_papermill.preimports(version_dir / "stages" / f"{name}.ipynb")) for name in order])
    try:
        child = _child_run(cfg, stage, version_dir)
    except BaseException:
        if proc is not None:
            warm_papermill.discard(proc)
        raise
    marks["child_run"] = time.time()
    env = {**run_env, "MLP_STAGE": stage}
    if child:
        # The stage's own `mlflow` calls land in its child run, in the project, as the user who launched it, with
        # nothing active when the notebook starts, as interactively: MLflow's first `start_run()` (explicit, or
        # implied by `log_metric`, autolog...) resumes the run named by MLFLOW_RUN_ID, nested runs nest under it,
        # and jupyter_mlp.lineage hangs whatever starts with no run active (a later `start_run()`, `log_model`
        # outside a run) under it by MLP_STAGE_RUN_ID.
        env.update(MLFLOW_TRACKING_URI=cfg["tracking_uri"], MLFLOW_TRACKING_TOKEN=cfg["token"],
                   MLFLOW_EXPERIMENT_ID=cfg["experiment_id"], MLFLOW_RUN_ID=child, MLP_STAGE_RUN_ID=child,
                   MLP_PROJECT=cfg["project"])
    source = version_dir / "stages" / f"{stage}.ipynb"
    if child:
        source = _with_stage_mlflow(source, run_dir / f"{stage}.input.ipynb")
    args = [str(source), str(output), "-k", kernel,
            "--cwd", str(run_dir), "--no-progress-bar", "-y", json.dumps(cfg.get("parameters", {}))]
    log_path = run_dir / f"{stage}.log"
    ok = False
    try:
        # Parameters travel as JSON (valid YAML) and papermill writes them into the notebook as literals.
        if cfg.get("executor") == "docker":
            code = _in_container(version_dir, run_dir, stage, cfg, env, args, log_path)
            stderr = log_path.read_text(errors="replace") if log_path.exists() else ""
        else:
            after = _next_stage(order, stage)
            if after:
                warm_papermill.ahead(run_env, ahead_spec(after))
            marks["papermill_start"] = time.time()
            # as `python -m papermill *args` with env, in a session of its own
            code, stdout, stderr = warm_papermill.run(proc, env, args)
            proc = None
            marks["papermill_end"] = time.time()
            log_path.write_text(stdout + stderr)
        if code != 0:
            raise _failure(stage, output, stderr, code, cfg.get("executor") == "docker")
        ok = True
    except StageFailed as failed:
        _record_failure(run_dir, failed)
        raise
    finally:
        # Whatever of the stage still runs goes with it: its kernel when papermill was killed or interrupted (a
        # cancel), or what the notebook started and left.
        if proc is not None:  # not handed its stage (an error before papermill)
            warm_papermill.discard(proc)
        stage_procs.kill(run_dir, stage)
        _finish(cfg, child, output, ok)
        marks["finished"] = time.time()
        _write_timings(run_dir / f"{stage}.timings.json", marks)
    return StageResult(output, child)


def _write_timings(path: Path, marks: dict[str, float]) -> None:
    """The stage's timestamps (epoch seconds); a failure to write them never fails the stage."""
    try:
        path.write_text(json.dumps(marks))
    except OSError:
        pass


def _order(version_dir: Path) -> list[str]:
    """The version's stages in the order the job runs them ([] when its description cannot be read)."""
    try:
        return json.loads((version_dir / "pipeline.json").read_text()).get("order") or []
    except (OSError, ValueError):
        return []


def _next_stage(order: list[str], stage: str) -> str | None:
    """The stage that runs after this one, if any."""
    return order[order.index(stage) + 1] if stage in order and order.index(stage) < len(order) - 1 else None


STAGE_MLFLOW_CELL = (
    "# added by jupyter-mlp: in a pipeline stage, mlflow.set_experiment() and mlflow.set_tracking_uri() keep the\n"
    "# stage's experiment and server (with a notice), so what this stage logs lands in its run\n"
    "import jupyter_mlp.stage_mlflow as _mlp_stage_mlflow\n_mlp_stage_mlflow.install()"
)


def _with_stage_mlflow(source: Path, dest: Path) -> Path:
    """A copy of the stage notebook whose first cell installs jupyter_mlp.stage_mlflow, when the stage uses MLflow.

    `mlflow.set_experiment("churn")`, the first line of most MLflow tutorials, made MLflow refuse to resume the
    stage's run (MLFLOW_RUN_ID) in another experiment, so the stage's first `start_run()` failed. The cell starts
    no run (nothing is active when the notebook starts, as interactively); a stage that never mentions mlflow is
    left alone (importing it costs a second)."""
    nb = json.loads(source.read_text())
    if not any("mlflow" in ("".join(c["source"]) if isinstance(c["source"], list) else c["source"])
               for c in nb.get("cells", [])):
        return source
    nb["cells"].insert(0, {"cell_type": "code", "execution_count": None, "outputs": [], "source": STAGE_MLFLOW_CELL,
                           "metadata": {"tags": ["injected-mlp-stage"]}})
    dest.write_text(json.dumps(nb))
    return dest


# What a stage in a container sees of the host's environment: only the stage's own variables (the image has its
# own PATH, HOME and locale).
_CONTAINER_ENV = STAGE


def _in_container(version_dir: Path, run_dir: Path, stage: str, cfg: dict[str, Any], env: dict[str, str],
                  args: list[str], log_path: Path) -> int:
    from urllib.parse import urlsplit

    from jupyter_mlp.settings import Settings

    from . import containers

    c = cfg.get("container") or {}
    settings = Settings(home=c.get("home") or version_dir.parents[2], container_engine="docker",
                        container_base_image=c.get("base_image") or "mlp-base:bookworm",
                        debian_mirror=c.get("debian_mirror"))
    build_log = run_dir / f"{stage}.build.log"

    def note(line: str) -> None:
        with build_log.open("a") as f:
            f.write(line + "\n")

    try:
        client = containers.docker_client(settings)
        image = containers.ensure_stage_image(client, settings, version_dir, note)
    except containers.ContainerError as e:
        raise StageFailed(stage, None, "ContainerError", str(e), str(e)) from None
    backend = None
    if cfg.get("tracking_uri"):
        u = urlsplit(cfg["tracking_uri"])
        backend = (u.hostname or "127.0.0.1", u.port or (443 if u.scheme == "https" else 80))
    limit = {k: c[k] for k in ("cpus", "memory", "network") if k in c} or containers.limits(settings, {})
    note(containers.step(3, f"starting the stage container ({limit.get('cpus')} CPU, {limit.get('memory')} memory, "
                            f"{'network' if limit.get('network') else 'no network'}); the notebook's log follows "
                            "when it ends"))
    return containers.run_stage(
        client, image, version_dir=version_dir, run_dir=run_dir, run_id=Path(cfg["run_dir"]).name,
        project=cfg["project"], stage=stage, papermill_args=args,
        env={k: env[k] for k in _CONTAINER_ENV if k in env}, backend=backend,
        limit=limit, log_path=log_path)


def _failure(stage: str, output: Path, stderr: str, code: int = 1, container: bool = False) -> StageFailed:
    """The error a stage raised, read from the executed notebook; else how its process ended, in words."""
    try:
        cells = json.loads(output.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        cells = []
    for cell in cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                return StageFailed(stage, cell.get("metadata", {}).get("mlp_source_cell"), o.get("ename", "Error"),
                                   o.get("evalue", ""), "\n".join(o.get("traceback", [])))
    return _ended(stage, stderr, code, container)


def _ended(stage: str, stderr: str, code: int, container: bool) -> StageFailed:
    """A stage whose process ended with no error in its notebook: killed by a signal, its kernel died, or
    papermill's own error. (A killed papermill leaves its kernel to print "Parent appears to have exited" as the
    last line, which says nothing useful.)"""
    import signal
    import time

    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    after = "The run failed; nothing from this run was registered."
    # A container's main process killed by a signal exits 128 + the signal's number (137: SIGKILL, often the
    # memory limit); a local process reports minus the number.
    number = -code if code < 0 else code - 128 if container and 128 < code < 160 else None
    if number is not None:
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown signal"
        why = {"SIGKILL": " (by a person, the out-of-memory killer or a cancel)", "SIGTERM": " (asked to stop)"}
        return StageFailed(stage, None, "StageKilled",
                           f"Stage '{stage}': its process was killed by signal {number} ({name}){why.get(name, '')} "
                           f"at {when}. {after}", stderr[-8000:])
    if "DeadKernelError" in stderr or "Kernel died" in stderr:
        return StageFailed(stage, None, "KernelDied",
                           f"Stage '{stage}': its kernel died at {when} (exit code {code}); out of memory or killed "
                           f"are the usual causes. {after}", stderr[-8000:])
    last = (stderr.strip().splitlines() or ["papermill failed"])[-1]
    return StageFailed(stage, None, "StageError",
                       f"Stage '{stage}': its process exited with code {code} at {when}: {last}. {after}",
                       stderr[-8000:])


def _record_failure(run_dir: Path, e: StageFailed) -> None:
    """What the panel shows of a failed stage: the cell, the error, the traceback (ANSI colours removed)."""
    import re

    tb = re.sub(r"\x1b\[[0-9;]*m", "", e.tb)[-8000:]
    (run_dir / f"{e.stage}.error.json").write_text(json.dumps(
        {"stage": e.stage, "cell": e.cell, "error": f"{e.ename}: {e.evalue}", "traceback": tb}))
