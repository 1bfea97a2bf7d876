"""The Ship plan, inferred from the notebook and the project: every default shown, every default editable.

- pipeline: promote's preflight (the stages from the cell tags, the `parameters` cell's values, the pipeline name);
- model: the name the pipeline registers (the pipeline's, or the name `log_model` gives), its metric and value from
  the notebook's last MLflow run (tag `mlp.notebook.path`);
- gates: the model's own gates where a lead set them; else the validated value minus a tolerance, a lead's approval
  when the project's models ask for one, and challenger-beats-champion on the plan's metric (the registry's rule:
  checked once the model has a champion, so a re-Ship moves traffic only to a version that beats it), scored on
  the data the champion was trained on (its lineage), else the data the notebook's stages read, with the label
  column the one the champion's signature does not take (else the one the notebook fits on);
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
from ..registry import service as registry
from .schemas import (DeploymentPlan, GatesPlan, ModelPlan, MonitorPlan, PipelinePlan, PlanOut, ShipPlan,
                      ThresholdPlan)

LOWER_IS_BETTER = re.compile(r"(rmse|mse|mae|mape|loss|error|ece|brier)", re.I)
_LOG_MODEL = re.compile(r"log_model\((?:[^()]|\([^()]*\))*?\bname\s*=\s*['\"]([A-Za-z0-9_.\-]+)['\"]")
_MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # the registry's MODEL_NAME
_LOG_METRIC = re.compile(r"log_metrics?\(\s*(?:\{\s*)?['\"]([A-Za-z0-9_.\-/ ]+)['\"]")
_READS = re.compile(r"datasets\.read\(\s*['\"]([a-z][a-z0-9_]{0,62})['\"]")
# `.fit(X, frame.y)` / `.fit(X, frame['y'])` / `.fit(X, y=frame["y"])`: the label column the notebook trains on
_FIT_LABEL = re.compile(r"\.fit\([^,()]+,\s*(?:y\s*=\s*)?\w+(?:\.([A-Za-z_]\w*)|\[\s*['\"]([^'\"]{1,200})['\"]\s*\])")
# what the registry's evaluation scores (registry/evaluate.py METRICS): a challenger rule on another metric could
# never be decided
EVALUATED = ("accuracy", "f1", "precision", "recall", "roc_auc", "rmse", "mae", "r2")


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
    champion, trained_on = None, []
    if m is not None:
        a = db.get(ModelAlias, (m.id, "champion"))
        if a is not None:
            v = db.get(ModelVersion, a.version_id)
            champion = v.version
            data = json.loads(v.lineage or "{}").get("data") or {}
            trained_on = [r["name"] for r in data.get("reads") or [] if isinstance(r, dict) and r.get("name")]
            trained_on += [n for n in (data.get("pinned") or {}) if n not in trained_on]
    approvals = any(json.loads(g or "{}").get("require_approval") for g in db.execute(
        select(RegisteredModel.gates).where(RegisteredModel.project_id == pid)).scalars())
    dep = None
    if m is not None:
        dep = db.execute(select(Deployment.name).where(Deployment.project_id == pid, Deployment.model_id == m.id)
                         .order_by(Deployment.id)).scalars().first()
    taken = set(db.execute(select(Deployment.name).where(Deployment.project_id == pid)).scalars())
    db.commit()
    return {"gates": json.loads(m.gates) if m is not None and m.gates else None, "champion": champion,
            "trained_on": trained_on, "approvals": approvals, "deployment": dep, "taken": taken}


def _columns(app, slug: str, dataset: str) -> list[str] | None:  # noqa: ANN001
    """A dataset's columns (its schema only: no row is read); None when the project has no such dataset."""
    from pyiceberg.expressions import AlwaysFalse

    try:
        return list(app.state.datasets.scan(slug, dataset, row_filter=AlwaysFalse()).column_names)
    except Exception:  # noqa: BLE001 - a dataset gone or unreadable is not a candidate
        return None


async def _evaluation(app, db: DB, who: Identity, slug: str, model: str, state: dict[str, Any],  # noqa: ANN001
                      run: dict[str, Any] | None, source: str) -> tuple[dict[str, Any] | None, str]:
    """The data challenger and champion are scored on, as the registry's gate needs it ({dataset, target}): the
    data the champion was trained on, else what the notebook's run or its stages read; the label column is the one
    the champion's signature does not take, else the one the notebook fits on. (None, why) when none is found."""
    names = list(state["trained_on"])
    try:
        names += [r["name"] for r in json.loads((run or {}).get("tags", {}).get("mlp.datasets") or "[]")
                  if isinstance(r, dict) and r.get("name")]
    except (ValueError, TypeError):
        pass
    names += _READS.findall(source)
    names = list(dict.fromkeys(names))
    if not names:
        return None, "the notebook reads no project dataset (datasets.read) to score challenger and champion on"
    inputs: set[str] = set()
    if state["champion"] is not None:
        try:
            sig = await registry.version_signature(app, db, who, slug, model, state["champion"])
            inputs = {c["name"] for c in sig.get("inputs", []) if c.get("name")}
        except MLPError:
            db.rollback()
    fitted = [a or b for a, b in _FIT_LABEL.findall(source)]
    await run_in_threadpool(lambda: (require(db, who, slug, Action.read_runs, target="ship:evaluation"),
                                     db.commit()))
    for name in names:
        cols = await run_in_threadpool(_columns, app, slug, name)
        if not cols:
            continue
        rest = [c for c in cols if c not in inputs] if inputs and inputs <= set(cols) else []
        target = (rest[0] if len(rest) == 1 else next((c for c in fitted if c in cols), None)
                  or next((c for c in ("y", "target", "label") if c in cols), None))
        if target is not None:
            return {"dataset": name, "target": target, "snapshot_id": None}, ""
    return None, f"no label column was found in {', '.join(names)}"


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
        against = f"its champion v{state['champion']}" if state["champion"] is not None else \
            "the champion once there is one (a re-Ship)"
        if metric not in EVALUATED:
            notes.append(f"No challenger-beats-champion gate: the evaluation scores {', '.join(EVALUATED)}, not "
                         f"{metric or 'a metric this notebook logs'}")
        else:
            evaluation, why = await _evaluation(app, db, who, slug, model_name, state, run, source)
            if evaluation is None:
                notes.append(f"No challenger-beats-champion gate: {why} (set gates.evaluation to add it)")
            else:
                gates.challenger = {"metric": metric, "margin": 0.0, "greater_is_better": not lower_is_better(metric)}
                gates.evaluation = evaluation
                notes.append(f"Challenger beats champion: {model_name}'s new version must score better {metric} "
                             f"than {against} on dataset {evaluation['dataset']} (label "
                             f"{evaluation['target']}), both scored on the same rows")
    if state["gates"] and state["champion"] is not None and not state["gates"].get("challenger"):
        notes.append(f"{model_name}'s gates have no challenger-beats-champion rule: a lead may add one")
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
