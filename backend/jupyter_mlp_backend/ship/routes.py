"""Ship API: the plan for a notebook, a Ship started, its progress. The HTTP layer only; imported by the app
factory only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ..deps import DB, Caller, Paging
from . import plan, service
from .schemas import PlanOut, PlanRequest, ShipOut, ShipPage, ShipRequest

router = APIRouter(tags=["ship"])


@router.post("/projects/{slug}/ship/plan", response_model=PlanOut,
             summary="The whole Ship plan for a notebook, with defaults inferred from it and the project")
async def ship_plan(slug: str, body: PlanRequest, request: Request, db: DB, who: Caller) -> PlanOut:
    return await plan.make_plan(request.app, db, who, slug, body.notebook, body.path)


@router.post("/projects/{slug}/ship", response_model=ShipOut, status_code=202,
             summary="Ship a notebook: promote, run, register, gates, approval, deploy, monitor, in the background")
async def ship(slug: str, body: ShipRequest, request: Request, db: DB, who: Caller) -> ShipOut:
    base = (request.app.state.settings.public_url or str(request.base_url)).rstrip("/")
    return await service.start(request.app, base, db, who, slug, body)


@router.get("/projects/{slug}/ship", response_model=ShipPage, summary="The project's Ships, newest first")
def list_ships(slug: str, request: Request, db: DB, who: Caller, page: Paging) -> ShipPage:
    return service.list_ships(request.app, db, who, slug, page.limit, page.offset)


@router.get("/projects/{slug}/ship/{ship_id}", response_model=ShipOut,
            summary="A Ship's progress: every step's status, timings, links; the endpoint at the end")
def get_ship(slug: str, ship_id: str, request: Request, db: DB, who: Caller,
             claim: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{8,64}$", description=(
                 "A random id of the reading view: the new API key goes to the shipper's first read of the finished "
                 "Ship, and again only to reads with that read's claim (a view whose answer was lost reads it "
                 "again); without one, the first read takes it"))] = None) -> ShipOut:
    return service.get(request.app, db, who, slug, ship_id, claim)
