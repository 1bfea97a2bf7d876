"""Dataset routes: kernels and stages write and read Iceberg snapshots; the panel lists them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..access import Action, require
from ..deps import DB, Caller, Int64
from ..experiments.gateway import authorize
from ..experiments.mlflow_errors import GatewayError
from .catalog import DatasetError

router = APIRouter(tags=["datasets"])
gateway = APIRouter(include_in_schema=False)
MAX_UPLOAD = 512 * 2**20


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
    require(db, who, slug, Action.read_runs)
    db.commit()
    items = [DatasetOut(**d) for d in request.app.state.datasets.list(slug)]
    return DatasetPage(items=items, total=len(items))


@gateway.put("/mlflow/{slug}/mlp/datasets/{name}")
async def write_dataset(slug: str, name: str, request: Request,
                        mode: Annotated[str, Query(pattern="^(overwrite|append)$")] = "overwrite") -> Response:
    """A Parquet body becomes a new snapshot of the project's table `name` (created on first write)."""
    await authorize(request, slug, Action.write_runs, f"dataset:{name}")
    body = await request.body()
    if len(body) > MAX_UPLOAD:
        raise GatewayError("INVALID_PARAMETER_VALUE", f"Dataset upload is larger than {MAX_UPLOAD} bytes", 413)
    try:
        snap = await run_in_threadpool(request.app.state.datasets.write, slug, name, body, mode)
    except DatasetError as e:
        raise GatewayError("INVALID_PARAMETER_VALUE", str(e)) from e
    return Response(f'{{"name": "{snap.name}", "snapshot_id": {snap.snapshot_id}, "rows": {snap.rows}}}',
                    status_code=201, media_type="application/json")


@gateway.get("/mlflow/{slug}/mlp/datasets/{name}")
async def read_dataset(slug: str, name: str, request: Request, snapshot_id: Int64 | None = None) -> Response:
    """The table at a snapshot (default: the current one) as Parquet; the snapshot id is in the headers."""
    await authorize(request, slug, Action.read_runs, f"dataset:{name}")
    try:
        data, snap = await run_in_threadpool(request.app.state.datasets.read, slug, name, snapshot_id)
    except LookupError as e:
        raise GatewayError("RESOURCE_DOES_NOT_EXIST", f"Dataset '{e.args[0]}' not found") from e
    return Response(data, media_type="application/vnd.apache.parquet",
                    headers={"X-MLP-Snapshot-Id": str(snap.snapshot_id), "X-MLP-Rows": str(snap.rows)})
