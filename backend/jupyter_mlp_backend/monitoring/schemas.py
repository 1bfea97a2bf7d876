"""The monitoring API's request and response bodies (their names are the OpenAPI schema names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Metric = Literal["roc_auc", "f1", "rmse", "ece"]

class MonitorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_size: int | None = Field(default=None, ge=50, le=1_000_000,
                                    description="Predictions per window (default: the platform's, see the docs)")
    window_seconds: int | None = Field(
        default=None, ge=60, le=30 * 86400,
        description="Windows by time instead of count: the predictions of each slice of this many seconds (UTC "
                    "clock), evaluated once the slice has ended. Thresholds stay calibrated for window_size rows "
                    "(KS p-values hold for any size; PSI thresholds scale with the rows a window has)")
    tolerance: dict[Metric, Annotated[float, Field(ge=0, le=1e9)]] = Field(
        default_factory=dict, description="Allowed loss per metric against the validated baseline (absolute; "
                                          "default 0.05 for roc_auc, f1 and ece, 10% of the baseline for rmse)")
    retrain: bool = Field(default=False, description="Retrain automatically when an alert fires")
    retrain_on: Literal["drift", "performance", "any"] = "any"
    cooldown_s: int = Field(default=3600, ge=0, le=30 * 86400,
                            description="Least time between two automatic retrainings")
    enabled: bool = True


class ProfileOut(BaseModel):
    version: int
    status: str
    message: str | None
    dataset: str | None
    snapshot_id: str | None = Field(description="As text: 19-digit ids do not fit a JavaScript number")
    rows: int
    window_size: int
    features: list[dict[str, Any]]
    thresholds: dict[str, float]
    method: dict[str, Any]
    created_at: str | None


class MonitorOut(BaseModel):
    deployment: str
    model: str
    version: int
    window_size: int
    window_seconds: int | None
    tolerance: dict[str, float]
    retrain: bool
    retrain_on: str
    cooldown_s: int
    enabled: bool
    created_by: str
    created_at: str | None
    evaluated_at: str | None
    message: str | None
    profile: ProfileOut | None
    baseline: dict[str, Any]
    status: str = Field(description="The newest window's drift status, or 'waiting' before the first full window")
    pending_rows: int = Field(description="Scored rows of the served version not yet in a complete window, as of "
                                          "the last evaluation")
    status_message: str | None = Field(default=None, description="The newest window's drift verdict in words "
                                                                  "(the same words as its report's banner)")
    firing: int
    firing_critical: int = Field(default=0, description="How many of the firing alerts are critical (performance, "
                                                        "schema); the others are warnings (drift)")


class WindowOut(BaseModel):
    id: int
    version: int
    seq: int
    start: str | None
    end: str | None
    rows: int
    status: str
    drift: dict[str, Any]
    labelled: int
    performance: dict[str, Any] | None


class WindowPage(BaseModel):
    items: list[WindowOut]
    total: int


class EvaluationOut(BaseModel):
    windows: int = Field(description="New full windows")
    fired: list[str]
    resolved: list[str]
    retraining: list[str]
    summary: str
    message: str | None


class DeliveryOut(BaseModel):
    webhook: str
    state: str
    ok: bool
    status_code: int | None
    attempts: int
    error: str | None
    at: str | None


class AlertOut(BaseModel):
    id: int
    deployment: str
    key: str
    kind: str
    severity: str
    state: str
    title: str
    detail: dict[str, Any]
    windows: int
    started_at: str | None
    updated_at: str | None
    resolved_at: str | None
    deliveries: list[DeliveryOut]


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int


class RetrainingOut(BaseModel):
    id: int
    deployment: str
    alert_id: int | None
    alert: str | None
    pipeline_run_id: str | None
    status: str
    version: int | None
    decision_id: int | None
    message: str | None
    created_at: str | None
    updated_at: str | None


class RetrainingPage(BaseModel):
    items: list[RetrainingOut]
    total: int


HookName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")]


class WebhookRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: HookName
    kind: Literal["slack", "jira", "generic"]
    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)] = Field(
        description="Slack: the incoming-webhook URL; Jira: the site's base URL; generic: where to POST")
    secret: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        default=None, description="generic: the HMAC key; jira: `user:api_token`. Never shown again")
    jira_project: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")] | None = None
    jira_issue_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "Bug"
    enabled: bool = True


class WebhookOut(BaseModel):
    id: int
    name: str
    kind: str
    url: str
    secret_set: bool
    jira_project: str | None
    jira_issue_type: str
    enabled: bool
    created_by: str
    created_at: str | None


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    total: int


class TickResult(BaseModel):
    monitors: int
    summary: str


class DashboardWindow(BaseModel):
    """One monitoring window as the dashboard charts it: its performance on the labels that came, against the
    validated baseline of the version it scored, and each feature's drift verdict."""
    end: str
    version: int
    rows: int
    labelled: int
    status: str | None = Field(description="Performance: ok, degraded, not enough labelled rows, insufficient data, "
                                           "error (None: not scored)")
    metrics: dict[str, float]
    checks: list[dict[str, Any]] = Field(description="Per metric: value, its 95% `interval`, `rows`, `min_rows`, "
                                                     "baseline, tolerance, degraded and `status` (ok, degraded, not "
                                                     "enough labelled rows)")
    drift_status: str = Field(description="The window's drift verdict: ok, drift, insufficient data, schema changed")
    drift: dict[str, str] = Field(description="Per feature: its drift verdict in this window")


class DashboardSlaPoint(BaseModel):
    start: str = Field(description="Start of the hour")
    requests: int
    rows: int
    compliance: float | None = Field(description="Share of this hour's requests answered within the SLA")
    p95_ms: float | None


class DashboardVersionEvent(BaseModel):
    action: str = Field(description="deploy, switch or rollback: the events that move the traffic")
    version: int | None
    actor: str
    at: str


class DashboardAlert(BaseModel):
    key: str
    title: str
    kind: str
    severity: str
    since: str
    windows: int


class DashboardDeployment(BaseModel):
    name: str
    model: str
    version: int
    status: str
    sla_ms: float
    sla_compliance: float | None = Field(description="Share of the last 24 h's requests answered within the SLA")
    predictions_24h: int = Field(description="Requests answered in the last 24 h (one request may score many rows)")
    rows_24h: int = Field(description="Rows scored online in the last 24 h")
    batch_rows_24h: int = Field(description="Rows scored by batch jobs that finished in the last 24 h")
    batch_rows_total: int = Field(description="Rows scored by every finished batch job")
    p95_ms: float | None
    drift_status: str
    firing_alerts: int = Field(description="How many alerts fire (all of them; `alerts` lists the newest)")
    alerts: list[DashboardAlert] = Field(description="Firing alerts, newest first, at most 20")
    baseline: dict[str, float] = Field(description="The served version's validated metrics")
    tolerance: dict[str, float] = Field(description="Per metric, the loss allowed below (above, for rmse/ece) it")
    performance: list[dict[str, Any]] = Field(description="Per window, oldest first: end time and metrics")
    windows: list[DashboardWindow] = Field(description="The newest 50 windows, oldest first")
    features: list[str] = Field(description="The features the windows' drift verdicts name")
    sla_trend: list[DashboardSlaPoint] = Field(description="The last 24 hours, hour by hour, oldest first")
    history: list[DashboardVersionEvent] = Field(description="Traffic moves, newest first, at most 20")
    history_total: int


class DashboardProject(BaseModel):
    slug: str
    name: str
    role: str
    deployments: list[DashboardDeployment]
    deployments_total: int = Field(description="Deployments shown by this filter; `limit`/`offset` page them")


class Dashboard(BaseModel):
    user: str
    generated_at: str
    projects: list[DashboardProject]
