"""The Ship plan, inferred from the notebook and the project: every default shown, every default editable.

- pipeline: promote's preflight (the stages from the cell tags, the `parameters` cell's values, the pipeline name);
- model: the name the pipeline registers (the pipeline's, or the name `log_model` gives), its metric and value from
  the notebook's last MLflow run (tag `mlp.notebook.path`);
- gates: the model's own gates where a lead set them; else the validated value minus a tolerance, a lead's approval
  when the project's models ask for one, and challenger-beats-champion where the model has a champion;
- deployment: the one already serving the model (Ship switches it), else `<model>-api`;
- monitor: drift on every window, performance once labels arrive, retraining through the gates.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..access import Action, require
from ..deps import DB
from ..errors import MLPError
from ..experiments import service as experiments
from ..identity import Identity
from ..orm import Deployment, ModelAlias, ModelVersion, RegisteredModel
from ..pipelines import service as pipelines
from .schemas import (DeploymentPlan, GatesPlan, ModelPlan, MonitorPlan, PipelinePlan, PlanOut, ShipPlan,
                      ThresholdPlan)

LOWER_IS_BETTER = re.compile(r"(rmse|mse|mae|mape|loss|error|ece|brier)", re.I)
_LOG_MODEL = re.compile(r"log_model\((?:[^()]|\([^()]*\))*?\bname\s*=\s*['\"]([A-Za-z0-9_.\-]+)['\"]")
_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # the registry's MODEL_NAME
_LOG_METRIC = re.compile(r"log_metrics?\(\s*(?:\{\s*)?['\"]([A-Za-z0-9_.\-/ ]+)['\"]")


def _source(nb: dict[str, Any]) -> str:
    out = []
    for c in nb.get("cells", []):
        if c.get("cell_type") == "code":
            s = c.get("source", "")
            out.append("".join(s) if isinstance(s, list) else str(s))
    return "\n".join(out)


def lower_is_better(metric: str) -> bool:
    return bool(LOWER_IS_BETTER.search(metric))


def default_threshold(metric: str, value: float, tolerance: float) -> ThresholdPlan:
    if lower_is_better(metric):
        return ThresholdPlan(metric=metric, op="<=", value=round(value + tolerance, 6))
    return ThresholdPlan(metric=metric, op=">=", value=round(value - tolerance, 6))


async def _last_run(app, db: DB, who: Identity, slug: str, path: str) -> dict[str, Any] | None:  # noqa: ANN001
    quoted = path.replace("'", "\\'")
    try:
        page = await experiments.search_runs(app, db, who, slug, f"tags.`mlp.notebook.path` = '{quoted}'",
                                             ["attributes.start_time DESC"], 1)
    except MLPError:
        return None
    return page.items[0].model_dump() if page.items else None


def _project_state(db: DB, who: Identity, slug: str, model: str) -> dict[str, Any]:
    g = require(db, who, slug, Action.read_models, target=model)
    pid = g.project.id
    m = db.execute(select(RegisteredModel).where(RegisteredModel.project_id == pid, RegisteredModel.name == model)
                   ).scalar_one_or_none()
    champion = None
    if m is not None:
        a = db.get(ModelAlias, (m.id, "champion"))
        champion = db.get(ModelVersion, a.version_id).version if a else None
    approvals = any(json.loads(g or "{}").get("require_approval") for g in db.execute(
        select(RegisteredModel.gates).where(RegisteredModel.project_id == pid)).scalars())
    dep = None
    if m is not None:
        dep = db.execute(select(Deployment.name).where(Deployment.project_id == pid, Deployment.model_id == m.id)
                         .order_by(Deployment.id)).scalars().first()
    taken = set(db.execute(select(Deployment.name).where(Deployment.project_id == pid)).scalars())
    db.commit()
    return {"gates": json.loads(m.gates) if m is not None and m.gates else None, "champion": champion,
            "approvals": approvals, "deployment": dep, "taken": taken}


async def make_plan(app, db: DB, who: Identity, slug: str, notebook: dict[str, Any],  # noqa: ANN001
                    path: str) -> PlanOut:
    report = await pipelines.preflight(db, who, slug, notebook, path)
    notes: list[str] = []
    source = _source(notebook)
    # as registration names it: the logged name, or the pipeline's where that is `model` or not a registry name
    named = [n for n in _LOG_MODEL.findall(source) if n != "model" and _MODEL_NAME.match(n)]
    model_name = named[0] if named else report.pipeline
    if not _LOG_MODEL.search(source) and "log_model" not in source and "autolog" not in source:
        notes.append("No log_model call was found in the notebook: the run must log a model for Ship to register")
    params = {p.name: p.default_value for p in report.parameters}

    run = await _last_run(app, db, who, slug, path)
    logged = _LOG_METRIC.findall(source)
    metric, value, run_id = None, None, None
    if run is not None:
        run_id = run["run_id"]
        metrics = {k: v for k, v in run["metrics"].items() if v is not None}
        metric = next((m for m in logged if m in metrics), None) or (sorted(metrics)[0] if metrics else None)
        value = metrics.get(metric) if metric else None
        notes.append(f"The metric and its validated value are from the notebook's last run {run_id}")
    else:
        metric = logged[0] if logged else None
        notes.append("The notebook has no run logged from this path yet: run it once (or give the threshold's value)")

    state = await run_in_threadpool(_project_state, db, who, slug, model_name)
    if state["gates"]:
        g = state["gates"]
        gates = GatesPlan(thresholds=[ThresholdPlan(**t) for t in g.get("thresholds", [])],
                          challenger=g.get("challenger"), evaluation=g.get("evaluation"),
                          require_approval=bool(g.get("require_approval")), source="model")
        notes.append(f"The gates are the ones a lead set on {model_name}: only a lead changes them")
    else:
        gates = GatesPlan(require_approval=state["approvals"])
        if metric and value is not None:
            gates.thresholds = [default_threshold(metric, value, gates.tolerance)]
        if state["approvals"]:
            notes.append("This project's models ask for a lead's approval: Ship waits for it before deploying")
        if state["champion"] is not None:
            notes.append(f"{model_name} has a champion (v{state['champion']}): challenger-beats-champion needs "
                         "evaluation data (gates.evaluation: a dataset and its label column) to be scored on")
    if state["deployment"]:
        dep = DeploymentPlan(name=state["deployment"], exists=True)
        notes.append(f"{state['deployment']} serves {model_name}: Ship switches it once the new version passed the "
                     "gates (zero downtime)")
    else:
        base = re.sub(r"[^a-z0-9-]+", "-", f"{model_name}-api")[:63]
        name, i = base, 2
        while name in state["taken"]:
            name, i = f"{base[:58]}-{i}", i + 1
        dep = DeploymentPlan(name=name)
    plan = ShipPlan(pipeline=PipelinePlan(name=report.pipeline, stages=[s.name for s in report.stages],
                                          parameters=params),
                    model=ModelPlan(name=model_name, metric=metric, value=value, run_id=run_id),
                    gates=gates, deployment=dep, monitor=MonitorPlan())
    return PlanOut(path=path, plan=plan, champion=state["champion"], notes=notes,
                   problems=[p.model_dump() for p in report.problems])
