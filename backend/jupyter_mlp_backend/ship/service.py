"""Running a Ship: promote → (stage base image) → pipeline run → register → gates → (a lead's approval) → deploy →
monitor → endpoint. Kept in one file over ~500 lines on purpose: the nine steps read as one chain, top to bottom.

The chain runs in the backend (an asyncio task of the app: the caller may go away), as the caller, through the
other domains' service modules, which check the caller's rights and audit each action themselves; a caller who loses
a right stops the chain at that step, which says so. Each Ship is a JSON record under `MLP_HOME/ships/<project>/`
(the plan, each step's status, timings, links and progress), written at every change; the new API key of the last
step is never written there: it is held in memory and handed out once, to the shipper's first read of the
finished Ship. A Ship whose backend stopped while it ran reads `interrupted` (ship again: promotion and
registration are idempotent where nothing changed).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shlex
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..access import Action, require
from ..deps import DB
from ..errors import Forbidden, Invalid, MLPError, NotFound
from ..identity import Identity
from ..monitoring import service as monitoring
from ..orm import GateDecision, ModelVersion, RegisteredModel
from ..pipelines import service as pipelines
from ..registry import service as registry
from ..serving import service as serving
from .schemas import EndpointOut, Requests, ShipOut, ShipPage, ShipRequest, StepOut

log = logging.getLogger(__name__)

STEPS = ["promote", "image", "run", "register", "gates", "approval", "deploy", "monitor", "endpoint"]
POLL_S = 1.0
CLAIM_S = 600.0  # how long the reader who took the new key may read it again (a read whose answer was lost)


class _Request:
    """What the services use of a request (the app and the address clients reached), for the Ship's task."""

    def __init__(self, app, base_url: str):  # noqa: ANN001
        self.app = app
        self.base_url = base_url


class ShipState:
    """The app's running Ships and the keys not yet shown (`app.state.ships`)."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Task] = {}
        self.keys: dict[str, str] = {}
        # ship id -> (the claim of the read that took the key, when): that reader's next reads get it again
        self.claims: dict[str, tuple[str, float]] = {}

    def take_key(self, ship_id: str, claim: str | None) -> str | None:
        """The new key, to one reader: the first read takes it; a read with the claim of the one that took it gets
        it again for CLAIM_S (its first answer may have been lost on the way, or the read sent twice); no other."""
        now = time.monotonic()
        for k, (_, at) in list(self.claims.items()):
            if now - at > CLAIM_S:
                self.claims.pop(k, None)
                self.keys.pop(k, None)
        if ship_id not in self.keys:
            return None
        held = self.claims.get(ship_id)
        if held is None:
            if claim is None:
                return self.keys.pop(ship_id)
            self.claims[ship_id] = (claim, now)
            return self.keys[ship_id]
        return self.keys[ship_id] if claim == held[0] else None

    async def shutdown(self) -> None:
        for t in list(self.tasks.values()):
            t.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _folder(home: Path, slug: str) -> Path:
    return home / "ships" / slug


def _save(home: Path, rec: dict[str, Any]) -> None:
    folder = _folder(home, rec["project"])
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{rec['id']}.tmp"
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, folder / f"{rec['id']}.json")


def _load(home: Path, slug: str, ship_id: str) -> dict[str, Any]:
    try:
        uuid.UUID(ship_id)
        return json.loads((_folder(home, slug) / f"{ship_id}.json").read_text())
    except (ValueError, OSError):
        raise NotFound(f"Ship '{ship_id}' not found") from None


class Failed(Exception):
    """A step stops the Ship: `message` says why and what to fix."""


class _Run:
    """One Ship in flight: its record, and how a step starts, reports and ends."""

    def __init__(self, app, rec: dict[str, Any]):  # noqa: ANN001
        self.app, self.rec = app, rec
        self.home = app.state.settings.home
        self.t0: dict[str, float] = {}

    def step(self, name: str) -> dict[str, Any]:
        return next(s for s in self.rec["steps"] if s["name"] == name)

    def save(self) -> None:
        _save(self.home, self.rec)

    def start(self, name: str, message: str | None = None) -> None:
        s = self.step(name)
        s.update(status="running", started_at=_now(), message=message)
        self.t0[name] = time.monotonic()
        self.save()

    def update(self, name: str, *, status: str | None = None, message: str | None = None,
               progress: list[str] | None = None, **links: Any) -> None:
        s = self.step(name)
        if status:
            s["status"] = status
            self.rec["status"] = "waiting" if status == "waiting" else "running"
        if message is not None:
            s["message"] = message
        if progress is not None:
            s["progress"] = progress[-20:]
        s["links"].update({k: v for k, v in links.items() if v is not None})
        self.save()

    def end(self, name: str, status: str = "done", message: str | None = None, **links: Any) -> None:
        s = self.step(name)
        if s["started_at"] is None:
            s["started_at"] = _now()
        s.update(status=status, ended_at=_now(), message=message if message is not None else s["message"],
                 seconds=round(time.monotonic() - self.t0.get(name, time.monotonic()), 2))
        s["links"].update({k: v for k, v in links.items() if v is not None})
        self.rec["status"] = "running"
        self.save()


def _audit(db: DB, who: Identity, slug: str, action: str, ship_id: str, detail: dict[str, Any]) -> None:
    audit.append(db, actor=who.user, action=action, decision="allow", project=slug, target=f"ship:{ship_id}",
                 detail=detail)
    db.commit()


async def start(app, base_url: str, db: DB, who: Identity, slug: str, body: ShipRequest) -> ShipOut:  # noqa: ANN001
    """Check what can be checked now, record the Ship and start its chain in the background; answers at once."""
    plan = body.plan
    if not plan.model.name:
        raise Invalid("plan.model.name: the model to register is needed", detail=[{"field": "plan.model.name"}])

    def begin() -> dict[str, Any]:
        g = require(db, who, slug, Action.write_pipelines, target=f"ship:{body.path[:200]}")
        for action in (Action.run_pipelines, Action.write_models, Action.write_serving, Action.write_monitoring):
            require(db, who, slug, action, target=f"ship:{body.path[:200]}")
        m = db.execute(select(RegisteredModel).where(RegisteredModel.project_id == g.project.id,
                                                     RegisteredModel.name == plan.model.name)).scalar_one_or_none()
        if m is not None and m.gates and _gates(plan) != _stored(m.gates):
            try:
                require(db, who, slug, Action.approve_models, target=f"{plan.model.name}:gates")
            except Forbidden:
                raise Forbidden(f"The plan changes the gates a lead set on {plan.model.name}: only a lead changes "
                                "them (ship with the model's gates, or ask a lead)",
                                detail=[{"field": "plan.gates"}]) from None
        rec = {"id": str(uuid.uuid4()), "project": slug, "path": body.path, "created_by": who.user,
               "created_at": _now(), "status": "running", "message": None, "failed_step": None,
               "plan": plan.model_dump(), "endpoint": None,
               "steps": [StepOut(name=n, status="pending").model_dump() for n in STEPS]}
        _audit(db, who, slug, "ship.started", rec["id"], {"path": body.path, "plan": rec["plan"]})
        return rec

    rec = await run_in_threadpool(begin)
    _save(app.state.settings.home, rec)
    state: ShipState = app.state.ships
    task = asyncio.create_task(_chain(app, _Request(app, base_url), who, rec, body.notebook))
    state.tasks[rec["id"]] = task
    task.add_done_callback(lambda _t, i=rec["id"]: state.tasks.pop(i, None))
    return ShipOut(**rec)


def _gates(plan) -> dict[str, Any]:  # noqa: ANN001
    g = plan.gates
    return {"thresholds": [t.model_dump() for t in g.thresholds], "challenger": g.challenger,
            "evaluation": g.evaluation, "require_approval": g.require_approval}


def _stored(text: str | None) -> dict[str, Any]:
    g = json.loads(text or "{}")
    return {"thresholds": g.get("thresholds") or [], "challenger": g.get("challenger"),
            "evaluation": g.get("evaluation"), "require_approval": bool(g.get("require_approval"))}


async def _chain(app, req: _Request, who: Identity, rec: dict[str, Any],  # noqa: ANN001
                 notebook: dict[str, Any]) -> None:
    run = _Run(app, rec)
    slug = rec["project"]
    with app.state.db.session() as db:
        try:
            await _steps(app, req, db, who, run, notebook)
            rec["status"] = "succeeded"
            run.save()
            await run_in_threadpool(_audit, db, who, slug, "ship.succeeded", rec["id"],
                                    {"endpoint": (rec.get("endpoint") or {}).get("url")})
        except asyncio.CancelledError:
            rec["status"], rec["message"] = "interrupted", "The backend stopped while this Ship ran: ship again"
            run.save()
            raise
        except Exception as e:  # noqa: BLE001 - every failure stops the Ship with its reason, recorded
            # the last step under way: the image step may still be running beside the pipeline run's
            current = next((s for s in reversed(rec["steps"]) if s["status"] in ("running", "waiting")), None) \
                or next((s for s in rec["steps"] if s["status"] == "pending"), rec["steps"][-1])
            if isinstance(e, Failed):
                message = str(e)
            elif isinstance(e, MLPError):
                message = e.message
            else:
                log.exception("ship %s", rec["id"])
                message = f"unexpected error: {e}"
            db.rollback()
            run.end(current["name"], "failed", message)
            for s in rec["steps"]:
                if s["status"] == "pending":
                    s["status"] = "skipped"
            rec.update(status="failed", failed_step=current["name"],
                       message=f"Stopped at {current['name']}: {message}")
            run.save()
            await run_in_threadpool(_audit, db, who, slug, "ship.failed", rec["id"],
                                    {"step": current["name"], "message": message[:2000]})


async def _steps(app, req: _Request, db: DB, who: Identity, run: _Run,  # noqa: ANN001, C901
                 notebook: dict[str, Any]) -> None:
    rec, slug = run.rec, run.rec["project"]
    plan = rec["plan"]
    settings = app.state.settings

    # 1. promote: a new content-hashed version, or the identical one
    run.start("promote")
    try:
        promoted = await run_in_threadpool(pipelines.promote_notebook, settings.home, db, who, slug, notebook,
                                           rec["path"], plan["pipeline"]["name"])
    except MLPError as e:
        problems = [p.get("message") for p in (e.detail or []) if isinstance(p, dict) and p.get("message")]
        raise Failed(f"{e.message}" + (f" ({'; '.join(problems[:3])})" if problems else "")
                     + ": fix the notebook's cells and ship again") from None
    run.end("promote", message=("a new version" if promoted.created else "the same content as an earlier version")
            + f" of {promoted.pipeline} with stages {', '.join(s.name for s in promoted.stages)}",
            pipeline=promoted.pipeline, version=promoted.version)

    # 2. the stage base image (Docker stages), as the platform's check at start found it: while it is still being
    # built the step runs beside the pipeline run (whose first stage waits for it), so the view says why it waits
    status, message, progress = image_state(settings)
    run.start("image", message)
    image_pending = status == "running"
    if image_pending:
        run.update("image", progress=progress)
    else:
        run.end("image", status, message)

    # 3. the pipeline's run, followed to its end
    run.start("run")
    out = await pipelines.start_run(req, db, who, slug, promoted.pipeline, promoted.version,
                                    plan["pipeline"]["parameters"])
    run.update("run", pipeline=promoted.pipeline, run_id=out.run_id, mlflow_run_id=out.mlflow_run_id)
    while True:
        if image_pending:
            status, message, progress = image_state(settings)
            image_pending = status == "running"
            if image_pending:
                run.update("image", message=message, progress=progress)
            else:
                run.update("image", progress=[])  # the build's "... s so far" lines are over
                run.end("image", status, message)
        out = await pipelines.get_run(req, db, who, slug, out.run_id)
        lines = [f"{s.name}: {s.status}" + (f" — {s.progress}" if s.progress else "") for s in out.stages]
        run.update("run", progress=lines, message=f"{out.status} ({out.executor or 'starting'})")
        if out.status in pipelines.TERMINAL:
            break
        await asyncio.sleep(POLL_S)
    if image_pending:  # the run ended and the platform's record still says building: say what it says
        run.update("image", progress=[])
        run.end("image", "done", f"{message} (the record at the run's end)")
    if out.status != "SUCCESS":
        bad = next((s for s in out.stages if s.status in ("FAILURE", "FAILED") or s.error), None)
        if bad is not None:
            err = bad.error or {}
            cell = f" in cell {err['cell']}" if err.get("cell") is not None else ""
            raise Failed(f"stage '{bad.name}' failed{cell}: {str(err.get('error') or 'see its log')[:1500]} — fix "
                         f"the cells tagged stage:{bad.name} (its log: pipeline run {out.run_id}) and ship again")
        raise Failed(f"the pipeline run ended {out.status}")
    run.end("run", message=f"SUCCESS in {len(out.stages)} stage(s)")

    # 4. the model the run registered (the run's end registers every model its stages logged)
    run.start("register")
    name = plan["model"]["name"]

    def registered() -> tuple[int | None, list[str]]:
        rows = db.execute(select(RegisteredModel.name, ModelVersion.version)
                          .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
                          .where(ModelVersion.pipeline_run_id == out.run_id)).all()
        db.commit()
        return next((v for n, v in rows if n == name), None), [f"{n} v{v}" for n, v in rows]

    version, found = None, []
    for _ in range(30):
        version, found = await run_in_threadpool(registered)
        if version is not None:
            break
        await asyncio.sleep(POLL_S)
    if version is None:
        raise Failed(f"the run registered {', '.join(found) or 'no model'}, not {name}: log the model with "
                     f"mlflow (log_model) in a stage, or set the plan's model name")
    run.end("register", message=f"{name} v{version}, signed", model=name, version=version)

    # 5. the gates: the plan's where the model has none or a lead ships, the lead's otherwise
    run.start("gates")

    def gate_config() -> str:
        g = require(db, who, slug, Action.write_models, target=f"ship:{rec['id']}")
        m = db.execute(select(RegisteredModel).where(RegisteredModel.project_id == g.project.id,
                                                     RegisteredModel.name == name)).scalar_one()
        stored, wanted = _stored(m.gates), _gates_of(plan)
        db.commit()
        if stored == wanted:
            return "kept"
        if stored == _stored(None):
            registry.set_initial_gates(db, who, slug, name, wanted)
            return "set"
        registry.set_gates(db, who, slug, name, wanted)  # a lead's change; anyone else is refused here
        return "changed"

    how = await run_in_threadpool(gate_config)
    decision = await registry.promote(slug, name, version, "champion", req, db, who)
    results = (decision.evidence or {}).get("results", [])
    lines = [f"{'ok  ' if r.get('passed') else 'FAIL'} {r.get('message') or r.get('gate')}" for r in results]
    if decision.status == "failed":
        run.update("gates", progress=lines)
        failing = "; ".join(r.get("message") or str(r.get("gate")) for r in results if not r.get("passed"))
        raise Failed(f"{name} v{version} failed the gates ({failing}): the champion stays. Improve the model (or, "
                     f"as a lead, the gates) and ship again")
    run.end("gates", message=f"{decision.status} (gates {how})", decision=decision.id, model=name, version=version)
    run.update("gates", progress=lines)
    # The version passed its gates: a worker starts loading it now, while a lead approves and before the deploy
    # step, which adopts it (issue 16 item 2). Its own session: the chain goes on with `db` meanwhile.
    dp = plan["deployment"]
    warming = asyncio.create_task(_warm(app, who, slug, dp["name"], name, version))
    run.update("deploy", progress=[f"warming a worker of {name} v{version} since the gates passed"])

    # 6. a lead's approval, when the gates ask for one: the Ship waits for it
    if decision.status == "pending":
        run.start("approval")
        run.update("approval", status="waiting", decision=decision.id, model=name, version=version,
                   message=f"waiting for a lead to approve decision {decision.id} (Models panel, or `mlp models "
                           f"approve {decision.id} -P {slug}`)")

        def decided() -> GateDecision:
            d = db.get(GateDecision, decision.id)
            db.refresh(d)
            db.commit()
            return d

        while True:
            d = await run_in_threadpool(decided)
            if d.status != "pending":
                break
            await asyncio.sleep(POLL_S)
        run.update("approval", status="running")
        if d.status != "approved":
            await asyncio.gather(warming, return_exceptions=True)
            await serving.drop_warm(app, slug, dp["name"], version)
            raise Failed(f"{d.decided_by} rejected {name} v{version}: {d.reason or 'no reason given'}")
        run.end("approval", message=f"approved by {d.decided_by}" + (f": {d.reason}" if d.reason else ""),
                decision=decision.id)
    else:
        run.end("approval", "skipped", "the gates ask for no approval")

    # 7. deploy (or switch the deployment that serves the model: traffic moves once the new workers are ready)
    await asyncio.gather(warming, return_exceptions=True)  # its files are fetched; its worker may still load
    run.start("deploy", f"starting workers for {name} v{version}")

    def existing() -> bool:
        try:
            serving.get_deployment(app, db, who, slug, dp["name"], req.base_url)
            return True
        except NotFound:
            db.rollback()
            return False

    if await run_in_threadpool(existing):
        d = await serving.switch(app, db, who, slug, dp["name"], version)
        how = "switched"
        d = await run_in_threadpool(serving.get_deployment, app, db, who, slug, dp["name"], req.base_url)
        if (d.min_workers, d.max_workers, d.sla_ms) != (dp["min_workers"], dp["max_workers"], dp["sla_ms"]):
            await run_in_threadpool(serving.scale, app, db, who, slug, dp["name"], dp["min_workers"],
                                    dp["max_workers"], dp["sla_ms"])
    else:
        scaling = serving.Scaling(min_workers=dp["min_workers"], max_workers=dp["max_workers"], sla_ms=dp["sla_ms"])
        d = await serving.deploy(app, db, who, slug, name=dp["name"], model=name, version=version, scaling=scaling)
        how = "deployed"
    if d.status not in ("ready", "degraded") or d.version != version:
        raise Failed(f"{dp['name']} did not start serving v{version}: {d.message or d.status} (its workers' logs "
                     f"are in the Deployments panel)")
    run.end("deploy", message=f"{how}: {dp['name']} serves {name} v{version} on {len(d.workers)} worker(s)",
            deployment=dp["name"], version=version)

    # 8. the monitor
    run.start("monitor")
    mp = plan["monitor"]
    m = await monitoring.set_monitor(app, req, db, who, slug, dp["name"], monitoring.MonitorRequest(
        window_size=mp["window_size"], tolerance=mp["tolerance"], retrain=mp["retrain"]))
    run.end("monitor", message=f"windows of {m.window_size} predictions: drift per feature, performance once "
            f"labels arrive" + (", retraining through the gates" if mp["retrain"] else ""), deployment=dp["name"])

    # 9. what a client needs for its first call
    run.start("endpoint")
    rec["endpoint"] = await _endpoint(app, req, db, who, slug, rec["id"], name, version, dp["name"], out.snapshots)
    run.end("endpoint", message=rec["endpoint"]["url"], deployment=dp["name"])


def image_state(settings) -> tuple[str, str, list[str]]:  # noqa: ANN001
    """The `image` step from the platform's record of its stage base image (checked, and built when missing, as
    the platform starts): (status, message, progress lines)."""
    if settings.container_engine == "none":
        return "skipped", "stages run in local processes (MLP_CONTAINER_ENGINE=none): no image to build", []
    b = pipelines.base_image_status(settings)
    if b is None:
        return "running", "the platform is checking the stage base image", []
    state, image, detail = b.get("state"), b.get("image"), b.get("detail") or ""
    if state == "building":
        took = max(0.0, time.time() - float(b.get("since") or time.time()))
        return "running", f"building base image {image} (the platform started it at its start)", [
            f"building base image {image}: {detail}", f"{took:.0f} s so far"]
    if state == "ready":
        return "done", f"base image {image} ready ({detail})", []
    if state == "failed":
        return "done", f"the platform's build of base image {image} failed ({detail}): the first stage builds it " \
                       "again, and says why if it fails", []
    return "skipped", f"no image: {detail or state}", []


async def _warm(app, who: Identity, slug: str, deployment: str, model: str, version: int) -> None:  # noqa: ANN001
    """serving.warm in a session of its own; a warm start that fails only costs the deploy its head start."""
    try:
        with app.state.db.session() as db:
            await serving.warm(app, db, who, slug, deployment, model, version)
    except Exception:  # noqa: BLE001 - the deploy step starts its workers itself and says why they fail
        log.exception("warming a worker of %s v%s for %s/%s", model, version, slug, deployment)


def _gates_of(plan: dict[str, Any]) -> dict[str, Any]:
    g = plan["gates"]
    return {"thresholds": g["thresholds"], "challenger": g["challenger"], "evaluation": g["evaluation"],
            "require_approval": g["require_approval"]}


async def _example_row(app, db: DB, who: Identity, slug: str, columns: list[str],  # noqa: ANN001
                       snapshots: dict[str, int]) -> tuple[list[Any] | None, str | None]:
    """The first row of a dataset the run read (at the snapshot it pinned) that has every input column."""
    import pyarrow.parquet as pq

    await run_in_threadpool(lambda: (require(db, who, slug, Action.read_runs, target="ship:example"), db.commit()))
    for dataset, snap in sorted(snapshots.items()):
        try:
            data, _ = await run_in_threadpool(app.state.datasets.read, slug, dataset, snap)
            table = pq.read_table(io.BytesIO(data))
        except Exception:  # noqa: BLE001, S112 - another dataset may have the columns
            continue
        if columns and set(columns) <= set(table.column_names) and table.num_rows:
            row = table.select(columns).slice(0, 1).to_pylist()[0]
            return [row[c] for c in columns], f"dataset {dataset}, snapshot {snap}, first row"
    return None, None


def shaped_example(app, db: DB, who: Identity, slug: str, ship_id: str, body: dict[str, Any],  # noqa: ANN001
                   source: str | None) -> tuple[dict[str, Any], str | None]:
    """The example request as the caller's role may see its row (the project's column policies on those column
    names: masked or hashed values; a denied column leaves the example without its row, naming the policy)."""
    from ..datasets.service import ColumnDenied, caller_column_policies

    shaper = caller_column_policies(db, who, slug)
    try:
        shaped = shaper.json(body)
    except ColumnDenied as e:
        shaper.refused(db, who, slug, "ship-example", f"ship:{ship_id}", e)
        return {"dataframe_split": {"columns": body["dataframe_split"]["columns"], "data": []}}, e.message
    shaper.audit(db, who, slug, "ship-example", f"ship:{ship_id}")
    db.commit()
    if shaper.applied:
        source = f"{source} ({', '.join(r.name for r in shaper.applied)})"
    return shaped, source


async def _endpoint(app, req: _Request, db: DB, who: Identity, slug: str, ship_id: str, model: str,  # noqa: ANN001
                    version: int, deployment: str, snapshots: dict[str, int]) -> dict[str, Any]:
    sig = await registry.version_signature(app, db, who, slug, model, version)
    columns = [c.get("name") for c in sig.get("inputs", []) if c.get("name")]
    d = await run_in_threadpool(serving.get_deployment, app, db, who, slug, deployment, req.base_url)
    base = (d.base_url or req.base_url).rstrip("/")
    row, source = await _example_row(app, db, who, slug, columns, snapshots)
    if row is None and d.example:
        columns, row, source = d.example["columns"], d.example["data"][0], "the model's logged example"
    body = {"dataframe_split": {"columns": columns, "data": [row] if row is not None else []}}
    body, source = await run_in_threadpool(shaped_example, app, db, who, slug, ship_id, body, source)
    key, prefix, key_message = None, None, None
    try:
        new = await run_in_threadpool(serving.create_key, db, who, slug, f"ship-{deployment}"[:64], deployment)
        key, prefix = new.key, new.prefix
        app.state.ships.keys[ship_id] = key
    except Forbidden:
        db.rollback()
        key_message = (f"{who.user} may not create API keys (a lead's right): a lead runs `mlp keys create NAME "
                       f"--deployment {deployment} -P {slug}`; the requests below read the key from MLP_API_KEY")
    url, v2 = f"{base}{d.url}", f"{base}{d.v2_url}"
    data = json.dumps(body)
    curl = (f"curl -X POST {shlex.quote(url)} -H \"Authorization: Bearer $MLP_API_KEY\" "
            f"-H 'Content-Type: application/json' -d {shlex.quote(data)}")
    python = ("import os\nimport requests\n\n"
              f"r = requests.post({url!r},\n"
              "                  headers={\"Authorization\": f\"Bearer {os.environ['MLP_API_KEY']}\"},\n"
              f"                  json={body!r})\nprint(r.json()[\"predictions\"])\n")
    mlflow_dep = ("import os\nfrom mlflow.deployments import get_deploy_client\n\n"
                  "os.environ[\"MLFLOW_TRACKING_TOKEN\"] = os.environ[\"MLP_API_KEY\"]  # the key, as MLflow's bearer "
                  "token\n"
                  f"client = get_deploy_client({base + '/serve/' + slug!r})\n"
                  f"print(client.predict(endpoint={deployment!r}, inputs={body!r})[\"predictions\"])\n")
    return EndpointOut(url=url, v2_url=v2, api_key=None, key_prefix=prefix, key_message=key_message, body=body,
                       example_from=source, requests=Requests(curl=curl, python=python,
                                                              mlflow_deployments=mlflow_dep)).model_dump()


# --- reading ---------------------------------------------------------------------------------------------------

def _out(app, rec: dict[str, Any], who: Identity, claim: str | None = None,  # noqa: ANN001
         key: bool = False) -> ShipOut:
    state: ShipState = app.state.ships
    if rec["status"] in ("running", "waiting") and rec["id"] not in state.tasks:
        rec = {**rec, "status": "interrupted", "message": "The backend stopped while this Ship ran: ship again"}
    out = ShipOut(**rec)
    if key and out.endpoint is not None and out.status == "succeeded" and who.user == rec["created_by"]:
        out.endpoint.api_key = state.take_key(rec["id"], claim)  # shown once (to one reader)
    return out


def get(app, db: DB, who: Identity, slug: str, ship_id: str, claim: str | None = None) -> ShipOut:  # noqa: ANN001
    """A Ship's steps as they stand (project members); the new API key in the shipper's first read of the finished
    Ship, and again in reads with that read's `claim`."""
    require(db, who, slug, Action.read_pipelines, target=f"ship:{ship_id[:64]}")
    db.commit()
    return _out(app, _load(app.state.settings.home, slug, ship_id), who, claim, key=True)


def list_ships(app, db: DB, who: Identity, slug: str, limit: int, offset: int) -> ShipPage:  # noqa: ANN001
    """The project's Ships, newest first (never with the new API key: the single Ship's read hands it out)."""
    require(db, who, slug, Action.read_pipelines, target="ships")
    db.commit()
    folder = _folder(app.state.settings.home, slug)
    recs = []
    for p in folder.glob("*.json") if folder.is_dir() else []:
        try:
            recs.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    recs.sort(key=lambda r: r["created_at"], reverse=True)
    return ShipPage(items=[_out(app, r, who) for r in recs[offset:offset + limit]], total=len(recs))


__all__ = ["ShipState", "get", "list_ships", "start"]
