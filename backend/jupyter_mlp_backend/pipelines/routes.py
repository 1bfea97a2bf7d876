"""Promote a notebook to a pipeline version; list pipelines and their versions.

The HTTP layer: each route parses, calls pipeline_service.py and answers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ..deps import DB, Caller, Paging
from . import pipeline_service as service
from .schemas import NotebookSubmission, PipelineDetail, PipelinePage, PreflightReport, PromoteRequest, PromoteResult

router = APIRouter(tags=["pipelines"])


@router.post("/projects/{slug}/pipelines/preflight", response_model=PreflightReport,
             summary="Check a notebook before promoting it: stages, parameters and what would break")
async def preflight(slug: str, body: NotebookSubmission, db: DB, who: Caller) -> PreflightReport:
    return await service.preflight(db, who, slug, body.notebook, body.path)


@router.post("/projects/{slug}/pipelines", response_model=PromoteResult, status_code=201,
             summary="Promote a notebook: a new content-hashed version, or the existing identical one (200)",
             responses={200: {"model": PromoteResult, "description": "The same content was promoted before"}})
def promote(slug: str, body: PromoteRequest, request: Request, response: Response, db: DB, who: Caller) -> PromoteResult:
    out = service.promote(request.app.state.settings.home, db, who, slug, body.notebook, body.path, body.name)
    response.status_code = 201 if out.created else 200
    return out


@router.get("/projects/{slug}/pipelines", response_model=PipelinePage, summary="The project's pipelines")
def list_pipelines(slug: str, db: DB, who: Caller, page: Paging) -> PipelinePage:
    return service.list_pipelines(db, who, slug, page.limit, page.offset)


@router.get("/projects/{slug}/pipelines/{name}", response_model=PipelineDetail, summary="A pipeline and its versions")
def get_pipeline(slug: str, name: str, db: DB, who: Caller) -> PipelineDetail:
    return service.get_pipeline(db, who, slug, name)
