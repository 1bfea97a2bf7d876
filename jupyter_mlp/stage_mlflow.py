"""MLflow in a pipeline stage: the stage's experiment and tracking server stay put, whatever the notebook asks.

A stage logs into its MLflow child run (`MLFLOW_RUN_ID`, resumed by the first `start_run()`), in the pipeline's
experiment, through the project's gateway (and jupyter_mlp.lineage nests later runs under that run: registered
here where its entry point is missing, as in a stage's container). The first lines of most MLflow tutorials
move both:

- `mlflow.set_experiment("churn")` makes MLflow refuse to resume the stage's run ("Cannot start run with ID ...
  because active experiment ID does not match environment run ID"), so the first `start_run()` failed;
- `mlflow.set_tracking_uri("mlruns")` (or `http://localhost:5000`) sends the runs away from the project, where the
  pipeline, its registry and its lineage never see them (and a stage in a container has no network).

In a stage both are kept as they are and the call prints a notice saying what was asked and where the logs go
instead; the same notebook run interactively is untouched (this is installed only where `MLP_STAGE_RUN_ID` is
set: by the stage runner, in a first cell it adds to the stage notebook). A request for the pipeline's own
experiment or the gateway's own URI changes nothing and says nothing.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

NOTICE = "jupyter-mlp"


def _say(text: str) -> None:
    print(f"[{NOTICE}] {text}", file=sys.stderr, flush=True)


def _register_lineage() -> None:
    """jupyter_mlp.lineage as MLflow's run-context provider where its entry point is not installed: a stage's
    container carries jupyter_mlp's modules without the distribution's metadata, so MLflow never loaded it there,
    and a run started after the stage's run ended was left at the top, outside the pipeline run."""
    from mlflow.tracking.context.registry import _run_context_provider_registry as providers

    from .lineage import NotebookLineageContext

    if not any(type(p).__name__ == NotebookLineageContext.__name__ for p in providers):
        providers.register(NotebookLineageContext)


def install() -> bool:
    """Wrap `mlflow.set_experiment` and `mlflow.set_tracking_uri` for this stage; False outside a stage."""
    stage_run = os.environ.get("MLP_STAGE_RUN_ID")
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    experiment = os.environ.get("MLFLOW_EXPERIMENT_ID")
    if not (stage_run and uri and experiment):
        return False
    import mlflow
    import mlflow.tracking

    stage = os.environ.get("MLP_STAGE", "?")
    if getattr(mlflow.set_experiment, "_mlp_stage", False):
        return True
    set_experiment, set_tracking_uri = mlflow.set_experiment, mlflow.set_tracking_uri
    where = f"pipeline stage '{stage}'"

    @functools.wraps(set_experiment)
    def stage_set_experiment(experiment_name: str | None = None, experiment_id: str | None = None,
                             **kwargs: Any):  # noqa: ANN202
        if (experiment_name is None) == (experiment_id is None):
            return set_experiment(experiment_name, experiment_id, **kwargs)  # MLflow's own error
        kept = set_experiment(experiment_id=experiment, **kwargs)
        if str(experiment_id) == kept.experiment_id or experiment_name == kept.name:
            return kept
        asked = f"experiment_id={experiment_id!r}" if experiment_id is not None else repr(experiment_name)
        _say(f"mlflow.set_experiment({asked}) is not applied in {where}: a stage logs to the pipeline's "
             f"experiment '{kept.name}', into the stage's run {stage_run} (and runs nested under it), so the "
             "pipeline run keeps everything it logged. Run interactively, the notebook uses the experiment it "
             "asks for.")
        return kept

    @functools.wraps(set_tracking_uri)
    def stage_set_tracking_uri(tracking_uri: Any) -> None:
        if tracking_uri is not None and str(tracking_uri).rstrip("/") != uri.rstrip("/"):
            _say(f"mlflow.set_tracking_uri({str(tracking_uri)!r}) is not applied in {where}: a stage logs to its "
                 f"project through the platform ({uri}), into the stage's run {stage_run}. Run interactively, "
                 "the notebook uses the tracking URI it sets.")
        return set_tracking_uri(uri)

    _register_lineage()
    for fn in (stage_set_experiment, stage_set_tracking_uri):
        fn._mlp_stage = True  # type: ignore[attr-defined]
    mlflow.set_experiment = stage_set_experiment
    mlflow.set_tracking_uri = stage_set_tracking_uri
    mlflow.tracking.set_tracking_uri = stage_set_tracking_uri
    return True
