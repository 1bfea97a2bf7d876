"""The Experiments API the panel and `mlp runs` use: search, detail, history, artifacts, compare, live events.

The HTTP layer: each route parses, calls runs_service.py and answers (the live events stream is HTTP's own)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from ..deps import DB, Caller
from . import runs_service as service
from .schemas import (
    ArtifactList,
    ExperimentPage,
    KernelCredentials,
    MetricHistory,
    RunColumns,
    RunComparison,
    RunCount,
    RunDetail,
    RunPage,
)

router = APIRouter(tags=["experiments"])


@router.get("/projects/{slug}/experiments", response_model=ExperimentPage, summary="The project's experiments")
def list_experiments(slug: str, db: DB, who: Caller) -> ExperimentPage:
    return service.list_experiments(db, who, slug)


@router.get("/projects/{slug}/runs", response_model=RunPage, summary="Search the project's runs (MLflow filter syntax)")
async def search_runs(
    slug: str,
    request: Request,
    db: DB,
    who: Caller,
    filter: Annotated[str, Query(max_length=4000, description="MLflow filter, e.g. params.alpha = '0.5'")] = "",
    order_by: Annotated[list[str], Query(max_length=5, description="e.g. metrics.auc DESC")] = [],  # noqa: B006
    experiment_id: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    page = await service.search_runs(request.app, db, who, slug, filter, order_by, experiment_id, limit, offset)
    # The page is a RunPage already: its JSON straight from pydantic, not validated and encoded again by FastAPI
    # (about 1.5 ms of a 50-run page; issue 17).
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/projects/{slug}/runs/count", response_model=RunCount,
            summary="The exact number of runs a search matches (when its page gave an estimate)")
async def count_runs(
    slug: str,
    request: Request,
    db: DB,
    who: Caller,
    filter: Annotated[str, Query(max_length=4000, description="MLflow filter, as for the search")] = "",
    experiment_id: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
) -> RunCount:
    return await service.count_runs(request.app, db, who, slug, filter, experiment_id)


@router.get("/projects/{slug}/runs/columns", response_model=RunColumns, summary="Param, metric and tag keys in use")
async def run_columns(slug: str, request: Request, db: DB, who: Caller) -> RunColumns:
    return await service.run_columns(request.app, db, who, slug)


@router.get("/projects/{slug}/runs/events", summary="Server-sent events whenever the project's runs change",
            response_class=StreamingResponse)
async def run_events(slug: str, request: Request, db: DB, who: Caller) -> StreamingResponse:
    exp = await service.events_source(request.app, db, who, slug)

    async def stream():
        seen = exp.changes.cursor(slug)
        yield f"event: runs\ndata: {json.dumps({'cursor': seen})}\n\n"
        # Until the client is gone or the backend stops (__main__ sets `stopping`; uvicorn waits for open responses).
        while not getattr(request.app.state, "stopping", False) and not await request.is_disconnected():
            now = await exp.changes.wait(slug, seen, timeout=15)
            if now == seen:
                yield ": keepalive\n\n"
                continue
            seen = now
            yield f"event: runs\ndata: {json.dumps({'cursor': seen})}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get("/projects/{slug}/runs/{run_id}", response_model=RunDetail, summary="One run with its lineage")
async def get_run(slug: str, run_id: str, request: Request, db: DB, who: Caller) -> RunDetail:
    return await service.get_run(request.app, db, who, slug, run_id)


@router.get("/projects/{slug}/runs/{run_id}/metrics/{key}", response_model=MetricHistory, summary="Metric history")
async def metric_history(slug: str, run_id: str, key: str, request: Request, db: DB, who: Caller) -> MetricHistory:
    return await service.metric_history(request.app, db, who, slug, run_id, key)


@router.get("/projects/{slug}/runs/{run_id}/artifacts", response_model=ArtifactList,
            summary="List artifacts (the run's logged models under logged-models/<name>/)")
async def list_artifacts(slug: str, run_id: str, request: Request, db: DB, who: Caller,
                         path: str = "") -> ArtifactList:
    return await service.list_artifacts(request.app, db, who, slug, run_id, path)


@router.get("/projects/{slug}/runs/{run_id}/artifact", summary="Download one artifact file",
            response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})
async def get_artifact(slug: str, run_id: str, path: str, request: Request, db: DB, who: Caller) -> Response:
    content, media, name = await service.get_artifact(request.app, db, who, slug, run_id, path)
    name = name.replace('"', "")
    # Served as a download with a sandboxing CSP: artifact HTML never runs inside the platform's origin.
    return Response(content, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    })


@router.get("/projects/{slug}/compare", response_model=RunComparison, summary="Compare 2 to 50 runs")
async def compare_runs(
    slug: str,
    request: Request,
    db: DB,
    who: Caller,
    run_ids: Annotated[str, Query(max_length=50 * 40, description="Comma-separated run ids")],
    metrics: Annotated[str, Query(max_length=2000, description="Comma-separated metrics whose histories to overlay")] = "",
) -> RunComparison:
    return await service.compare_runs(request.app, db, who, slug, run_ids, metrics)


@router.post("/projects/{slug}/kernel-token", response_model=KernelCredentials,
             summary="MLflow credentials for a notebook kernel of this project")
async def kernel_token(slug: str, request: Request, db: DB, who: Caller) -> KernelCredentials:
    return await service.kernel_token(request, db, who, slug)
