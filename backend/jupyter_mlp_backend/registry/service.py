"""The registry's service layer: what the Models API's routes call, and the only names other domains use
(`registry.service.promote`, `register_pipeline_models`, `app_signer`, `fetch_verified`, `Refused`, ...; never
`registry.routes`, tests/backend/test_layering.py). Plain functions taking the app (for MLflow, the signer and the
settings), a session, the caller and plain values, raising the domain errors of `errors.py`.

Where the bodies are: `artifacts` (a model's signed files, lineage digests, the verified loader), `records`
(lookups, answers, reading), `registration` (registering a run's model or a pipeline run's models, verifying),
`promotion` (gates, aliases, approvals), `lineage_graph` (lineage graphs, version diffs), `mlmodel` (a version's
signature read from its signed MLmodel file, for the model card).
"""

from __future__ import annotations

from ..deps import DB
from ..identity import Identity
from ..orm import PipelineRunRecord
from . import promotion, registration
from .artifacts import (
    ALIASES,
    MODEL_NAME,
    Refused,
    Source,
    Unavailable,
    app_signer,
    download_tree,
    fetch_verified,
    lineage,
    list_tree,
    mlflow_model_name,
    resolve_source,
    sign,
    statement,
)
from .lineage_graph import dataset_lineage, diff, version_lineage
from .mlmodel import version_signature
from .promotion import decide, list_decisions, set_gates, set_initial_gates
from .records import get_model, get_version, list_models, list_versions
from .registration import register, register_version, verify
from .schemas import DecisionOut

__all__ = [
    "ALIASES", "MODEL_NAME", "Refused", "Source", "Unavailable", "app_signer", "dataset_lineage", "decide", "diff",
    "download_tree", "fetch_verified", "get_model", "get_version", "lineage", "list_decisions", "list_models",
    "list_tree", "list_versions", "mlflow_model_name", "promote", "register", "register_pipeline_models",
    "register_version", "resolve_source", "set_gates", "set_initial_gates", "sign", "statement", "verify",
    "version_lineage",
    "version_signature",
]


# --- for other domains (a request-like object: anything with the app as `.app`, e.g. the run watcher's) ------------

async def register_pipeline_models(request, db: DB, slug: str, rec: PipelineRunRecord,  # noqa: ANN001
                                   pipeline_name: str) -> list[str]:
    """After a pipeline run succeeded: register every model its stages logged, as the run's creator."""
    return await registration.register_pipeline_models(request.app, db, slug, rec, pipeline_name)


async def promote(slug: str, name: str, version: int, alias: str, request, db: DB,  # noqa: ANN001
                  who: Identity) -> DecisionOut:
    """Ask, as `who`, for `alias` to move to a version, as the promote route does: the gates decide."""
    return await promotion.promote(request.app, db, who, slug, name, version, alias)
