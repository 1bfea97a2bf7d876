"""The MLflow gateway's HTTP routes: `/mlflow/<project>/api/2.0/mlflow/...`, its artifacts and the lineage blobs.
Each checks the path, makes a `gateway.Call` (authenticated, authorised, audited) and hands it to the gateway's
handler for the endpoint (gateway.py)."""

from __future__ import annotations

import hashlib
import os

from fastapi import APIRouter, Request, Response

from ..access import Action
from . import gateway, lineage, run_changes
from .mlflow_errors import GatewayError
from .paths import InvalidArtifactPath, artifact_path

router = APIRouter(include_in_schema=False)


@router.api_route("/mlflow/{slug}/api/2.0/mlflow/{endpoint:path}", methods=["GET", "POST", "PATCH", "DELETE"])
async def mlflow_api(slug: str, endpoint: str, request: Request) -> Response:
    await gateway.authenticate(request, slug)
    handler, writes = gateway.resolve(request.method, endpoint)
    # The registry's endpoints (added by registry.mlflow_gateway) are checked with the models' permissions.
    action = getattr(handler, "action", None) or (Action.write_runs if writes else Action.read_runs)
    call = await gateway.make_call(request, slug, action, endpoint)
    resp = await handler(call)
    if writes and resp.status_code == 200:
        await call.exp.changes.bump(slug)
        await run_changes.note_run_write(call, endpoint, resp)  # the assistant's index feed
    return resp


@router.api_route("/mlflow/{slug}/api/2.0/mlflow-artifacts/artifacts{sub:path}", methods=["GET", "PUT", "DELETE"])
async def mlflow_artifacts(slug: str, sub: str, request: Request) -> Response:
    await gateway.authenticate(request, slug)
    writes = request.method != "GET"
    listing = sub in ("", "/")
    raw = sub.lstrip("/") if not listing else request.query_params.get("path", "")
    try:
        parts = artifact_path(raw, allow_empty=False)
    except InvalidArtifactPath as e:
        raise GatewayError("INVALID_PARAMETER_VALUE", str(e)) from e
    call = await gateway.make_call(request, slug, Action.write_runs if writes else Action.read_runs, "/".join(parts),
                       json_body=False)
    gateway.own_experiment(call, parts[0])
    clean = "/".join(parts)
    base = "/api/2.0/mlflow-artifacts/artifacts"
    if listing:
        return await gateway.forward(call, "GET", base, params={"path": clean})
    if request.method == "PUT":
        content = await request.body()
        resp = await gateway.forward(call, "PUT", f"{base}/{clean}", raw=content,
                              headers={"Content-Type": request.headers.get("content-type", "application/octet-stream")})
    else:
        resp = await gateway.forward(call, request.method, f"{base}/{clean}")
    if writes and resp.status_code == 200:
        await call.exp.changes.bump(slug)
    return resp


@router.api_route("/mlflow/{slug}/mlp/blobs/{digest}", methods=["PUT", "HEAD"])
async def lineage_blob(slug: str, digest: str, request: Request) -> Response:
    """Content-addressed upload of a notebook copy or package freeze, attached to runs by their digest."""
    await gateway.authenticate(request, slug)
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise GatewayError("INVALID_PARAMETER_VALUE", "Blob name must be a sha256 hex digest")
    call = await gateway.make_call(request, slug, Action.write_runs, f"blob:{digest[:12]}", json_body=False)
    path = lineage.blob_path(call, digest)
    if request.method == "HEAD":
        return Response(status_code=200 if path.exists() else 404)
    content = await request.body()
    if len(content) > lineage.MAX_BLOB:
        raise GatewayError("INVALID_PARAMETER_VALUE", f"Blob is larger than {lineage.MAX_BLOB} bytes", 413)
    if hashlib.sha256(content).hexdigest() != digest:
        raise GatewayError("INVALID_PARAMETER_VALUE", "Blob content does not match its sha256 name")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
    return Response(status_code=201)


def install(app) -> None:  # noqa: ANN001
    from .mlflow_errors import install as install_errors

    install_errors(app)
    app.include_router(router)

