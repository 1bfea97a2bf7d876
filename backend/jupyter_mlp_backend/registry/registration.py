"""Registering model versions: a run's model (the register route, and the MLflow client's create-model-version
through the gateway) and, after a pipeline run succeeded, every model its stages logged; the verified loader of a
stored version and the verify route."""

from __future__ import annotations

import json
import logging
import shutil
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from jupyter_mlp.signing import canonical

from .. import audit
from ..access import Action, require
from ..deps import DB
from ..errors import Invalid
from ..experiments.projects import experiment_ids
from ..identity import Identity
from ..orm import ModelVersion, PipelineRunRecord, PipelineVersion, RegisteredModel
from . import artifacts, records
from .artifacts import MODEL_NAME, Refused, Unavailable
from .schemas import VerifyOut, VersionOut

log = logging.getLogger(__name__)


async def register_version(app, db: DB, who: Identity, slug: str, name: str, run_id: str,  # noqa: ANN001
                           artifact_path: str) -> tuple[RegisteredModel, ModelVersion]:
    """Resolve, fetch and hash, sign, then create the MLflow version and our record; undo MLflow on failure."""
    exp = await records.experiments(app)

    def grant():  # noqa: ANN202
        g = require(db, who, slug, Action.write_models, target=f"{name}:{run_id}")
        ids = experiment_ids(db, g.project.id)
        db.commit()
        return g.project.id, ids

    project_id, ids = await run_in_threadpool(grant)
    src = await artifacts.resolve_source(exp, ids, run_id, artifact_path)
    run = (await exp.mlflow.client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})).json()["run"]
    pipeline = await run_in_threadpool(pipeline_of_run, db, slug, await ancestors(exp, run))
    if pipeline is not None:
        # What every stage of the pipeline run read: the stage that logs the model often gets its data from an
        # earlier stage, so its own run records no read (drift references are built from these).
        siblings = await exp.mlflow.client.post("/api/2.0/mlflow/runs/search", json={
            "experiment_ids": [run["info"]["experiment_id"]],
            "filter": f"tags.mlflow.parentRunId = '{pipeline['mlflow_run']}'",
            "max_results": 100})
        pipeline["stage_reads"] = [t["value"] for r in (siblings.json().get("runs", []) if siblings.status_code == 200
                                                        else []) for t in r["data"].get("tags", [])
                                   if t["key"] == "mlp.datasets"]
    files = await artifacts.download_tree(exp, src.base, None)  # hashed as they arrive; never written nor loaded
    if not any(f["path"] == "MLmodel" for f in files):
        raise Invalid(f"'{artifact_path}' is not an MLflow model (no MLmodel file)", detail=[{"field": "artifact_path"}])
    lin = artifacts.lineage(run, pipeline, app.state.settings.home)
    mlflow_name = artifacts.mlflow_model_name(app.state.settings, slug, name)

    # MLflow: the registered model (once), then the version.
    created = await exp.mlflow.client.post("/api/2.0/mlflow/registered-models/create", json={"name": mlflow_name})
    if created.status_code != 200 and "RESOURCE_ALREADY_EXISTS" not in created.text:
        raise Unavailable(f"MLflow refused the registered model: {created.text[:300]}")
    body = {"name": mlflow_name, "source": src.uri, "run_id": run_id,
            "tags": [{"key": "mlp.project", "value": slug}, {"key": "mlp.lineage.data_sha256",
                                                              "value": lin["data_sha256"]}]}
    if src.model_id:
        body["model_id"] = src.model_id
    mv = await exp.mlflow.client.post("/api/2.0/mlflow/model-versions/create", json=body)
    if mv.status_code != 200:
        raise Unavailable(f"MLflow refused the model version: {mv.text[:300]}")
    number = int(mv.json()["model_version"]["version"])
    try:
        signed = artifacts.sign(records.signer(app), artifacts.statement(slug, name, number, files, lin, src.uri))
        metrics = {m["key"]: m["value"] for m in run["data"].get("metrics", [])}
        params = {p["key"]: p["value"] for p in run["data"].get("params", [])}

        def store() -> tuple[RegisteredModel, ModelVersion]:
            m = db.execute(select(RegisteredModel).where(RegisteredModel.project_id == project_id,
                                                         RegisteredModel.name == name)).scalar_one_or_none()
            if m is None:
                m = RegisteredModel(project_id=project_id, name=name, mlflow_name=mlflow_name, created_by=who.user)
                db.add(m)
                db.flush()
            v = ModelVersion(model_id=m.id, version=number, mlflow_run_id=run_id, source=src.uri,
                             pipeline_run_id=(pipeline or {}).get("run_id"), lineage=json.dumps(lin),
                             statement=canonical(signed.statement).decode(), signature=signed.signature,
                             key_id=signed.key_id, metrics=json.dumps(metrics), params=json.dumps(params),
                             created_by=who.user)
            db.add(v)
            audit.append(db, actor=who.user, action="model.register", decision="allow", project=slug,
                         target=f"{name}/{number}", detail={"run": run_id, "source": src.uri, "files": len(files),
                                                            "key_id": signed.key_id,
                                                            "data_sha256": lin["data_sha256"]})
            db.commit()
            return m, v

        return await run_in_threadpool(store)
    except BaseException:
        await exp.mlflow.client.request("DELETE", "/api/2.0/mlflow/model-versions/delete",
                                        json={"name": mlflow_name, "version": str(number)})
        raise


NESTING = 5  # how far below a pipeline run a stage's runs may nest (stage run, its nested runs, theirs...)


async def ancestors(exp, run: dict[str, Any]) -> list[str]:  # noqa: ANN001
    """The run's parent, grandparent... (nearest first, at most NESTING), by their `mlflow.parentRunId` tags."""
    out: list[str] = []
    tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    while (parent := tags.get("mlflow.parentRunId")) and parent not in out and len(out) < NESTING:
        out.append(parent)
        r = await exp.mlflow.client.get("/api/2.0/mlflow/runs/get", params={"run_id": parent})
        if r.status_code != 200:
            break
        tags = {t["key"]: t["value"] for t in r.json()["run"]["data"].get("tags", [])}
    return out


def pipeline_of_run(db: DB, slug: str, ancestors: list[str]) -> dict[str, Any] | None:
    """The pipeline run a stage's MLflow run (or a run nested in one) belongs to, by its ancestor runs, if any."""
    if not ancestors:
        return None
    rows = db.execute(select(PipelineRunRecord, PipelineVersion.digest)
                      .join(PipelineVersion, PipelineRunRecord.version_id == PipelineVersion.id)
                      .where(PipelineRunRecord.mlflow_run_id.in_(ancestors))).all()
    db.commit()
    if not rows:
        return None
    rec, digest = min(rows, key=lambda row: ancestors.index(row[0].mlflow_run_id))
    return {"run_id": rec.id, "version": digest, "project": slug, "snapshots": json.loads(rec.snapshots or "{}"),
            "mlflow_run": rec.mlflow_run_id}


async def register_pipeline_models(app, db: DB, slug: str, rec: PipelineRunRecord,  # noqa: ANN001
                                   pipeline_name: str) -> list[str]:
    """After a pipeline run succeeded: register every model its stages logged, as the run's creator.

    A stage's models are those of its run and of the runs nested under it (`start_run(nested=True)`, a run
    started after the stage's run ended), and those `log_model` made outside any run, which name the stage's
    run in the `mlp.pipeline.stage_run` tag (jupyter_mlp.lineage)."""
    exp = app.state.experiments
    experiment = exp.experiment_of_run(rec.mlflow_run_id)

    async def search(path: str, flt: str, key: str) -> list[dict[str, Any]]:
        r = await exp.mlflow.client.post(f"/api/2.0/mlflow/{path}/search", json={
            "experiment_ids": [experiment], "filter": flt, "max_results": 1000 if key == "runs" else 100})
        return r.json().get(key, []) if r.status_code == 200 else []

    found: list[tuple[str, str, str]] = []  # (run the model belongs to, logged name, its files' URI), as they ran
    seen: set[str] = set()
    level = [rec.mlflow_run_id]
    for depth in range(NESTING):
        below = []
        for parent in level:
            for run in await search("runs", f"tags.mlflow.parentRunId = '{parent}'", "runs"):
                rid = run["info"]["run_id"]
                below.append(rid)
                unlinked = [] if depth else [
                    m for m in await search("logged-models", f"tags.`mlp.pipeline.stage_run` = '{rid}'", "models")
                    if not m["info"].get("source_run_id")]
                for m in await search("logged-models", f"source_run_id = '{rid}'", "models") + unlinked:
                    if m["info"]["model_id"] not in seen:
                        seen.add(m["info"]["model_id"])
                        base = (m["info"].get("artifact_uri") or "").removeprefix("mlflow-artifacts:/").strip("/")
                        found.append((rid, m["info"].get("name", "model"), f"mlflow-artifacts:/{base}"))
        level = below

    def registered() -> set[tuple[str, str]]:
        # (run, source) of the versions already registered from this pipeline run: a close retried after it
        # failed half-way (or a poll racing the watcher) registers each model once
        rows = db.execute(select(ModelVersion.mlflow_run_id, ModelVersion.source)
                          .where(ModelVersion.pipeline_run_id == rec.id)).all()
        db.commit()
        return {(r, s) for r, s in rows}

    already = await run_in_threadpool(registered)
    done = []
    for rid, logged, uri in found:
        if (rid, uri) in already:
            continue
        name = pipeline_name if logged == "model" or not MODEL_NAME.match(logged) else logged
        try:
            await register_version(app, db, Identity(user=rec.created_by, is_admin=False), slug,
                                   name[:63], rid, logged)
            done.append(f"{name}:{rid}")
        except Exception as e:  # noqa: BLE001 - one model failing must not hide the others; it is logged
            log.warning("auto-registration of %s from run %s failed: %s", logged, rid, e)
    return done


async def register(app, db: DB, who: Identity, slug: str, name: str, run_id: str,  # noqa: ANN001
                   artifact_path: str) -> VersionOut:
    """The register route: a run's model as a new signed version, answered as the API shows versions."""
    m, v = await register_version(app, db, who, slug, name, run_id, artifact_path)
    out = await run_in_threadpool(records.version_out, db, m, v)
    db.commit()
    return out


async def fetch_verified(app, db: DB, slug: str, project_id: int, m: RegisteredModel,  # noqa: ANN001
                         v: ModelVersion, dest=None):  # noqa: ANN001, ANN201
    """The folder of a version's files, verified against its signed manifest; Refused otherwise."""
    exp = await records.experiments(app)
    ids = await run_in_threadpool(lambda: (experiment_ids(db, project_id), db.commit())[0])
    return await artifacts.fetch_verified(exp, records.signer(app), slug=slug, name=m.name, version=v.version,
                                          source=v.source, statement_json=v.statement, signature=v.signature,
                                          experiment_ids=ids, dest=dest)


async def verify(app, db: DB, who: Identity, slug: str, name: str, version: int) -> VerifyOut:  # noqa: ANN001
    """Re-hash every file of a version and check the signature; says what is wrong."""
    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.read_models, target=f"{name}/{version}")
        m = records.model(db, g.project.id, name)
        v = records.version(db, m, version)
        db.commit()
        return g.project.id, m, v

    project_id, m, v = await run_in_threadpool(load)
    files = len(json.loads(v.statement).get("files", [])) if v.statement else 0
    try:
        folder = await fetch_verified(app, db, slug, project_id, m, v)
    except Refused as e:
        return VerifyOut(ok=False, message=e.message, files=files, key_id=v.key_id)
    shutil.rmtree(folder, ignore_errors=True)
    return VerifyOut(ok=True, message=f"{files} files match the manifest signed by key {v.key_id}", files=files,
                     key_id=v.key_id)
