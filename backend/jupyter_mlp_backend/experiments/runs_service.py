"""Reading a project's experiments and runs for a caller (the Experiments API the panel and `mlp runs` use): search,
columns, detail, metric history, artifacts, compare; a kernel's MLflow credentials. Plain functions taking the app
(its MLflow service), a session, the caller and plain values, raising the domain errors."""

from __future__ import annotations

import json
import mimetypes
import time

from starlette.concurrency import run_in_threadpool

from jupyter_mlp.identity import mint_token

from ..access import Action, require
from ..deps import DB
from ..errors import Invalid, NotFound
from ..identity import Identity
from .paths import InvalidArtifactPath, artifact_path
from .projects import experiment_ids, experiment_rows
from .schemas import (
    ArtifactEntry,
    ArtifactList,
    DatasetRef,
    ExperimentOut,
    ExperimentPage,
    KernelCredentials,
    Lineage,
    MetricHistory,
    MetricPoint,
    RunColumns,
    RunComparison,
    RunCount,
    RunDetail,
    RunPage,
    RunSummary,
)
from .search import RunQuery, RunRow
from .service import Unavailable, ensure_default_experiment


async def ready(app):  # noqa: ANN001, ANN201
    """The app's MLflow (experiments) service, once it answers; Unavailable otherwise."""
    exp = app.state.experiments
    try:
        await exp.ready()
    except RuntimeError as e:
        raise Unavailable(f"MLflow is not available: {e}") from e
    return exp


def summary(r: RunRow) -> RunSummary:
    return RunSummary(run_id=r.run_id, run_name=r.run_name, experiment_id=r.experiment_id, status=r.status,
                      start_time=r.start_time, end_time=r.end_time, user=r.user, params=r.params, metrics=r.metrics,
                      tags=r.tags)


def _lineage(tags: dict[str, str]) -> Lineage:
    try:
        datasets = [DatasetRef(**d) for d in json.loads(tags.get("mlp.datasets", "[]"))]
    except (ValueError, TypeError):
        datasets = []
    dirty = tags.get("mlp.git.dirty")
    return Lineage(
        notebook_path=tags.get("mlp.notebook.path"),
        notebook_sha256=tags.get("mlp.notebook.sha256"),
        git_commit=tags.get("mlp.git.commit"),
        git_dirty=None if dirty is None else dirty == "true",
        python_version=tags.get("mlp.python.version"),
        freeze_sha256=tags.get("mlp.env.freeze_sha256"),
        datasets=datasets,
    )


def project_runs(db: DB, who: Identity, slug: str, target: str | None = None) -> tuple[int, list[str]]:
    grant = require(db, who, slug, Action.read_runs, target=target)
    ids = experiment_ids(db, grant.project.id)
    db.commit()
    return grant.project.id, ids


def owned_run(exp, run_id: str, ids: list[str]) -> RunRow:  # noqa: ANN001
    if not run_id.isalnum() or exp.experiment_of_run(run_id) not in ids:
        raise NotFound(f"Run '{run_id}' not found")
    rows = exp.search.get([run_id])
    if not rows or rows[0].lifecycle_stage != "active":
        raise NotFound(f"Run '{run_id}' not found")
    return rows[0]


async def events_source(app, db: DB, who: Identity, slug: str):  # noqa: ANN001, ANN201
    """The MLflow service whose change feed a caller may follow for the project (read access is checked)."""
    exp = await ready(app)
    await run_in_threadpool(project_runs, db, who, slug, "events")
    return exp


def list_experiments(db: DB, who: Identity, slug: str) -> ExperimentPage:
    grant = require(db, who, slug, Action.read_runs)
    rows = experiment_rows(db, grant.project.id)
    db.commit()
    items = [ExperimentOut(experiment_id=r.experiment_id, name=r.name, created_at=int(r.created_at.timestamp() * 1000))
             for r in rows]
    return ExperimentPage(items=items, total=len(items))


async def search_runs(app, db: DB, who: Identity, slug: str, filter: str, order_by: list[str],  # noqa: A002, ANN001
                      experiment_id: list[str], limit: int, offset: int) -> RunPage:
    """Search the project's runs (MLflow filter syntax), in its experiments or the ones named."""
    exp = await ready(app)

    def search() -> RunPage:  # access and the page in one trip to the threadpool (each trip costs under load)
        q = RunQuery(experiment_ids=_searched(db, who, slug, experiment_id), filter=filter, order_by=order_by,
                     limit=limit, offset=offset)
        rows, total, exact = exp.search.page_estimated(q)
        return RunPage(items=[summary(r) for r in rows], total=total, total_exact=exact)

    return await run_in_threadpool(search)


async def count_runs(app, db: DB, who: Identity, slug: str, filter: str,  # noqa: A002, ANN001
                     experiment_id: list[str]) -> RunCount:
    """The exact number of the project's runs a filter matches: what a page answered as an estimate."""
    exp = await ready(app)

    def count() -> RunCount:
        ids = _searched(db, who, slug, experiment_id)
        return RunCount(total=exp.search.count(RunQuery(experiment_ids=ids, filter=filter)))

    return await run_in_threadpool(count)


def _searched(db: DB, who: Identity, slug: str, experiment_id: list[str]) -> list[str]:
    """The experiments a search of the project covers: the ones named (each the project's) or all of them."""
    _, ids = project_runs(db, who, slug)
    for e in experiment_id:
        if e not in ids:
            raise NotFound(f"Experiment '{e}' not found")
    return experiment_id or ids


async def run_columns(app, db: DB, who: Identity, slug: str) -> RunColumns:  # noqa: ANN001
    """Param, metric and tag keys in use in the project's runs (cached until they change)."""
    exp = await ready(app)
    _, ids = await run_in_threadpool(project_runs, db, who, slug)
    key = (exp.changes.cursor(slug), tuple(ids))
    if key not in exp.column_cache:
        exp.column_cache.put(key, await run_in_threadpool(exp.search.columns, ids) if ids else
                             {"params": [], "metrics": [], "tags": []})
    return RunColumns(**exp.column_cache[key])


async def get_run(app, db: DB, who: Identity, slug: str, run_id: str) -> RunDetail:  # noqa: ANN001
    """One run with its lineage."""
    exp = await ready(app)
    _, ids = await run_in_threadpool(project_runs, db, who, slug, run_id)
    r = await run_in_threadpool(owned_run, exp, run_id, ids)
    return RunDetail(**summary(r).model_dump(), artifact_uri=r.artifact_uri, lineage=_lineage(r.tags))


async def metric_history(app, db: DB, who: Identity, slug: str, run_id: str, key: str) -> MetricHistory:  # noqa: ANN001
    exp = await ready(app)
    _, ids = await run_in_threadpool(project_runs, db, who, slug, run_id)
    await run_in_threadpool(owned_run, exp, run_id, ids)
    points = await run_in_threadpool(exp.search.metric_history, run_id, key)
    return MetricHistory(key=key, points=[MetricPoint(**p) for p in points])


def _artifact_base(r: RunRow) -> str:
    uri = r.artifact_uri or ""
    if not uri.startswith("mlflow-artifacts:/"):
        raise NotFound("This run's artifacts are not stored by the platform")
    return uri[len("mlflow-artifacts:/"):].strip("/")


def _clean(path: str) -> str:
    try:
        return "/".join(artifact_path(path))
    except InvalidArtifactPath as e:
        raise Invalid(str(e), detail=[{"field": "path"}]) from e


LOGGED_MODELS = "logged-models"


async def _logged_models(exp, r: RunRow) -> dict[str, str]:  # noqa: ANN001
    """The models a run logged (MLflow 3 stores them outside the run's folder): name -> artifact-store path."""
    resp = await exp.mlflow.client.post("/api/2.0/mlflow/logged-models/search", json={
        "experiment_ids": [r.experiment_id], "filter": f"source_run_id = '{r.run_id}'", "max_results": 100})
    out: dict[str, str] = {}
    for m in resp.json().get("models", []) if resp.status_code == 200 else []:
        info = m.get("info", {})
        uri = info.get("artifact_uri") or ""
        base = uri[len("mlflow-artifacts:/"):].strip("/") if uri.startswith("mlflow-artifacts:/") else ""
        if not base.startswith(f"{r.experiment_id}/") or ".." in base.split("/"):
            continue  # only files under the run's own experiment
        name = info.get("name") or info.get("model_id", "model")
        out[name if name not in out else f"{name}-{info.get('model_id')}"] = base
    return out


async def _artifact_location(exp, r: RunRow, rel: str) -> tuple[str, str, dict[str, str] | None]:  # noqa: ANN001
    """(artifact-store folder, path inside it, logged models when asked for) of a path the panel shows."""
    parts = rel.split("/") if rel else []
    if parts and parts[0] == LOGGED_MODELS:
        models = await _logged_models(exp, r)
        if len(parts) == 1:
            return "", "", models
        if parts[1] not in models:
            raise NotFound(f"Logged model '{parts[1]}' not found")
        return models[parts[1]], "/".join(parts[2:]), None
    return _artifact_base(r), rel, None


async def list_artifacts(app, db: DB, who: Identity, slug: str, run_id: str,  # noqa: ANN001
                         path: str = "") -> ArtifactList:
    """A run's artifacts in a folder (its logged models under logged-models/<name>/)."""
    rel = _clean(path)
    exp = await ready(app)
    _, ids = await run_in_threadpool(project_runs, db, who, slug, run_id)
    r = await run_in_threadpool(owned_run, exp, run_id, ids)
    base, sub, models = await _artifact_location(exp, r, rel)
    if models is not None:  # the virtual folder of logged models
        return ArtifactList(path=rel, items=[ArtifactEntry(path=f"{LOGGED_MODELS}/{n}", is_dir=True)
                                             for n in sorted(models)])
    full = "/".join(p for p in (base, sub) if p)
    resp = await exp.mlflow.client.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": full})
    if resp.status_code != 200:
        raise NotFound(f"Artifact folder '{rel}' not found")
    files = resp.json().get("files", [])
    items = [ArtifactEntry(path="/".join(p for p in (rel, f["path"]) if p), is_dir=f.get("is_dir", False),
                           file_size=int(f["file_size"]) if f.get("file_size") is not None else None) for f in files]
    if not rel and await _logged_models(exp, r):
        items.append(ArtifactEntry(path=LOGGED_MODELS, is_dir=True))
    return ArtifactList(path=rel, items=items)


async def get_artifact(app, db: DB, who: Identity, slug: str, run_id: str,  # noqa: ANN001
                       path: str) -> tuple[bytes, str, str]:
    """One artifact file of a run: (its bytes, its media type, its file name)."""
    rel = _clean(path)
    if not rel:
        raise Invalid("path must name a file", detail=[{"field": "path"}])
    exp = await ready(app)
    _, ids = await run_in_threadpool(project_runs, db, who, slug, f"{run_id}:{rel}")
    r = await run_in_threadpool(owned_run, exp, run_id, ids)
    base, sub, models = await _artifact_location(exp, r, rel)
    if models is not None or not sub:
        raise Invalid("path must name a file", detail=[{"field": "path"}])
    resp = await exp.mlflow.client.get(f"/api/2.0/mlflow-artifacts/artifacts/{base}/{sub}")
    if resp.status_code != 200:
        raise NotFound(f"Artifact '{rel}' not found")
    media = mimetypes.guess_type(rel)[0] or "application/octet-stream"
    return resp.content, media, rel.rsplit("/", 1)[-1]


async def compare_runs(app, db: DB, who: Identity, slug: str, run_ids: str,  # noqa: ANN001
                       metrics: str = "") -> RunComparison:
    """Compare 2 to 50 runs (comma-separated ids), with up to 10 metrics' histories overlaid."""
    wanted = list(dict.fromkeys(x for x in run_ids.split(",") if x))
    if not 2 <= len(wanted) <= 50:
        raise Invalid(f"Compare takes 2 to 50 runs; got {len(wanted)}", detail=[{"field": "run_ids"}])
    keys = [m for m in metrics.split(",") if m][:10]
    exp = await ready(app)
    _, ids = await run_in_threadpool(project_runs, db, who, slug, ",".join(wanted)[:256])

    def load() -> RunComparison:
        rows = [owned_run(exp, rid, ids) for rid in wanted]
        param_keys = sorted({k for r in rows for k in r.params})
        differing = [k for k in param_keys if len({r.params.get(k) for r in rows}) > 1]
        metric_keys = sorted({k for r in rows for k in r.metrics})
        histories = {k: {r.run_id: [MetricPoint(**p) for p in exp.search.metric_history(r.run_id, k)] for r in rows}
                     for k in keys}
        return RunComparison(runs=[summary(r) for r in rows], param_keys=param_keys, differing_params=differing,
                             metric_keys=metric_keys, histories=histories)

    return await run_in_threadpool(load)


async def kernel_token(request, db: DB, who: Identity, slug: str) -> KernelCredentials:  # noqa: ANN001
    """MLflow credentials for a notebook kernel of this project."""
    exp = await ready(request.app)

    def grant() -> int:
        g = require(db, who, slug, Action.read_runs, target="kernel-token")
        db.commit()
        return g.project.id

    project_id = await run_in_threadpool(grant)
    default_id = await ensure_default_experiment(request, exp, slug, project_id, who.user)
    settings = request.app.state.settings
    ttl = settings.kernel_token_ttl_seconds
    token = mint_token(request.app.state.secret, who.user, ttl, scope="mlflow", prj=slug, adm=who.is_admin)
    return KernelCredentials(token=token, experiment_id=default_id, tracking_path=f"/mlflow/{slug}",
                             expires_at=int(time.time()) + ttl)
