"""The experiments domain's public names for other domains (issue 12 item 1).

Other domains call experiments only through these names (and `projects`, `paths`, `mlflow_errors`), never through
`routes` or a private helper: the project's Default experiment, made on first need, and the MLflow gateway's
forwarding helpers, which the registry's gateway reuses (re-exported from `gateway`, bodies unchanged).
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..errors import MLPError
from ..orm import ProjectExperiment
from .gateway import forward
from .gateway import _load as load
from .gateway import _replace as replace
from .projects import DEFAULT_EXPERIMENT, experiment_rows, mlflow_name

__all__ = ["Unavailable", "ensure_default_experiment", "forward", "get_run", "load", "replace"]


class Unavailable(MLPError):
    status = 503
    code = "unavailable"


async def ensure_default_experiment(request: Request, exp, slug: str, project_id: int, user: str) -> str:  # noqa: ANN001
    """The id of the project's Default experiment, created in MLflow (and mapped) on first need."""

    def existing() -> str | None:
        with request.app.state.db.session() as s:
            return next((r.experiment_id for r in experiment_rows(s, project_id) if r.name == DEFAULT_EXPERIMENT),
                        None)

    found = await run_in_threadpool(existing)
    if found is not None:
        return found
    name = mlflow_name(request.app.state.settings, slug, DEFAULT_EXPERIMENT)
    r = await exp.mlflow.client.post("/api/2.0/mlflow/experiments/create", json={"name": name})
    if r.status_code == 200:
        eid = str(r.json()["experiment_id"])
    else:  # created by a concurrent request, or left from an earlier install of this MLflow
        got = await exp.mlflow.client.get("/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name})
        if got.status_code != 200:
            raise Unavailable(f"MLflow refused to create the project's experiment: {r.text[:200]}")
        eid = str(got.json()["experiment"]["experiment_id"])

    def record() -> None:
        with request.app.state.db.session() as s:
            if s.get(ProjectExperiment, eid) is None:
                s.add(ProjectExperiment(experiment_id=eid, project_id=project_id, name=DEFAULT_EXPERIMENT,
                                        created_by=user))
                audit.append(s, actor=user, action="experiment.created", decision="allow", project=slug, target=eid,
                             detail={"name": DEFAULT_EXPERIMENT})
            s.commit()

    await run_in_threadpool(record)
    return eid


async def get_run(app, db, who, slug: str, run_id: str):  # noqa: ANN001, ANN201
    """One run of the project with its lineage, as `GET /projects/{slug}/runs/{run_id}` answers it (checks
    runs.read; another project's run is a 404). For other domains: the model card reads its training run here."""
    from . import runs_service  # it imports this module

    return await runs_service.get_run(app, db, who, slug, run_id)


async def search_runs(app, db, who, slug: str, filter: str,  # noqa: A002, ANN001, ANN201
                      order_by: list[str], limit: int):
    """The project's runs matching an MLflow filter, as the runs search answers them (checks runs.read)."""
    from . import runs_service  # it imports this module

    return await runs_service.search_runs(app, db, who, slug, filter, order_by, [], limit, 0)
