"""The serving domain's service layer: a deployment's version fetched, verified, started and switched to.

The batch runner, the serving API's service modules (`deployments`, `keys`, `jobs`) and other domains
(monitoring's retraining and monitors) call serving through this module, never through its HTTP routes
(tests/backend/test_layering.py). Other domains use the public names at the bottom.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import timezone

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from .. import at_rest, audit
from ..deps import DB, Caller
from ..errors import Conflict, NotFound
from ..orm import Deployment, DeploymentEvent, ModelVersion, utcnow
from ..registry.service import Refused, app_signer
from . import predlog, protocol
from .manager import Live, Spec, StartFailed
from .schemas import DeploymentOut, Scaling, WorkerOut


def _iso(dt) -> str | None:  # noqa: ANN001
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


def _deployment(db: DB, project_id: int, name: str) -> Deployment:
    d = db.execute(select(Deployment).where(Deployment.project_id == project_id, Deployment.name == name)
                   ).scalar_one_or_none()
    if d is None:
        raise NotFound(f"Deployment '{name}' not found")
    return d


def _version_number(db: DB, version_id: int | None) -> int | None:
    if version_id is None:
        return None
    v = db.get(ModelVersion, version_id)
    return v.version if v else None


def _out(db: DB, slug: str, d: Deployment, live: Live | None) -> DeploymentOut:
    workers = []
    if live is not None and live.pool is not None:
        for w in live.pool.workers:
            workers.append(WorkerOut(index=w.index, pid=w.proc.pid if w.proc else None, version=w.spec.version,
                                     inflight=w.conn.inflight if w.conn else 0, started_at=w.started_at,
                                     uptime_s=round(time.monotonic() - w.started_mono, 1) if w.started_mono else 0.0))
    status = d.status
    if live is not None and live.status == "ready" and d.status == "ready" and live.pool is not None \
            and not live.pool.live():
        status = "degraded"
    return DeploymentOut(
        name=d.name, model=d.model.name, version=d.version.version,
        previous_version=_version_number(db, d.previous_version_id), status=status,
        message=(live.message if live is not None and live.message else d.message), min_workers=d.min_workers,
        max_workers=d.max_workers, sla_ms=d.sla_ms, max_batch=d.max_batch, max_wait_ms=d.max_wait_ms,
        log_predictions=d.log_predictions,
        prediction_table=predlog.table_name("predictions", d.name) if d.log_predictions else None,
        url=f"/serve/{slug}/{d.name}/invocations", v2_url=f"/serve/{slug}/{d.name}/v2/models/{d.model.name}/infer",
        workers=workers, created_by=d.created_by, created_at=_iso(d.created_at), updated_at=_iso(d.updated_at))


def _event(db: DB, d: Deployment, action: str, actor: str, version_id: int | None, detail: dict | None) -> None:
    db.add(DeploymentEvent(deployment_id=d.id, action=action, version_id=version_id,
                           detail=json.dumps(detail) if detail is not None else None, actor=actor))


async def ensure_folder(app, slug: str, project_id: int, deployment: str, version_id: int,  # noqa: ANN001
                        fresh: bool = True):
    """The version's files, fetched and verified into the deployment's folder (with the signed statement and the
    trusted keys beside them, for the workers to verify again). `fresh=False` keeps a folder already there."""
    from ..experiments.projects import experiment_ids
    from ..registry import service

    db_ = app.state.db
    manager = app.state.serving

    def load():  # noqa: ANN202
        with db_.session() as s:
            v = s.get(ModelVersion, version_id)
            # the project's data key while it encrypts at rest: the copy is written sealed (sealed_model.py)
            dk = at_rest.keyring(app).writer(project_id, s)
            return v.model.name, v.version, v.source, v.statement, v.signature, experiment_ids(s, project_id), dk

    model, number, source, st, sig, ids, dk = await run_in_threadpool(load)
    root = manager.folder(slug, deployment, number)
    if (slug, deployment, number) in manager.warm:
        fresh = False  # fetched and verified by `warm` a moment ago, and its worker loaded from there
    if not fresh and (root / "trusted.json").exists():
        return root, model, number
    shutil.rmtree(root, ignore_errors=True)
    (root / "model").mkdir(parents=True, mode=0o700)
    exp = app.state.experiments
    await exp.ready()
    sgn = app_signer(app)
    try:
        await service.fetch_verified(exp, sgn, slug=slug, name=model, version=number, source=source,
                                     statement_json=st, signature=sig, experiment_ids=ids, dest=root / "model",
                                     dk=dk)
    except Refused as e:
        raise StartFailed(e.message) from None
    manager.write_meta(root, st, sig, sgn.public_keys())
    return root, model, number


async def start_version(app, slug: str, project_id: int, d_id: int, version_id: int,  # noqa: ANN001
                        restore: bool = False) -> int | None:
    """Fetch and verify a version into the deployment's folder and move the deployment's traffic to it.

    `restore` (a backend starting again): use the folder already fetched, without waiting for MLflow — the workers
    verify its signed statement before loading, and a folder they refuse is fetched again — and start as many
    workers as the autoscaler had reached."""
    manager = app.state.serving

    def load():  # noqa: ANN202
        with app.state.db.session() as s:
            d = s.get(Deployment, d_id)
            return (d.name, d.min_workers, d.max_workers, d.sla_ms, d.max_batch, d.max_wait_ms, d.project_id,
                    d.log_predictions)

    name, mn, mx, sla, mb, mw, pid, logp = await run_in_threadpool(load)
    root, model, number = await ensure_folder(app, slug, project_id, name, version_id, fresh=not restore)
    live = manager.get(slug, name)
    if live is None:
        live = Live(d_id, pid, slug, name, model, sla, mn, mx)
    live.min_workers, live.max_workers, live.log_predictions = mn, mx, logp
    spec = Spec(deployment_id=d_id, project=slug, deployment=name, model=model, version=number,
                version_id=version_id, folder=root / "model", max_batch=mb, max_wait_ms=mw,
                lookup=at_rest.keyring(app).reader(project_id))
    workers = manager.remembered_scale(slug, name) if restore else None
    try:
        return await manager.deploy(live, spec, workers=workers)
    except StartFailed:
        if not restore:
            raise
    # the kept folder was refused (changed, or half-written by a killed backend): fetch and verify it afresh
    root, model, number = await ensure_folder(app, slug, project_id, name, version_id)
    return await manager.deploy(live, spec, workers=workers)


async def _switch(app, db: DB, who: Caller, slug: str, d: Deployment, v: ModelVersion,  # noqa: ANN001
                  action: str) -> DeploymentOut:
    """Start v beside what serves now; move traffic when ready; record it. On failure the old version serves on."""
    project_id, d_id, v_id, before = d.project_id, d.id, v.id, d.version_id
    try:
        await start_version(app, slug, project_id, d_id, v_id)
    except StartFailed as e:
        def failed():  # noqa: ANN202
            dd = db.get(Deployment, d_id)
            live = app.state.serving.get(slug, dd.name)
            if live is None or live.pool is None:
                dd.status = "failed"
            dd.message, dd.updated_at = str(e), utcnow()
            _event(db, dd, "failed", who.user, v_id, {"message": str(e), "action": action})
            audit.append(db, actor=who.user, action=f"deployment.{action}", decision="deny", project=slug,
                         target=dd.name, detail={"version_id": v_id, "reason": str(e)})
            db.commit()
        await run_in_threadpool(failed)
        raise Conflict(f"Deployment '{d.name}' did not start version {v.version}: {e}") from None

    def done() -> DeploymentOut:
        dd = db.get(Deployment, d_id)
        if before != v_id:
            dd.previous_version_id = before
        dd.version_id, dd.status, dd.message, dd.updated_at = v_id, "ready", None, utcnow()
        _event(db, dd, action, who.user, v_id, {"from_version": _version_number(db, before)})
        audit.append(db, actor=who.user, action=f"deployment.{action}", decision="allow", project=slug,
                     target=dd.name, detail={"version": v.version, "model": dd.model.name,
                                             "from_version": _version_number(db, before)})
        db.commit()
        return _out(db, slug, dd, app.state.serving.get(slug, dd.name))

    return await run_in_threadpool(done)


# --- public names for other domains --------------------------------------------------------------------------------

iso = _iso
find_deployment = _deployment
switch_version = _switch
version_number = _version_number
deployment_out = _out
add_event = _event

# The prediction log as monitoring reads it: its tables' names, and a logged request parsed back into rows.
prediction_table = predlog.table_name  # ("predictions" or "feedback", deployment) -> the Iceberg table's name
RequestSchema = protocol.Schema
BadRequest = protocol.BadRequest


def parse_logged_request(body: bytes, wire: str, schema: protocol.Schema) -> protocol.Parsed:
    """A logged request body as rows (`wire`: the protocol it came in by, "v2" or MLflow's)."""
    return (protocol.parse_v2 if wire == "v2" else protocol.parse_mlflow)(body, schema)


TRAFFIC_ACTIONS = ("deploy", "switch", "rollback")  # the events that move a deployment's traffic to a version


def version_history(db: DB, who: Caller, slug: str, model: str, version: int) -> list[dict]:
    """Where one model version served (for the model card): per deployment of the project that ran it, what it
    serves now and its traffic events (deploy, switch, rollback) oldest first, each as the events API shows it
    (`id`, `action`, `version`, `actor`, `at`), so the card can tell when the version started and stopped serving.
    Checks serving.read; an unknown model or version has served nowhere ([])."""
    from ..access import Action, require
    from ..orm import RegisteredModel

    g = require(db, who, slug, Action.read_serving, target=f"{model}/{version}")
    v = db.execute(select(ModelVersion).join(RegisteredModel, ModelVersion.model_id == RegisteredModel.id).where(
        RegisteredModel.project_id == g.project.id, RegisteredModel.name == model,
        ModelVersion.version == version)).scalar_one_or_none()
    if v is None:
        db.commit()
        return []
    ran = set(db.execute(select(DeploymentEvent.deployment_id).where(DeploymentEvent.version_id == v.id)).scalars())
    ran |= set(db.execute(select(Deployment.id).where(Deployment.version_id == v.id)).scalars())
    out = []
    for d in db.execute(select(Deployment).where(Deployment.id.in_(ran), Deployment.project_id == g.project.id)
                        .order_by(Deployment.name)).scalars():
        events = db.execute(select(DeploymentEvent).where(DeploymentEvent.deployment_id == d.id,
                                                          DeploymentEvent.action.in_(TRAFFIC_ACTIONS))
                            .order_by(DeploymentEvent.id)).scalars().all()
        out.append({"deployment": d.name, "status": d.status, "version_now": d.version.version,
                    "serving_now": d.version_id == v.id,
                    "events": [{"id": e.id, "action": e.action, "version": _version_number(db, e.version_id),
                                "actor": e.actor, "at": _iso(e.created_at)} for e in events]})
    db.commit()
    return out


# --- for the Ship flow (ship/service.py): the deployments' and keys' service bodies, imported when called (they
# import this module) --------------------------------------------------------------------------------------------

async def deploy(app, db: DB, who: Caller, slug: str, *, name: str, model: str, version: int,  # noqa: ANN001
                 scaling) -> DeploymentOut:  # noqa: ANN001
    """Deploy a validated version as `who`, as the deploy route does."""
    from . import deployments

    return await deployments.deploy(app, db, who, slug, name=name, model=model, version=version, alias=None,
                                    scaling=scaling)


async def switch(app, db: DB, who: Caller, slug: str, name: str, version: int) -> DeploymentOut:  # noqa: ANN001
    """Serve another validated version as `who`; traffic moves when its workers are ready (zero downtime)."""
    from . import deployments

    return await deployments.switch(app, db, who, slug, name, version, None)


def get_deployment(app, db: DB, who: Caller, slug: str, name: str, reached: str) -> DeploymentOut:  # noqa: ANN001
    from . import deployments

    return deployments.get_deployment(app, db, who, slug, name, reached)


async def warm(app, db: DB, who: Caller, slug: str, deployment: str, model: str, version: int) -> None:  # noqa: ANN001
    """Start a worker of a model version for a deployment before the deploy (or switch) asks for it: the version's
    files fetched and verified, and one worker loaded, in the background; the deploy adopts it. The Ship calls this
    as soon as the version passed its gates, so a lead's approval and the deploy step do not wait for the load.
    Checks serving.write; returns once the worker's start has begun."""
    from ..access import Action, require
    from ..orm import RegisteredModel

    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.write_serving, target=deployment)
        v = db.execute(select(ModelVersion).join(RegisteredModel, ModelVersion.model_id == RegisteredModel.id)
                       .where(RegisteredModel.project_id == g.project.id, RegisteredModel.name == model,
                              ModelVersion.version == version)).scalar_one_or_none()
        if v is None:
            raise NotFound(f"Version {version} of model '{model}' not found")
        d = db.execute(select(Deployment).where(Deployment.project_id == g.project.id,
                                                Deployment.name == deployment)).scalar_one_or_none()
        out = (g.project.id, v.id, d.id if d else 0, d.max_batch if d else Scaling().max_batch,
               d.max_wait_ms if d else Scaling().max_wait_ms)
        db.commit()
        return out

    project_id, version_id, d_id, max_batch, max_wait = await run_in_threadpool(load)
    manager = app.state.serving
    live = manager.get(slug, deployment)
    if (slug, deployment, version) in manager.warm or (live is not None and live.version == version):
        return  # warming already, or serving it: its folder is in use
    root, model, number = await ensure_folder(app, slug, project_id, deployment, version_id)
    manager.start_warm(Spec(deployment_id=d_id, project=slug, deployment=deployment, model=model, version=number,
                            version_id=version_id, folder=root / "model", max_batch=max_batch,
                            max_wait_ms=max_wait, lookup=at_rest.keyring(app).reader(project_id)))


async def drop_warm(app, slug: str, deployment: str, version: int) -> None:
    """Stop the worker `warm` started when no deploy will adopt it (the version was rejected)."""
    await app.state.serving.drop_warm(slug, deployment, version)


def create_key(db: DB, who: Caller, slug: str, name: str, deployment: str | None):  # noqa: ANN201
    """A new API key as `who` (leads): the key itself is in the answer only."""
    from . import keys

    return keys.create_key(db, who, slug, name, deployment, None)


def scale(app, db: DB, who: Caller, slug: str, name: str, min_workers: int, max_workers: int,  # noqa: ANN001
          sla_ms: float) -> DeploymentOut:
    from . import deployments

    return deployments.scale(app, db, who, slug, name, min_workers, max_workers, sla_ms)
