"""Models API: register (signed, with lineage), verify, gates, aliases, approvals, lineage, diff.

The HTTP layer only: each route parses, calls the registry's service and answers (service.py says where the
bodies are)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from ..deps import DB, Caller, Id, Int64, Paging
from . import gates as gate_rules
from . import service
from .schemas import (
    AliasRequest,
    DecisionOut,
    DecisionPage,
    DecisionRequest,
    LineageGraph,
    ModelDetail,
    ModelPage,
    RegisterRequest,
    VerifyOut,
    VersionDiff,
    VersionOut,
    VersionPage,
)

router = APIRouter(tags=["models"])


@router.post("/projects/{slug}/models", response_model=VersionOut, status_code=201,
             summary="Register a run's model: hashed, signed, with lineage")
async def register(slug: str, body: RegisterRequest, request: Request, db: DB, who: Caller) -> VersionOut:
    return await service.register(request.app, db, who, slug, body.name, body.run_id, body.artifact_path)


@router.get("/projects/{slug}/models", response_model=ModelPage, summary="The project's registered models")
def list_models(slug: str, db: DB, who: Caller, page: Paging) -> ModelPage:
    return service.list_models(db, who, slug, page.limit, page.offset)


@router.get("/projects/{slug}/models/{name}", response_model=ModelDetail, summary="A model, its aliases and gates")
def get_model(slug: str, name: str, db: DB, who: Caller) -> ModelDetail:
    return service.get_model(db, who, slug, name)


@router.get("/projects/{slug}/models/{name}/versions", response_model=VersionPage,
            summary="A model's versions, newest first")
def list_versions(slug: str, name: str, db: DB, who: Caller, page: Paging) -> VersionPage:
    return service.list_versions(db, who, slug, name, page.limit, page.offset)


@router.get("/projects/{slug}/models/{name}/versions/{version}", response_model=VersionOut,
            summary="One version with its lineage digests")
def get_version(slug: str, name: str, version: Id, db: DB, who: Caller) -> VersionOut:
    return service.get_version(db, who, slug, name, version)


@router.post("/projects/{slug}/models/{name}/versions/{version}/verify", response_model=VerifyOut,
             summary="Re-hash every file and check the signature; says what is wrong")
async def verify(slug: str, name: str, version: Id, request: Request, db: DB, who: Caller) -> VerifyOut:
    return await service.verify(request.app, db, who, slug, name, version)


@router.put("/projects/{slug}/models/{name}/gates", response_model=gate_rules.GateConfig,
            summary="Set the model's validation gates (leads)")
def set_gates(slug: str, name: str, body: dict[str, Any], db: DB, who: Caller) -> gate_rules.GateConfig:
    return service.set_gates(db, who, slug, name, body)


@router.post("/projects/{slug}/models/{name}/versions/{version}/promote", response_model=DecisionOut,
             status_code=201, summary="Ask for an alias to move to a version: the gates decide (and maybe a lead)")
async def promote(slug: str, name: str, version: Id, body: AliasRequest, request: Request, db: DB,
                  who: Caller) -> DecisionOut:
    return await service.promote(slug, name, version, body.alias, request, db, who)


@router.post("/projects/{slug}/gate-decisions/{decision_id}/approve", response_model=DecisionOut,
             summary="Approve a pending decision (leads); the alias moves")
async def approve(slug: str, decision_id: Id, body: DecisionRequest, request: Request, db: DB,
                  who: Caller) -> DecisionOut:
    return await service.decide(request.app, db, who, slug, decision_id, body.reason, "approved")


@router.post("/projects/{slug}/gate-decisions/{decision_id}/reject", response_model=DecisionOut,
             summary="Reject a pending decision (leads); the alias stays")
async def reject(slug: str, decision_id: Id, body: DecisionRequest, request: Request, db: DB,
                 who: Caller) -> DecisionOut:
    return await service.decide(request.app, db, who, slug, decision_id, body.reason, "rejected")


@router.get("/projects/{slug}/gate-decisions", response_model=DecisionPage,
            summary="Gate decisions, newest first (status=pending: what waits for a lead)")
def list_decisions(slug: str, db: DB, who: Caller, page: Paging,
                   status: Annotated[Literal["passed", "failed", "pending", "approved", "rejected"] | None,
                                     Query()] = None,
                   model: Annotated[str | None, Query(max_length=64)] = None) -> DecisionPage:
    return service.list_decisions(db, who, slug, page.limit, page.offset, status, model)


@router.get("/projects/{slug}/models/{name}/versions/{version}/lineage", response_model=LineageGraph,
            summary="Dataset snapshots → pipeline version → run → this model version → deployments")
def version_lineage(slug: str, name: str, version: Id, db: DB, who: Caller) -> LineageGraph:
    return service.version_lineage(db, who, slug, name, version)


@router.get("/projects/{slug}/datasets/{dataset}/lineage", response_model=LineageGraph,
            summary="What was made from a dataset (optionally one snapshot): runs and model versions")
def dataset_lineage(slug: str, dataset: str, db: DB, who: Caller,
                    snapshot_id: Annotated[Int64 | None, Query()] = None) -> LineageGraph:
    return service.dataset_lineage(db, who, slug, dataset, snapshot_id)


@router.get("/projects/{slug}/models/{name}/diff", response_model=VersionDiff,
            summary="Two versions side by side: parameters, metrics, data snapshots, lineage, code")
def diff(slug: str, name: str, request: Request, db: DB, who: Caller, a: Annotated[Id, Query()],
         b: Annotated[Id, Query()]) -> VersionDiff:
    return service.diff(request.app.state.settings.home, db, who, slug, name, a, b)
