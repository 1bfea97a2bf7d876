"""Dataset routes: kernels and stages write and read Iceberg snapshots; the panel lists them (bodies: service.py)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ..deps import DB, Caller, Int64
from ..schemas import Role
from . import policy, service

router = APIRouter(tags=["datasets"])
gateway = APIRouter(include_in_schema=False)


class SnapshotOut(BaseModel):
    snapshot_id: int
    timestamp_ms: int


class DatasetOut(BaseModel):
    name: str
    current_snapshot_id: int
    snapshots: list[SnapshotOut]


class DatasetPage(BaseModel):
    items: list[DatasetOut]
    total: int


@router.get("/projects/{slug}/datasets", response_model=DatasetPage, summary="The project's datasets and snapshots")
def list_datasets(slug: str, request: Request, db: DB, who: Caller) -> DatasetPage:
    items = [DatasetOut(**d) for d in service.list_datasets(request.app.state.datasets, db, who, slug)]
    return DatasetPage(items=items, total=len(items))


class SnapshotProfileOut(BaseModel):
    name: str
    snapshot_id: int
    target: str | None = Field(description="The column profiled as the target (none: features only)")
    version: int = Field(description="Version of jupyter_mlp.profiling's feature set")
    source: str = Field(description="'stored' with the snapshot when it was written, or 'computed' now")
    features: dict[str, float | None] = Field(description="jupyter_mlp.profiling.FEATURES -> value (null: n/a)")


@router.get("/projects/{slug}/datasets/{name}/snapshots/{snapshot_id}/profile", response_model=SnapshotProfileOut,
            summary="A dataset snapshot's profile: meta-features of its rows, never a row")
def snapshot_profile(slug: str, name: str, snapshot_id: Int64, db: DB, who: Caller, request: Request,
                     target: Annotated[str | None, Query(max_length=300)] = None) -> SnapshotProfileOut:
    body = service.profile(request.app.state.datasets, db, who, slug, name, snapshot_id, target)
    return SnapshotProfileOut(name=name, snapshot_id=snapshot_id, target=body.get("target"), version=body["version"],
                      source=body["source"], features=body["features"])


class ColumnPolicyOut(BaseModel):
    name: str
    in_schema: bool = Field(description="False: the column is gone from the current schema; its policy stays")
    policies: dict[str, str] = Field(description="role -> allow | mask | hash | deny (a role not listed: allow, "
                                                 "unless a column of this name is shaped in another dataset)")


class DatasetPoliciesOut(BaseModel):
    dataset: str
    columns: list[ColumnPolicyOut]


class ColumnPolicyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(min_length=1, max_length=255)
    role: Role
    action: Literal["allow", "mask", "hash", "deny"]


@router.get("/projects/{slug}/datasets/{name}/policies", response_model=DatasetPoliciesOut,
            summary="The dataset's columns, each with what each role sees of it (column policies)")
def list_policies(slug: str, name: str, request: Request, db: DB, who: Caller) -> DatasetPoliciesOut:
    return DatasetPoliciesOut(**service.policies(request.app.state.datasets, db, who, slug, name))


@router.put("/projects/{slug}/datasets/{name}/policies", response_model=DatasetPoliciesOut,
            summary="Set what a role sees of a column: allow, mask, hash or deny (leads and admins; audited)")
def set_policy(slug: str, name: str, body: ColumnPolicyRequest, request: Request, db: DB,
               who: Caller) -> DatasetPoliciesOut:
    return DatasetPoliciesOut(**service.set_policy(request.app.state.datasets, db, who, slug, name, body.column,
                                                   body.role.value, body.action))


@gateway.put("/mlflow/{slug}/mlp/datasets/{name}")
async def write_dataset(slug: str, name: str, request: Request,
                        mode: Annotated[str, Query(pattern="^(overwrite|append)$")] = "overwrite",
                        target: Annotated[str | None, Query(max_length=300)] = None) -> Response:
    """A Parquet body becomes a new snapshot of the project's table `name` (created on first write); an overwrite
    keeps the rows' profile (with `target` as the target column) with the snapshot."""
    snap = await service.write(request, slug, name, mode, target)
    return Response(f'{{"name": "{snap.name}", "snapshot_id": {snap.snapshot_id}, "rows": {snap.rows}}}',
                    status_code=201, media_type="application/json")


@gateway.get("/mlflow/{slug}/mlp/datasets/{name}")
async def read_dataset(slug: str, name: str, request: Request, snapshot_id: Int64 | None = None,
                       stage_run: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """The table at a snapshot (default: the current one) as Parquet; the snapshot id is in the headers.
    `stage_run`: a pipeline stage's own MLflow run, which then records the read in its lineage."""
    data, snap, shaped = await service.read(request, slug, name, snapshot_id, stage_run)
    headers = {"X-MLP-Snapshot-Id": str(snap.snapshot_id), "X-MLP-Rows": str(snap.rows)}
    if shaped:  # the column policies that shaped these rows: the kernel records them in its runs' lineage
        headers[policy.HEADER] = json.dumps(shaped)
    return Response(data, media_type="application/vnd.apache.parquet", headers=headers)
