"""The datasets domain's service: the project's Iceberg tables for a caller (the panel's list) and for kernels and
pipeline stages through the MLflow gateway's credentials (write a snapshot, read one). Plain functions taking the
app's catalog, a session or request for the access check, the caller and plain values."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from jupyter_mlp.at_rest import AtRestError

from .. import audit
from ..access import Action, require
from ..deps import DB
from ..errors import Invalid, MLPError, NotFound
from ..experiments.gateway import authorize
from ..experiments.mlflow_errors import GatewayError
from ..identity import Identity
from ..orm import DatasetColumnPolicy, utcnow
from . import policy
from .catalog import DatasetError
from .policy import MASK as MASK_TOKEN  # noqa: F401 - other domains shape rows through this service
from .policy import ColumnDenied, Shaper  # noqa: F401
from .policy import for_caller as caller_column_policies  # noqa: F401
from .policy import for_role as column_policies  # noqa: F401
from .policy import rules as column_rules  # noqa: F401

MAX_UPLOAD = 512 * 2**20
log = logging.getLogger(__name__)
# Said to callers when the warehouse's files cannot be read or written (a bucket gone, the object store down, its
# credentials refused): the store's own message, with bucket and keys, goes to the backend's log only.
STORE_DOWN = "The dataset store is not available (its files cannot be read or written); the backend's log says why"


class StoreUnavailable(MLPError):
    status = 503
    code = "unavailable"


def _store_down(catalog, e: OSError) -> str:  # noqa: ANN001
    log.error("dataset store %s: %s: %s", getattr(catalog, "warehouse", "?"), type(e).__name__, e)
    return STORE_DOWN


def list_datasets(catalog, db: DB, who: Identity, slug: str) -> list[dict]:  # noqa: ANN001
    """The project's datasets and their snapshots."""
    require(db, who, slug, Action.read_runs)
    db.commit()
    try:
        return catalog.list(slug)
    except OSError as e:
        raise StoreUnavailable(_store_down(catalog, e)) from e


def profile(catalog, db: DB, who: Identity, slug: str, name: str, snapshot_id: int,  # noqa: ANN001
            target: str | None) -> dict:
    """A snapshot's profile (kept with it, or computed for another target), for a caller who may read the runs."""
    require(db, who, slug, Action.read_runs)
    db.commit()
    try:
        return catalog.profile(slug, name, snapshot_id, target)
    except LookupError:
        raise NotFound(f"Dataset '{name}' has no snapshot {snapshot_id} in project '{slug}'") from None
    except DatasetError as e:
        raise Invalid(str(e), detail=[{"field": "target"}] if target else None) from e


async def write(request, slug: str, name: str, mode: str, target: str | None = None):  # noqa: ANN001, ANN201
    """The request's Parquet body becomes a new snapshot of the project's table `name` (created on first write), as
    the gateway's caller (write access to runs); the body is read only once the caller may write."""
    await authorize(request, slug, Action.write_runs, f"dataset:{name}")
    body = await request.body()
    if len(body) > MAX_UPLOAD:
        raise GatewayError("INVALID_PARAMETER_VALUE", f"Dataset upload is larger than {MAX_UPLOAD} bytes", 413)
    try:
        return await run_in_threadpool(request.app.state.datasets.write, slug, name, body, mode, target)
    except DatasetError as e:
        raise GatewayError("INVALID_PARAMETER_VALUE", str(e)) from e
    except OSError as e:
        raise GatewayError("TEMPORARILY_UNAVAILABLE", _store_down(request.app.state.datasets, e), 503) from e


async def read(request, slug: str, name: str, snapshot_id: int | None,  # noqa: ANN001, ANN201
               stage_run: str | None = None):
    """(Parquet bytes, snapshot, names of the column policies that shaped it) of the table at a snapshot (default:
    the current one), as the gateway's caller, with the caller's role's column policies applied (kernels and
    pipeline stages read through here: a stage's token is its run's user's). `stage_run`: the MLflow run of the
    pipeline stage reading (the kernel helper sends it), which records the read (`_record_on_stage_run`)."""
    who, _, experiment_ids = await authorize(request, slug, Action.read_runs, f"dataset:{name}")
    if stage_run is not None:
        run = await _stage_run(request, who, experiment_ids, stage_run)
    catalog = request.app.state.datasets

    def shaped_read():  # noqa: ANN202
        with request.app.state.db.session() as db:
            shaper = policy.for_caller(db, who, slug)
            db.commit()
            try:
                bodies = policy.LOG_BODIES if name.startswith(policy.LOG_TABLES) else ()
                data, snap = catalog.read(slug, name, snapshot_id, shape=lambda t: shaper.table(t, name, bodies))
            except policy.ColumnDenied as e:
                shaper.refused(db, who, slug, "dataset-read", f"dataset:{name}", e)
                raise
            shaper.audit(db, who, slug, "dataset-read", f"dataset:{name}")
            db.commit()
            return data, snap, [r.name for r in shaper.applied]

    try:
        data, snap, shaped = await run_in_threadpool(shaped_read)
    except policy.ColumnDenied as e:
        raise GatewayError("PERMISSION_DENIED", e.message) from e
    except AtRestError as e:  # a sealed data file: the project's data key destroyed, or the file tampered with
        raise GatewayError("INVALID_STATE", f"Dataset '{name}' cannot be read: {e}", 409) from e
    except LookupError as e:
        raise GatewayError("RESOURCE_DOES_NOT_EXIST", f"Dataset '{e.args[0]}' not found") from e
    except OSError as e:
        raise GatewayError("TEMPORARILY_UNAVAILABLE", _store_down(catalog, e), 503) from e
    if stage_run is not None:
        await _record_on_stage_run(request, run, {"name": name, "path": None, "sha256": None,
                                                  "snapshot_id": str(snap.snapshot_id), "rows": snap.rows,
                                                  **({"policies": shaped} if shaped else {})})
    return data, snap, shaped


async def _stage_run(request, who: Identity, experiment_ids: set[str], run_id: str) -> dict:  # noqa: ANN001
    """The caller's running pipeline stage run `run_id` in this project, or 400 naming what is wrong with it."""
    exp = request.app.state.experiments
    if not run_id.isalnum():
        raise GatewayError("INVALID_PARAMETER_VALUE", f"Run '{run_id}' is not a run of this project")
    await exp.ready()
    found = await run_in_threadpool(exp.experiment_of_run, run_id)
    if found is None or found not in experiment_ids:
        raise GatewayError("INVALID_PARAMETER_VALUE", f"Run '{run_id}' is not a run of this project")
    run = (await exp.mlflow.client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    if tags.get("mlflow.user") != who.user or "mlp.pipeline.stage" not in tags or \
            run["info"].get("status") != "RUNNING":
        raise GatewayError("INVALID_PARAMETER_VALUE", f"Run '{run_id}' is not a running pipeline stage of yours")
    return run


async def _record_on_stage_run(request, run: dict, entry: dict) -> None:  # noqa: ANN001
    """A pipeline stage's read in its run's `mlp.datasets` tag, written by the backend: the stage's run was started
    before its notebook ran, so the lineage a new run gets from the kernel never reaches it, and clients may not set
    `mlp.*` tags. A model a later stage logs takes its data lineage from these tags, the column policies that shaped
    each read included (so a model trained on masked values says so)."""
    exp = request.app.state.experiments
    run_id = run["info"]["run_id"]
    now = (await exp.mlflow.client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})).json()["run"]
    text = next((t["value"] for t in now["data"].get("tags", []) if t["key"] == "mlp.datasets"), "[]")
    try:
        reads = json.loads(text)
    except ValueError:
        reads = []
    if entry in reads:
        return
    reads = [*reads, entry]
    value = json.dumps(reads, separators=(",", ":"))
    while len(value) > 5000 and len(reads) > 1:  # the newest reads that fit in one tag, as jupyter_mlp.lineage keeps
        reads = reads[1:]
        value = json.dumps(reads, separators=(",", ":"))
    r = await exp.mlflow.client.post("/api/2.0/mlflow/runs/set-tag", json={
        "run_id": run_id, "key": "mlp.datasets", "value": value})
    if r.status_code != 200:
        log.warning("could not record a dataset read on stage run %s: %s", run_id, r.text[:300])


def _columns(catalog, slug: str, name: str) -> list[str]:  # noqa: ANN001
    try:
        return catalog.columns(slug, name)
    except LookupError:
        raise NotFound(f"Dataset '{name}' not found in project '{slug}'") from None
    except OSError as e:
        raise StoreUnavailable(_store_down(catalog, e)) from e


def _policies_body(db: DB, project_id: int, name: str, columns: list[str]) -> dict:
    own = [r for r in policy.rules(db, project_id) if r.dataset == name]
    names = columns + sorted({r.column for r in own} - set(columns))  # a policy outlives its column
    return {"dataset": name, "columns": [
        {"name": c, "in_schema": c in columns,
         "policies": {r.role: r.action for r in own if r.column == c}} for c in names]}


def policies(catalog, db: DB, who: Identity, slug: str, name: str) -> dict:  # noqa: ANN001
    """The dataset's columns, each with its policy per role (roles not listed: allow)."""
    g = require(db, who, slug, Action.read_runs, target=f"dataset:{name}")
    columns = _columns(catalog, slug, name)
    body = _policies_body(db, g.project.id, name, columns)
    db.commit()
    return body


def set_policy(catalog, db: DB, who: Identity, slug: str, name: str, column: str, role: str,  # noqa: ANN001
               action: str) -> dict:
    """Set what `role` sees of `column` of dataset `name` (leads and admins; audited with the previous action)."""
    g = require(db, who, slug, Action.manage_column_policies, target=f"dataset:{name}")
    columns = _columns(catalog, slug, name)
    if column not in columns:
        raise Invalid(f"Dataset '{name}' has no column '{column}' (its columns: {', '.join(columns)})",
                      detail=[{"field": "column"}])
    row = db.execute(select(DatasetColumnPolicy).where(
        DatasetColumnPolicy.project_id == g.project.id, DatasetColumnPolicy.dataset == name,
        DatasetColumnPolicy.column == column, DatasetColumnPolicy.role == role)).scalar_one_or_none()
    previous = row.action if row is not None else None
    if row is None:
        db.add(DatasetColumnPolicy(project_id=g.project.id, dataset=name, column=column, role=role, action=action,
                                   updated_by=who.user))
    else:
        row.action, row.updated_by, row.updated_at = action, who.user, utcnow()
    audit.append(db, actor=who.user, action="datasets.policy.set", decision="allow", project=slug,
                 target=f"dataset:{name}", detail={"column": column, "role": role, "action": action,
                                                   "previous": previous})
    db.flush()
    body = _policies_body(db, g.project.id, name, columns)
    db.commit()
    return body
