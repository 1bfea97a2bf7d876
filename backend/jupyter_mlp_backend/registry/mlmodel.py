"""A version's `MLmodel` file read alone (not the whole model) and checked against the signed manifest: the
signature (inputs and outputs) the model card states. Nothing is deserialised but the YAML of that one file."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.concurrency import run_in_threadpool

from ..access import Action, require
from ..deps import DB
from ..errors import MLPError
from ..experiments.projects import experiment_ids
from ..identity import Identity
from . import records
from .artifacts import _base

MAX_MLMODEL_BYTES = 1 << 20


def _columns(raw: Any) -> list[dict[str, Any]] | None:
    """MLflow's signature spec (JSON text or a list) as [{name, type, required}]; None when it cannot be read."""
    if not raw:
        return []
    try:
        spec = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if not isinstance(spec, list):
        return None
    out = []
    for i, c in enumerate(spec):
        if not isinstance(c, dict):
            return None
        kind = str(c.get("type", "?"))
        if kind == "tensor":
            ts = c.get("tensor-spec") or {}
            kind = f"tensor {ts.get('dtype', '?')} {list(ts.get('shape') or [])}"
        out.append({"name": str(c.get("name") or f"#{i}"), "type": kind, "required": bool(c.get("required", True))})
    return out


async def version_signature(app, db: DB, who: Identity, slug: str, name: str,  # noqa: ANN001
                            version: int) -> dict[str, Any]:
    """{"status": "ok" | "none" | "unavailable", "inputs", "outputs", "sha256", "message"}: the model's signature
    from its MLmodel, whose sha256 must be the one the signed manifest lists (else "unavailable", with why)."""
    import yaml

    def load():  # noqa: ANN202
        g = require(db, who, slug, Action.read_models, target=f"{name}/{version}")
        m = records.model(db, g.project.id, name)
        v = records.version(db, m, version)
        out = v.source, v.statement, experiment_ids(db, g.project.id)
        db.commit()
        return out

    source, statement, ids = await run_in_threadpool(load)
    listed = {f["path"]: f.get("sha256") for f in (json.loads(statement).get("files", []) if statement else [])}
    empty: dict[str, Any] = {"inputs": [], "outputs": [], "sha256": listed.get("MLmodel")}
    if "MLmodel" not in listed:
        return {**empty, "status": "unavailable", "message": "the signed manifest lists no MLmodel file"}
    try:
        exp = await records.experiments(app)
        resp = await exp.mlflow.client.get(f"/api/2.0/mlflow-artifacts/artifacts/{_base(source, ids)}/MLmodel")
    except MLPError as e:
        return {**empty, "status": "unavailable", "message": e.message}
    if resp.status_code != 200 or len(resp.content) > MAX_MLMODEL_BYTES:
        return {**empty, "status": "unavailable", "message": f"MLflow did not serve the MLmodel ({resp.status_code})"}
    if hashlib.sha256(resp.content).hexdigest() != listed["MLmodel"]:
        return {**empty, "status": "unavailable", "message": "the MLmodel file is not the one that was signed"}
    try:
        sig = (yaml.safe_load(resp.content) or {}).get("signature") or {}
    except (yaml.YAMLError, AttributeError):
        return {**empty, "status": "unavailable", "message": "the MLmodel file is not valid YAML"}
    inputs, outputs = _columns(sig.get("inputs")), _columns(sig.get("outputs"))
    if inputs is None or outputs is None:
        return {**empty, "status": "unavailable", "message": "the signature in the MLmodel cannot be read"}
    return {**empty, "status": "ok" if inputs or outputs else "none", "inputs": inputs, "outputs": outputs,
            "message": None}
