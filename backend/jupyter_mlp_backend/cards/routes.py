"""Model cards API: one route, the card of a model version as JSON, Markdown or HTML. Thin: the work is
cards/service.py's. Imported by the app factory only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..deps import DB, Caller, Id
from . import service
from .schemas import CardFormat, ModelCard

router = APIRouter(tags=["models"])

# The HTML card has no script and loads nothing: a policy that forbids both, for a card opened on its own.
HTML_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


@router.get("/projects/{slug}/models/{name}/versions/{version}/card", response_model=ModelCard,
            summary="The version's model card from the records, every statement cited (JSON, Markdown or HTML)",
            responses={200: {"content": {"text/markdown": {}, "text/html": {}}}})
async def model_card(slug: str, name: str, version: Id, request: Request, db: DB, who: Caller,
                     format: Annotated[CardFormat, Query()] = "json") -> ModelCard | Response:  # noqa: A002
    card = await service.model_card_as(request.app, db, who, slug, name, version, format)
    if format == "markdown":
        return Response(card, media_type="text/markdown; charset=utf-8", headers={"Cache-Control": "no-store"})
    if format == "html":
        return Response(card, media_type="text/html; charset=utf-8", headers=HTML_HEADERS)
    return card
