"""Pipeline runs API: run a version through Dagster, replay, poll, list, cancel, a stage's log, the executor.

The HTTP layer only: the bodies are run_service.py (launching, reading, cancelling) and run_status.py (a run's
state and its end); run_watcher.py closes the runs nobody polls."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from ..deps import DB, Caller, Paging
from . import run_service as service
from .schemas import ExecutorOut, PipelineRunOut, PipelineRunPage, RunRequest

router = APIRouter(tags=["pipelines"])


@router.post("/projects/{slug}/pipelines/{name}/runs", response_model=PipelineRunOut, status_code=201,
             summary="Run a pipeline version with parameters")
async def start_run(slug: str, name: str, body: RunRequest, request: Request, db: DB, who: Caller) -> PipelineRunOut:
    return await service.start_run(request, db, who, slug, name, body.version, body.parameters)


@router.post("/projects/{slug}/pipeline-runs/{run_id}/replay", response_model=PipelineRunOut, status_code=201,
             summary="Run again exactly: same version, same parameters, same dataset snapshots")
async def replay_run(slug: str, run_id: str, request: Request, db: DB, who: Caller) -> PipelineRunOut:
    return await service.replay_run(request, db, who, slug, run_id)


@router.get("/projects/{slug}/pipeline-runs/{run_id}", response_model=PipelineRunOut,
            summary="A pipeline run with the status of each stage")
async def get_run(slug: str, run_id: str, request: Request, db: DB, who: Caller) -> PipelineRunOut:
    return await service.get_run(request, db, who, slug, run_id)


@router.get("/projects/{slug}/pipelines/{name}/runs", response_model=PipelineRunPage,
            summary="Runs of a pipeline, newest first")
async def list_runs(slug: str, name: str, request: Request, db: DB, who: Caller, page: Paging) -> PipelineRunPage:
    return await service.list_runs(request, db, who, slug, name, page.limit, page.offset)


@router.post("/projects/{slug}/pipeline-runs/{run_id}/cancel", response_model=PipelineRunOut,
             summary="Cancel a running pipeline run")
async def cancel_run(slug: str, run_id: str, request: Request, db: DB, who: Caller) -> PipelineRunOut:
    return await service.cancel_run(request, db, who, slug, run_id)


@router.get("/pipeline-executor", response_model=ExecutorOut, summary="Where pipeline stages run on this platform")
async def get_executor(request: Request, who: Caller) -> ExecutorOut:
    return await service.executor(request.app.state.settings)


@router.get("/projects/{slug}/pipeline-runs/{run_id}/stages/{stage}/log", response_class=PlainTextResponse,
            summary="What a stage printed (papermill, the kernel's stderr, the container), last megabyte",
            responses={200: {"content": {"text/plain": {}}}})
async def stage_log(slug: str, run_id: str, stage: str, request: Request, db: DB, who: Caller) -> PlainTextResponse:
    return PlainTextResponse(await service.stage_log(request.app.state.settings.home, db, who, slug, run_id, stage))
