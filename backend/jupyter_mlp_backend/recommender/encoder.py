"""The recommender's encoder as the AI services process fetches it: the champion version of the model `encoder` in
the platform's own project `mlp-recommender` (the platform dogfoods its registry: the version was registered,
signed and promoted through the gates like any client's model; docs/recommender.md).

`champion(app)` answers the version, its signed statement and signature, and its files as stored in the artifact
store. Nothing is verified or loaded here on purpose: the AI services process verifies the files against the
statement with the platform's public keys before it deserialises anything (jupyter_mlp.signing, as serving workers
do), so a file altered in the artifact store, or on the way, is refused by the loader itself. The service token
only (the route checks it)."""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..errors import MLPError, NotFound
from ..experiments.projects import experiment_ids
from ..orm import ModelAlias, ModelVersion, Project, RegisteredModel
from ..registry.service import download_tree

PROJECT = "mlp-recommender"
MODEL = "encoder"
ALIAS = "champion"
MAX_BYTES = 256 * 1024 * 1024  # the seed's 6x384 encoder is ~40 MB; more is not an encoder of ours


class Unavailable(MLPError):
    status = 503
    code = "unavailable"


def _record(app: Any) -> tuple[int, str, str | None, str | None, list[str]]:
    """(version, source, statement, signature, the project's experiment ids) of the champion; NotFound otherwise."""
    with app.state.db.session() as db:
        row = db.execute(select(ModelVersion, Project.id)
                         .join(ModelAlias, ModelAlias.version_id == ModelVersion.id)
                         .join(RegisteredModel, ModelAlias.model_id == RegisteredModel.id)
                         .join(Project, RegisteredModel.project_id == Project.id)
                         .where(Project.slug == PROJECT, RegisteredModel.name == MODEL, ModelAlias.alias == ALIAS)
                         ).first()
        if row is None:
            raise NotFound(f"No {MODEL}@{ALIAS} in the platform project '{PROJECT}': train one with "
                           "`python -m jupyter_mlp_gpu.recommender.train`")
        v, project_id = row
        return v.version, v.source, v.statement, v.signature, experiment_ids(db, project_id)


async def champion(app: Any, known: int | None = None) -> dict[str, Any]:
    """The champion's version, statement, signature and files (base64), unverified: the loader verifies. When the
    caller already holds that version (`known`), only the version, `unchanged: true` (no download every check)."""
    version, source, statement, signature, ids = await run_in_threadpool(_record, app)
    if known is not None and known == version:
        return {"project": PROJECT, "model": MODEL, "alias": ALIAS, "version": version, "unchanged": True}
    base = source.removeprefix("mlflow-artifacts:/").strip("/")
    if not source.startswith("mlflow-artifacts:/") or base.split("/", 1)[0] not in ids or ".." in base.split("/"):
        raise Unavailable(f"{MODEL} version {version}'s files are outside the project's artifact store")
    exp = app.state.experiments
    try:
        await exp.ready()
    except RuntimeError as e:
        raise Unavailable(f"MLflow is not available: {e}") from e
    folder = Path(tempfile.mkdtemp(prefix="mlp-encoder-"))
    try:
        listed = await download_tree(exp, base, folder)
        if sum(f["size"] for f in listed) > MAX_BYTES:
            raise Unavailable(f"{MODEL} version {version} is larger than {MAX_BYTES >> 20} MiB")
        files = {f["path"]: base64.b64encode((folder / f["path"]).read_bytes()).decode() for f in listed}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"project": PROJECT, "model": MODEL, "alias": ALIAS, "version": version, "statement": statement,
            "signature": signature, "files": files}
