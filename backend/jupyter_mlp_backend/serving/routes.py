"""Deployments API: deploy a version, switch, roll back, scale, stop; API keys; batch jobs; metrics, events, worker
logs and the prediction log.

The HTTP layer only: each route parses its request, calls the serving service (`deployments`, `jobs`, `keys`) and
returns its result; access checks, domain errors and the work itself are there. Imported by the app factory only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from ..deps import DB, Caller, Paging
from . import client_tls, deployments, examples, jobs, keys
from .schemas import (BatchJobOut, BatchJobPage, ClientCertOut, ClientCertRequest, ClientTlsOut, ClientTlsRequest,
                       BatchRequest, DatasetName, DeploymentMetrics, DeploymentOut,
                      DeploymentPage, DeployRequest, EventPage, KeyOut, KeyPage, KeyRequest, LogOut, NewKeyOut,
                      PredictionPage, ScaleRequest, SwitchRequest)

router = APIRouter(tags=["serving"])


# --- deployments -------------------------------------------------------------------------------------------------

@router.post("/projects/{slug}/deployments", response_model=DeploymentOut, status_code=201,
             summary="Deploy a validated model version: workers verify and load it, then the endpoint answers")
async def deploy(slug: str, body: DeployRequest, request: Request, db: DB, who: Caller) -> DeploymentOut:
    return await deployments.deploy(request.app, db, who, slug, name=body.name, model=body.model,
                                    version=body.version, alias=body.alias, scaling=body)


@router.get("/projects/{slug}/deployments", response_model=DeploymentPage, summary="The project's deployments")
def list_deployments(slug: str, request: Request, db: DB, who: Caller, page: Paging) -> DeploymentPage:
    return deployments.list_deployments(request.app, db, who, slug, page.limit, page.offset)


@router.get("/projects/{slug}/deployments/{name}", response_model=DeploymentOut, summary="A deployment")
def get_deployment(slug: str, name: str, request: Request, db: DB, who: Caller) -> DeploymentOut:
    return examples.get_deployment(request.app, db, who, slug, name, str(request.base_url))


@router.put("/projects/{slug}/deployments/{name}/version", response_model=DeploymentOut,
            summary="Serve another validated version; traffic moves when its workers are ready")
async def switch(slug: str, name: str, body: SwitchRequest, request: Request, db: DB, who: Caller) -> DeploymentOut:
    return await deployments.switch(request.app, db, who, slug, name, body.version, body.alias)


@router.post("/projects/{slug}/deployments/{name}/rollback", response_model=DeploymentOut,
             summary="Serve the version that served before the last switch")
async def rollback(slug: str, name: str, request: Request, db: DB, who: Caller) -> DeploymentOut:
    return await deployments.rollback(request.app, db, who, slug, name)


@router.patch("/projects/{slug}/deployments/{name}", response_model=DeploymentOut,
              summary="Change the worker range and the latency objective")
def scale(slug: str, name: str, body: ScaleRequest, request: Request, db: DB, who: Caller) -> DeploymentOut:
    return deployments.scale(request.app, db, who, slug, name, body.min_workers, body.max_workers, body.sla_ms)


@router.delete("/projects/{slug}/deployments/{name}", status_code=204, summary="Stop and remove a deployment")
async def delete_deployment(slug: str, name: str, request: Request, db: DB, who: Caller) -> None:
    await deployments.delete(request.app, db, who, slug, name)


@router.get("/projects/{slug}/deployments/{name}/events", response_model=EventPage,
            summary="Deploys, switches, rollbacks, scaling and restarts, newest first")
def events(slug: str, name: str, db: DB, who: Caller, page: Paging) -> EventPage:
    return deployments.events(db, who, slug, name, page.limit, page.offset)


@router.get("/projects/{slug}/deployments/{name}/metrics", response_model=DeploymentMetrics,
            summary="Latency percentiles, errors and traffic in 10-second windows (this backend's memory)")
def metrics(slug: str, name: str, request: Request, db: DB, who: Caller,
            minutes: Annotated[float, Query(gt=0, le=60)] = 15) -> DeploymentMetrics:
    return deployments.metrics(request.app, db, who, slug, name, minutes)


@router.get("/projects/{slug}/deployments/{name}/logs", response_model=list[LogOut],
            summary="The last lines each worker wrote")
def logs(slug: str, name: str, request: Request, db: DB, who: Caller,
         lines: Annotated[int, Query(ge=1, le=2000)] = 200) -> list[LogOut]:
    return deployments.logs(request.app, db, who, slug, name, lines)


@router.get("/projects/{slug}/deployments/{name}/predictions", response_model=PredictionPage,
            summary="The prediction log, newest first, with labels posted as feedback")
async def predictions(slug: str, name: str, request: Request, db: DB, who: Caller, page: Paging) -> PredictionPage:
    return await deployments.predictions(request.app, db, who, slug, name, page.limit, page.offset)


# --- batch scoring -----------------------------------------------------------------------------------------------

@router.post("/projects/{slug}/deployments/{name}/batch", response_model=BatchJobOut, status_code=202,
             summary="Score a project dataset snapshot with the deployment's version, in chunks, in the background")
async def batch_dataset(slug: str, name: str, body: BatchRequest, request: Request, db: DB,
                        who: Caller) -> BatchJobOut:
    return await jobs.score_dataset(request.app, db, who, slug, name, dataset=body.dataset,
                                    snapshot_id=body.snapshot_id, output_dataset=body.output_dataset,
                                    chunk_rows=body.chunk_rows)


@router.post("/projects/{slug}/deployments/{name}/batch/upload", response_model=BatchJobOut, status_code=202,
             summary="Score an uploaded Parquet or CSV file (the request body) with the deployment's version",
             openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}, "required": True}})
async def batch_upload(slug: str, name: str, request: Request, db: DB, who: Caller,
                       format: Annotated[Literal["parquet", "csv"], Query()] = "parquet",
                       output_dataset: Annotated[DatasetName | None, Query()] = None,
                       chunk_rows: Annotated[int, Query(ge=1, le=1_000_000)] = 10_000) -> BatchJobOut:
    return await jobs.score_upload(request.app, db, who, slug, name, request.stream(), fmt=format,
                                   output_dataset=output_dataset, chunk_rows=chunk_rows)


@router.get("/projects/{slug}/deployments/{name}/batch", response_model=BatchJobPage,
            summary="Batch jobs of a deployment, newest first")
def list_batch(slug: str, name: str, db: DB, who: Caller, page: Paging) -> BatchJobPage:
    return jobs.list_jobs(db, who, slug, name, page.limit, page.offset)


@router.get("/projects/{slug}/batch-jobs/{job_id}", response_model=BatchJobOut, summary="A batch job's progress")
def get_batch(slug: str, job_id: str, db: DB, who: Caller) -> BatchJobOut:
    return jobs.get_job(db, who, slug, job_id)


@router.get("/projects/{slug}/batch-jobs/{job_id}/output", summary="The scored rows as Parquet (file output)",
            response_class=Response, responses={200: {"content": {"application/vnd.apache.parquet": {}}}})
def batch_output(slug: str, job_id: str, request: Request, db: DB, who: Caller) -> Response:
    out = jobs.output_file(request.app, db, who, slug, job_id)  # authenticated whole: a tampered file is a 409
    headers = {"content-disposition": f'attachment; filename="{job_id}.parquet"'}
    # the rows as the caller's role may see them (column policies: a rewritten copy, removed once sent), streamed
    out = jobs.shaped_output(db, who, slug, job_id, out)
    return StreamingResponse(out.chunks(), media_type="application/vnd.apache.parquet",
                             headers={**headers, "content-length": str(out.size)},
                             background=BackgroundTask(out.discard))


# --- API keys ----------------------------------------------------------------------------------------------------

@router.post("/projects/{slug}/api-keys", response_model=NewKeyOut, status_code=201,
             summary="A key for a client system (leads); the key is shown once and kept only as a hash")
def create_key(slug: str, body: KeyRequest, db: DB, who: Caller) -> NewKeyOut:
    return keys.create_key(db, who, slug, body.name, body.deployment, body.rate_per_s)


@router.get("/projects/{slug}/api-keys", response_model=KeyPage, summary="The project's keys (never the secrets)")
def list_keys(slug: str, db: DB, who: Caller, page: Paging) -> KeyPage:
    return keys.list_keys(db, who, slug, page.limit, page.offset)


@router.delete("/projects/{slug}/api-keys/{prefix}", response_model=KeyOut,
               summary="Revoke a key: its next request gets 401")
def revoke_key(slug: str, prefix: str, request: Request, db: DB, who: Caller) -> KeyOut:
    return keys.revoke_key(request.app, db, who, slug, prefix)


# --- mutual TLS per project (serving/client_tls.py) ---------------------------------------------------------------

@router.get("/projects/{slug}/serving/tls", response_model=ClientTlsOut,
            summary="The project's client-certificate policy at the gateway and the mapped certificates")
def get_client_tls(slug: str, db: DB, who: Caller) -> ClientTlsOut:
    return client_tls.get_policy(db, who, slug)


@router.put("/projects/{slug}/serving/tls", response_model=ClientTlsOut,
            summary="Set the client CA bundle and whether a client certificate is required (lead or admin)")
def set_client_tls(slug: str, body: ClientTlsRequest, request: Request, db: DB, who: Caller) -> ClientTlsOut:
    return client_tls.set_policy(request.app, db, who, slug, body.require_client_cert, body.ca_pem)


@router.post("/projects/{slug}/serving/tls/certificates", response_model=ClientCertOut, status_code=201,
             summary="Map a client certificate to an API key: a client must then present both")
def map_client_cert(slug: str, body: ClientCertRequest, request: Request, db: DB, who: Caller) -> ClientCertOut:
    return client_tls.map_cert(request.app, db, who, slug, body.certificate_pem, body.key_prefix)


@router.delete("/projects/{slug}/serving/tls/certificates/{fingerprint}", status_code=204,
               summary="Unmap a client certificate (by its sha256 fingerprint)")
def unmap_client_cert(slug: str, fingerprint: str, request: Request, db: DB, who: Caller) -> Response:
    client_tls.unmap_cert(request.app, db, who, slug, fingerprint)
    return Response(status_code=204)
