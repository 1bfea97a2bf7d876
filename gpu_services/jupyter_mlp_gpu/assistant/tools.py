"""Typed tool calls over the backend's read API, as the asking user (issue 13 item 5).

Each tool is one question the planner can put to the platform: search runs with an MLflow filter string, the
projects the user can open, experiments, deployments and their logged latency, monitors and their windows,
alerts, retrainings, gate decisions, model versions and lineage, pipeline runs, audit. They return the backend's
JSON records unchanged (the answer's figures are read from them and cite them), plus `Project`, the one record
the assistant derives: a project with its client and domain read from its description ("Client: X. Domain: Y.").

Record text (run names, notes, reasons) is returned as data: nothing here interprets it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .backend_client import BackendClient, NotVisible

CLIENT_RE = re.compile(r"\bclient\s*:\s*([^.\n]+)", re.IGNORECASE)
DOMAIN_RE = re.compile(r"\bdomain\s*:\s*([^.\n]+)", re.IGNORECASE)


def q(segment: str | int) -> str:
    """A path segment, escaped (names come from questions and records)."""
    return quote(str(segment), safe="")


def parse_time(value: str | None) -> float | None:
    """The backend's ISO time (naive = UTC) as a POSIX timestamp."""
    if not value:
        return None
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.timestamp()


@dataclass
class Project:
    slug: str
    name: str
    description: str
    created_at: float | None
    role: str | None
    client: str | None = None
    domain: str | None = None
    record: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, rec: dict[str, Any]) -> Project:
        desc = rec.get("description") or ""
        client = CLIENT_RE.search(desc)
        domain = DOMAIN_RE.search(desc)
        return cls(slug=rec["slug"], name=rec.get("name") or rec["slug"], description=desc,
                   created_at=parse_time(rec.get("created_at")), role=rec.get("role") or rec.get("member_role"),
                   client=client.group(1).strip() if client else None,
                   domain=domain.group(1).strip().lower() if domain else None, record=rec)


# --- projects and experiments --------------------------------------------------------------------------------------

async def list_projects(b: BackendClient) -> list[Project]:
    """The projects the user can open."""
    return [Project.of(p) for p in await b.pages("/projects", limit=200)]


async def experiments(b: BackendClient, slug: str) -> list[dict]:
    body = await b.get(f"/projects/{q(slug)}/experiments")
    return body if isinstance(body, list) else body.get("items", [])


async def members(b: BackendClient, slug: str) -> list[dict]:
    return await b.pages(f"/projects/{q(slug)}/members", limit=500)


# --- runs ------------------------------------------------------------------------------------------------------------

async def search_runs(b: BackendClient, slug: str, filter: str = "", order_by: list[str] | None = None,
                      experiment_ids: list[str] | None = None, limit: int = 1000) -> tuple[list[dict], int]:
    """Runs matching an MLflow filter string (`metrics.auc > 0.8`, `params.features = 'rfm'`,
    `attributes.status = 'FAILED'`, ``tags.`mlp.datasets` LIKE '%x%'``), ordered (`metrics.auc DESC`):
    (the first `limit` runs, how many match)."""
    page = await b.get(f"/projects/{q(slug)}/runs", filter=filter or None, order_by=order_by or None,
                       experiment_id=experiment_ids or None, limit=min(limit, 1000), offset=0)
    return page.get("items", []), int(page.get("total", 0))


async def get_run(b: BackendClient, slug: str, run_id: str) -> dict:
    return await b.get(f"/projects/{q(slug)}/runs/{q(run_id)}")


# --- models and gates ------------------------------------------------------------------------------------------------

async def models(b: BackendClient, slug: str) -> list[dict]:
    return await b.pages(f"/projects/{q(slug)}/models", limit=500)


async def model(b: BackendClient, slug: str, name: str) -> dict:
    return await b.get(f"/projects/{q(slug)}/models/{q(name)}")


async def model_versions(b: BackendClient, slug: str, name: str) -> list[dict]:
    return await b.pages(f"/projects/{q(slug)}/models/{q(name)}/versions", limit=500)


async def model_version(b: BackendClient, slug: str, name: str, version: int) -> dict:
    return await b.get(f"/projects/{q(slug)}/models/{q(name)}/versions/{int(version)}")


async def version_lineage(b: BackendClient, slug: str, name: str, version: int) -> dict:
    return await b.get(f"/projects/{q(slug)}/models/{q(name)}/versions/{int(version)}/lineage")


async def gate_decisions(b: BackendClient, slug: str, model: str | None = None,
                         status: str | None = None) -> list[dict]:
    """Gate decisions, newest first, with evidence, who decided and why."""
    return await b.pages(f"/projects/{q(slug)}/gate-decisions", limit=500, model=model, status=status)


# --- serving and monitoring ------------------------------------------------------------------------------------------

async def deployments(b: BackendClient, slug: str) -> list[dict]:
    return await b.pages(f"/projects/{q(slug)}/deployments", limit=500)


async def deployment(b: BackendClient, slug: str, name: str) -> dict:
    return await b.get(f"/projects/{q(slug)}/deployments/{q(name)}")


async def predictions_since(b: BackendClient, slug: str, name: str, since: float,
                            page_size: int = 1000) -> tuple[list[dict], int]:
    """The logged predictions (newest first) whose time is at or after `since`: (rows, the log's total)."""
    out: list[dict] = []
    offset, total = 0, 0
    while True:
        page = await b.get(f"/projects/{q(slug)}/deployments/{q(name)}/predictions", limit=page_size, offset=offset)
        items, total = page.get("items", []), int(page.get("total", 0))
        for r in items:
            t = parse_time(r.get("ts"))
            if t is not None and t >= since:
                out.append(r)
        offset += len(items)
        oldest = parse_time(items[-1].get("ts")) if items else None
        if not items or offset >= total or (oldest is not None and oldest < since):
            return out, total


async def monitor(b: BackendClient, slug: str, name: str) -> dict | None:
    try:
        return await b.get(f"/projects/{q(slug)}/deployments/{q(name)}/monitor")
    except NotVisible:
        return None


async def monitor_windows(b: BackendClient, slug: str, name: str) -> list[dict]:
    try:
        return await b.pages(f"/projects/{q(slug)}/deployments/{q(name)}/monitor/windows", limit=500)
    except NotVisible:
        return []


async def retrainings(b: BackendClient, slug: str, name: str) -> list[dict]:
    try:
        return await b.pages(f"/projects/{q(slug)}/deployments/{q(name)}/monitor/retrainings", limit=200)
    except NotVisible:
        return []


async def alerts(b: BackendClient, slug: str, state: str | None = None, deployment: str | None = None) -> list[dict]:
    return await b.pages(f"/projects/{q(slug)}/alerts", limit=500, state=state, deployment=deployment)


# --- pipelines and audit ---------------------------------------------------------------------------------------------

async def pipelines(b: BackendClient, slug: str) -> list[dict]:
    return await b.pages(f"/projects/{q(slug)}/pipelines", limit=200)


async def pipeline_runs(b: BackendClient, slug: str, name: str) -> list[dict]:
    return await b.pages(f"/projects/{q(slug)}/pipelines/{q(name)}/runs", limit=200)


async def pipeline_run(b: BackendClient, slug: str, run_id: str) -> dict:
    return await b.get(f"/projects/{q(slug)}/pipeline-runs/{q(run_id)}")


async def audit(b: BackendClient, slug: str, limit: int = 200) -> list[dict]:
    page = await b.get(f"/projects/{q(slug)}/audit", limit=limit, offset=0)
    return page.get("items", [])


async def gather(*aws: Any) -> list[Any]:
    return list(await asyncio.gather(*aws))
