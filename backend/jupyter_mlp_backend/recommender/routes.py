"""The recommender's HTTP routes: suggestions for a project's dataset, and the history the AI services process
reads as the asking user. Thin: the work is recommender/service.py's. Imported by the app factory only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from ..deps import Caller
from . import encoder, service
from .schemas import HistoryPage, SuggestionOut, SuggestRequest

router = APIRouter(tags=["recommender"])


@router.post("/projects/{slug}/suggest", response_model=SuggestionOut,
             summary="Model families, search spaces, preprocessing and warm starts for a dataset, with evidence")
async def suggest(slug: str, body: SuggestRequest, request: Request, who: Caller) -> dict:
    return await service.suggest(request, who, slug, dataset=body.dataset, snapshot_id=body.snapshot_id,
                                 target=body.target, profile=body.profile, task=body.task)


@router.get("/recommender/history", response_model=HistoryPage,
            summary="Finished runs with a profiled dataset as recommender evidence: the caller's projects' cited, "
                    "others' anonymous (when recommender_cross_project is on)")
async def history(request: Request, who: Caller,
                  task: Literal["binary", "multiclass", "regression"] | None = None) -> dict:
    return await service.evidence(request, who, task)


@router.get("/recommender/encoder", include_in_schema=False,
            summary="The encoder@champion of the platform project mlp-recommender: version, signed statement and "
                    "files, unverified (the AI services process only; it verifies before loading)")
async def encoder_champion(request: Request, known: Annotated[int | None, Query(ge=1, le=2**31)] = None) -> dict:
    from ..assistant.service import require_service

    require_service(request)
    return await encoder.champion(request.app, known)
