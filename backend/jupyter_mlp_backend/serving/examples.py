"""A deployment as the panel shows it, its example request shaped for the caller's role (issue 20 item 1).

The example body (`deployments._example`) carries the input example logged with the model: a training row. The
project's column policies on those column names apply to it like to any row leaving the backend: masked or hashed
values, with `policies` naming what shaped them; a denied column leaves the example without its row, `withheld`
saying why. Audited as path `deployment-example`. The Ship flow reads the deployment unshaped and shapes the body it
builds from it itself (ship/service.py's `shaped_example`), so a hashed value is never hashed twice.
"""

from __future__ import annotations

from typing import Any

from ..datasets.service import ColumnDenied, caller_column_policies
from ..deps import DB, Caller
from . import deployments
from .schemas import DeploymentOut


def get_deployment(app, db: DB, who: Caller, slug: str, name: str, reached: str) -> DeploymentOut:  # noqa: ANN001
    """`deployments.get_deployment`, its example shaped for the caller."""
    out = deployments.get_deployment(app, db, who, slug, name, reached)
    if out.example is not None:
        out.example = shaped(db, who, slug, name, out.example)
    return out


def shaped(db: DB, who: Caller, slug: str, name: str, example: dict[str, Any]) -> dict[str, Any]:
    shaper = caller_column_policies(db, who, slug)
    try:
        body = shaper.json({"dataframe_split": example})["dataframe_split"]
    except ColumnDenied as e:
        shaper.refused(db, who, slug, "deployment-example", name, e)
        return {"columns": example["columns"], "data": [], "withheld": e.message}
    shaper.audit(db, who, slug, "deployment-example", name)
    db.commit()
    return {**body, "policies": [r.name for r in shaper.applied]} if shaper.applied else body
