"""The Dagster code location the platform generates from stored pipeline versions.

Dagster loads this module (`workspace.yaml` names it). It reads `$MLP_HOME/dagster/pipelines.json`, which the
backend rewrites from its database whenever a version is promoted, and defines for every version one asset per
stage (dependencies from the data flow) and one job over them. Each asset runs its stage notebook with
papermill (`stage_runner`). Imported only by Dagster's processes.
"""


import json
import os
from pathlib import Path

import dagster as dg

from .dagster_service import job_name
from .stage_runner import StageFailed, run_stage

INDEX = "pipelines.json"


class PipelineRun(dg.ConfigurableResource):
    """What one run needs, given by the backend in the run config."""

    project: str
    run_dir: str
    parameters_json: str = "{}"
    tracking_uri: str = ""
    token: str = ""
    experiment_id: str = ""
    parent_run_id: str = ""
    snapshots_json: str = "{}"
    executor: str = "subprocess"
    container_json: str = "{}"

    def as_config(self) -> dict:
        return {"project": self.project, "run_dir": self.run_dir, "parameters": json.loads(self.parameters_json),
                "tracking_uri": self.tracking_uri, "token": self.token, "experiment_id": self.experiment_id,
                "parent_run_id": self.parent_run_id, "snapshots": json.loads(self.snapshots_json),
                "executor": self.executor, "container": json.loads(self.container_json)}


def _asset(version_dir: Path, prefix: list[str], stage: dict, deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    name = stage["name"].replace("-", "_")

    @dg.asset(key=dg.AssetKey([*prefix, name]), deps=deps, group_name="_".join(prefix).replace("-", "_"),
              description=f"Stage '{stage['name']}' (cells {stage['cells']})")
    def _stage(context: dg.AssetExecutionContext, mlp: PipelineRun) -> dg.MaterializeResult:
        try:
            result = run_stage(version_dir, stage["name"], mlp.as_config())
        except StageFailed as e:
            raise dg.Failure(description=str(e), metadata={
                "stage": e.stage, "cell": e.cell if e.cell is not None else -1, "error": f"{e.ename}: {e.evalue}",
                "traceback": dg.MetadataValue.md(f"```\n{e.tb[-4000:]}\n```")}) from None
        return dg.MaterializeResult(metadata={"output_notebook": str(result.output_notebook),
                                              "mlflow_run_id": result.mlflow_run_id or ""})

    return _stage


def _post_backend(home: Path, path: str, body: dict, timeout: float, **claims: str) -> dict:
    """POST to the platform's backend with a short token minted from its secret (this process is the backend's
    own child and reads it); the claims open only what the caller needs."""
    import httpx

    from jupyter_mlp.identity import mint_token, read_secret
    from jupyter_mlp.local_backend import read_record
    from jupyter_mlp.settings import load_settings

    settings = load_settings(home=home)
    index = json.loads((home / "dagster" / INDEX).read_text())
    record = read_record(settings)
    url = index.get("backend_url") or settings.public_url or (record.url if record else None)
    if not url:
        raise RuntimeError("the platform's backend is not running")
    token = mint_token(read_secret(settings.secret_path), "dagster-scheduler", 60, **claims)
    r = httpx.post(f"{url.rstrip('/')}{path}", json=body, headers={"Authorization": f"Bearer {token}"},
                   timeout=timeout)
    if r.status_code not in (200, 201):
        try:
            message = r.json().get("message", r.text)
        except ValueError:
            message = r.text
        raise RuntimeError(f"{r.status_code}: {message[:300]}")
    return r.json()


def _ask_backend(home: Path, schedule_id: int, scheduled_time: str) -> dict:
    """The backend prepares a scheduled run (MLflow parent run, pinned snapshots, credentials, audit) as the
    schedule's creator, after checking they may still run it; Dagster then launches what it returns."""
    return _post_backend(home, f"/api/pipeline-schedules/{schedule_id}/ticks", {"scheduled_time": scheduled_time},
                         120, scope="schedule", sch=str(schedule_id))


def _monitor_sensor(home: Path, interval: int) -> dg.SensorDefinition:
    """Every `interval` seconds the backend evaluates every enabled monitor: new windows, alerts, webhooks, and
    retraining (it launches the model's pipeline itself, as the monitor's creator, so the run is recorded and
    audited like any other). The sensor's tick shows what happened."""

    @dg.sensor(name="mlp_monitors", minimum_interval_seconds=interval, default_status=dg.DefaultSensorStatus.RUNNING,
               description="Evaluates the platform's drift and performance monitors")
    def _evaluate(context: dg.SensorEvaluationContext):
        try:
            out = _post_backend(home, "/api/monitoring/ticks", {}, 600, scope="monitors")
        except Exception as err:  # noqa: BLE001 - shown on the tick in Dagster's UI
            return dg.SkipReason(f"The platform could not evaluate its monitors: {err}")
        return dg.SkipReason(out.get("summary") or "monitors evaluated")

    return _evaluate


def _schedule(home: Path, e: dict, job: str) -> dg.ScheduleDefinition:
    @dg.schedule(name=f"mlp_schedule_{e['id']}", cron_schedule=e["cron"], execution_timezone=e["timezone"],
                 job_name=job, default_status=dg.DefaultScheduleStatus.RUNNING,
                 description=f"{e['project']}/{e['pipeline']} @ {e['version'][:12]}, schedule {e['id']}")
    def _tick(context: dg.ScheduleEvaluationContext):
        when = context.scheduled_execution_time.isoformat()
        try:
            prepared = _ask_backend(home, e["id"], when)
        except Exception as err:  # noqa: BLE001 - the reason is shown on the tick in Dagster's UI
            return dg.SkipReason(f"The platform did not prepare this run: {err}")
        return dg.RunRequest(run_key=prepared["run_id"], run_config=prepared["run_config"], tags=prepared["tags"])

    return _tick


RECOMMENDER_JOB = "mlp_recommender_retrain"


class RecommenderRetrain(dg.Config):
    """The retraining's options (the schedule uses the defaults)."""

    corpus: str = ""  # the prior corpus folder; default: $MLP_HOME/recommender/corpus, else the shipped one
    settings_json: str = "{}"  # the encoder's settings (model.Settings) as JSON
    max_regret: float = 0.25  # the gate set on the first version
    timeout_s: float = 6 * 3600


def _recommender_job(home: Path, index: dict) -> dg.JobDefinition:
    """Rebuild the platform's part of the recommender's corpus from its runs, retrain the encoder and register it
    in the platform project `mlp-recommender` (signed; the gates decide champion). The AI services' own module runs
    it in a child process (`python -m jupyter_mlp_gpu.recommender.train --history`): the backend reaches
    gpu_services only across a process boundary, and torch never loads in Dagster's processes."""

    @dg.op(name="retrain_recommender_encoder")
    def _retrain(context: dg.OpExecutionContext, config: RecommenderRetrain) -> dg.Output:
        import subprocess
        import sys

        args = [sys.executable, "-m", "jupyter_mlp_gpu.recommender.train", "--history",
                "--settings", config.settings_json, "--max-regret", str(config.max_regret)]
        if config.corpus:
            args += ["--corpus", config.corpus]
        env = {**os.environ, "MLP_HOME": str(home)}
        if index.get("backend_url"):
            env["MLP_BACKEND_URL"] = index["backend_url"]
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=config.timeout_s)
        for line in (proc.stdout + proc.stderr).strip().splitlines()[-20:]:
            context.log.info(line)
        if proc.returncode not in (0, 3):
            raise dg.Failure(f"retraining failed (exit {proc.returncode}): {proc.stderr.strip()[-600:]}")
        # exit 3: registered, but the gates kept the champion where it was (said in the log)
        return dg.Output(proc.returncode, metadata={"gates_passed": proc.returncode == 0})

    @dg.job(name=RECOMMENDER_JOB, executor_def=dg.in_process_executor,
            description="Rebuild the recommender's corpus from the platform's runs, retrain and register its encoder")
    def _job():
        _retrain()

    return _job


def _recommender_schedule(cron: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(name=RECOMMENDER_JOB, cron_schedule=cron, job_name=RECOMMENDER_JOB,
                                 execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
                                 description="Retrains the recommender's encoder (recommender_retrain_cron)")


def build(home: Path) -> dg.Definitions:
    index_path = home / "dagster" / INDEX
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    entries = index.get("versions", []) if isinstance(index, dict) else index
    assets, jobs, schedules = [], [], []
    for e in entries:
        version_dir = home / "pipelines" / e["project"] / e["version"]
        desc = json.loads((version_dir / "pipeline.json").read_text())
        prefix = [e["project"].replace("-", "_"), e["pipeline"].replace("-", "_"), f"v{e['version'][:12]}"]
        keys = {s["name"]: dg.AssetKey([*prefix, s["name"].replace("-", "_")]) for s in desc["stages"]}
        defs = [_asset(version_dir, prefix, s, [keys[d] for d in s["depends_on"]]) for s in desc["stages"]]
        assets += defs
        jobs.append(dg.define_asset_job(job_name(e["project"], e["pipeline"], e["version"]),
                                        selection=dg.AssetSelection.assets(*defs),
                                        executor_def=dg.in_process_executor))
    known = {j.name for j in jobs}
    for e in index.get("schedules", []) if isinstance(index, dict) else []:
        job = job_name(e["project"], e["pipeline"], e["version"])
        if job in known:
            schedules.append(_schedule(home, e, job))
    index = index if isinstance(index, dict) else {}
    jobs.append(_recommender_job(home, index))
    cron = index.get("recommender_cron")  # the backend writes it: its setting, while the encoder ranks
    if cron:
        schedules.append(_recommender_schedule(cron))
    sensors = []
    if isinstance(index, dict) and index.get("monitors"):
        sensors.append(_monitor_sensor(home, int(index.get("monitor_interval") or 60)))
    return dg.Definitions(assets=assets, jobs=jobs, schedules=schedules, sensors=sensors,
                          resources={"mlp": PipelineRun.configure_at_launch()})


defs = build(Path(os.environ.get("MLP_HOME", Path.home() / ".mlp")))
