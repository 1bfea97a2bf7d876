"""Pipeline schedules API (schedule_service.py holds the bodies and says how ticks work)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from ..deps import DB, Caller, Id, Paging
from ..identity import require_scope
from . import schedule_service as service
from .schemas import ScheduleOut, SchedulePage, ScheduleRequest, TickOut, TickRequest

router = APIRouter(tags=["pipelines"])


@router.post("/projects/{slug}/pipelines/{name}/schedules", response_model=ScheduleOut, status_code=201,
             summary="Schedule a pipeline version with parameters (a Dagster schedule)")
async def create_schedule(slug: str, name: str, body: ScheduleRequest, request: Request, db: DB,
                          who: Caller) -> ScheduleOut:
    return await service.create_schedule(request, db, who, slug, name, body)


@router.get("/projects/{slug}/pipelines/{name}/schedules", response_model=SchedulePage,
            summary="A pipeline's schedules with their next ticks")
def list_schedules(slug: str, name: str, db: DB, who: Caller, page: Paging) -> SchedulePage:
    return service.list_schedules(db, who, slug, name, page.limit, page.offset)


@router.delete("/projects/{slug}/pipeline-schedules/{schedule_id}", status_code=204,
               summary="Delete a schedule (runs it launched stay)")
async def delete_schedule(slug: str, schedule_id: Id, request: Request, db: DB, who: Caller) -> Response:
    await service.delete_schedule(request, db, who, slug, schedule_id)
    return Response(status_code=204)


def _scheduler_claims(request: Request) -> None:
    """A dependency, so that it runs before the path and body are validated: no token, no 422 either."""
    require_scope(request, "schedule", "This token does not open this schedule's ticks",
                  sch=str(request.path_params.get("schedule_id")))


@router.post("/pipeline-schedules/{schedule_id}/ticks", response_model=TickOut, status_code=201,
             dependencies=[Depends(_scheduler_claims)],
             summary="(Dagster's scheduler only) prepare the run of one tick, as the schedule's creator")
async def tick(schedule_id: Id, body: TickRequest, request: Request, db: DB) -> TickOut:
    return await service.tick(request, db, schedule_id, body.scheduled_time)
