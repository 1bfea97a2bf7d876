"""Monitoring API: a monitor per deployment, its windows (drift per feature, performance), Evidently reports,
alerts, retrainings, webhooks, the sensor's tick, and the stakeholder dashboard's data.

The HTTP layer only: each route parses its request, calls the monitoring service (`monitors`, `alerts`,
`dashboard`, `service`) and returns its result; access checks, domain errors and the work itself are there.
Imported by the app factory only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from ..deps import DB, Caller, Id, Paging
from ..identity import require_scope
from . import alerts, monitors, service
from . import dashboard as dashboards
from .schemas import (AlertPage, Dashboard, EvaluationOut, MonitorOut, MonitorRequest, RetrainingPage, TickResult,
                      WebhookOut, WebhookPage, WebhookRequest, WindowPage)

router = APIRouter(tags=["monitoring"])


# --- monitors ---------------------------------------------------------------------------------------------------

@router.put("/projects/{slug}/deployments/{name}/monitor", response_model=MonitorOut,
            summary="Watch a deployment: profile its version's training data and calibrate drift thresholds")
async def put_monitor(slug: str, name: str, body: MonitorRequest, request: Request, db: DB,
                      who: Caller) -> MonitorOut:
    return await monitors.put_monitor(request.app, request, db, who, slug, name, body)


@router.get("/projects/{slug}/deployments/{name}/monitor", response_model=MonitorOut,
            summary="A deployment's monitor: reference profile, thresholds, baseline, status")
async def get_monitor(slug: str, name: str, request: Request, db: DB, who: Caller) -> MonitorOut:
    return await monitors.get_monitor(db, who, slug, name)


@router.post("/projects/{slug}/deployments/{name}/monitor/evaluate", response_model=EvaluationOut,
             summary="Evaluate the monitor now: new windows, alerts, webhooks, retraining")
async def evaluate_now(slug: str, name: str, request: Request, db: DB, who: Caller) -> EvaluationOut:
    return await monitors.evaluate_now(request.app, request, db, who, slug, name)


@router.get("/projects/{slug}/deployments/{name}/monitor/windows", response_model=WindowPage,
            summary="The monitor's windows, newest first: drift per feature and performance")
def list_windows(slug: str, name: str, db: DB, who: Caller, page: Paging) -> WindowPage:
    return monitors.list_windows(db, who, slug, name, page.limit, page.offset)


@router.get("/projects/{slug}/deployments/{name}/monitor/windows/{window_id}/report",
            response_class=Response, summary="Evidently's HTML drift report for one window (served sandboxed)",
            responses={200: {"content": {"text/html": {}}}})
async def window_report(slug: str, name: str, window_id: Id, request: Request, db: DB, who: Caller) -> Response:
    html = await monitors.window_report(request.app, db, who, slug, name, window_id)
    # A sandboxed, opaque origin: the report's scripts run but cannot reach the platform's pages or cookies.
    return Response(html, media_type="text/html", headers={
        "Content-Security-Policy": "sandbox allow-scripts allow-popups", "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store"})


# --- alerts and retrainings -------------------------------------------------------------------------------------

@router.get("/projects/{slug}/alerts", response_model=AlertPage, summary="Alerts, newest first")
def list_alerts(slug: str, db: DB, who: Caller, page: Paging,
                state: Annotated[Literal["firing", "resolved"] | None, Query()] = None,
                deployment: Annotated[str | None, Query(max_length=64)] = None) -> AlertPage:
    return monitors.list_alerts(db, who, slug, page.limit, page.offset, state, deployment)


@router.get("/projects/{slug}/deployments/{name}/monitor/retrainings", response_model=RetrainingPage,
            summary="Automatic retrainings of a deployment: alert, run, version, gate decision, outcome")
def list_retrainings(slug: str, name: str, db: DB, who: Caller, page: Paging) -> RetrainingPage:
    return monitors.list_retrainings(db, who, slug, name, page.limit, page.offset)


# --- webhooks ---------------------------------------------------------------------------------------------------

@router.post("/projects/{slug}/webhooks", response_model=WebhookOut, status_code=201,
             summary="Send the project's alerts to Slack, Jira or any URL (JSON signed with HMAC)")
def create_webhook(slug: str, body: WebhookRequest, request: Request, db: DB, who: Caller) -> WebhookOut:
    return alerts.create_webhook(request.app, db, who, slug, name=body.name, kind=body.kind, url=body.url,
                                 secret=body.secret, jira_project=body.jira_project,
                                 jira_issue_type=body.jira_issue_type, enabled=body.enabled)


@router.get("/projects/{slug}/webhooks", response_model=WebhookPage, summary="The project's webhooks")
def list_webhooks(slug: str, db: DB, who: Caller, page: Paging) -> WebhookPage:
    return alerts.list_webhooks(db, who, slug, page.limit, page.offset)


@router.delete("/projects/{slug}/webhooks/{hook_id}", status_code=204, response_class=Response,
               summary="Stop sending alerts to a webhook")
def delete_webhook(slug: str, hook_id: Id, db: DB, who: Caller) -> Response:
    alerts.delete_webhook(db, who, slug, hook_id)
    return Response(status_code=204)


# --- Dagster's sensor -------------------------------------------------------------------------------------------

def _sensor_claims(request: Request) -> None:
    require_scope(request, "monitors", "This token does not open the monitors' tick")


@router.post("/monitoring/ticks", response_model=TickResult, dependencies=[Depends(_sensor_claims)],
             summary="(Dagster's sensor only) evaluate every enabled monitor")
async def tick(request: Request) -> TickResult:
    results = await service.evaluate_all(request.app, request)
    parts = [f"monitor {mid}: {o if isinstance(o, str) else o.summary()}" for mid, o in results]
    return TickResult(monitors=len(results), summary="; ".join(parts) or "no enabled monitor")


# --- the stakeholder dashboard's data ---------------------------------------------------------------------------

@router.get("/dashboard", response_model=Dashboard,
            summary="Read-only summary of the caller's projects: performance trends, deployment status, SLA")
async def dashboard(request: Request, db: DB, who: Caller, page: Paging,
                    project: Annotated[str | None, Query(max_length=64, description="Only this project")] = None,
                    model: Annotated[str | None, Query(max_length=64, description="Only this model's deployments")
                                     ] = None) -> Dashboard:
    return await dashboards.dashboard(request.app, db, who, project=project, model=model, limit=page.limit,
                                      offset=page.offset)
