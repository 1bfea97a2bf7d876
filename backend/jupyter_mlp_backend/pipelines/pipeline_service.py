"""Promoting a notebook to a pipeline version (checked, split into stages, content-hashed, stored); reading the
project's pipelines and their versions. Plain functions taking a session, the caller and plain values."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import timezone
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from jupyter_mlp.lineage import package_freeze

from .. import audit
from ..access import Action, require
from ..deps import DB
from ..errors import Invalid, NotFound
from ..identity import Identity
from ..orm import Pipeline, PipelineVersion, utcnow
from . import versions
from .analysis import Analysis, analyse
from .parameters import parameter_out
from .schemas import (
    ContainerRequest,
    ParameterOut,
    PipelineDetail,
    PipelinePage,
    PipelineSummary,
    PipelineVersionOut,
    PreflightReport,
    Problem,
    PromoteResult,
    StageOut,
)


class PreflightFailed(Invalid):
    code = "preflight_failed"


def _validated(nb: dict) -> dict:
    import nbformat

    try:
        node = nbformat.from_dict(nb)
        nbformat.validate(node, version=4)
    except Exception as e:  # nbformat raises several kinds; all mean the same to the user
        msg = str(e).splitlines()[0][:300]
        raise Invalid(f"The notebook is not valid nbformat v4 JSON: {msg}", detail=[{"field": "notebook"}]) from e
    if node.get("nbformat") != 4:
        raise Invalid("Only nbformat 4 notebooks can be promoted", detail=[{"field": "notebook"}])
    return nb


def _report(a: Analysis) -> tuple[list[StageOut], list[ParameterOut], list[Problem]]:
    stages = [StageOut(name=s.name, cells=s.cells, inputs=s.inputs, outputs=s.outputs, depends_on=s.depends_on)
              for s in a.stages]
    return stages, [parameter_out(asdict(p)) for p in a.parameters], [Problem(**asdict(p)) for p in a.problems]


def _container_request(nb: dict) -> dict | None:
    asked = (nb.get("metadata", {}).get("mlp") or {}).get("container")
    if asked is None:
        return None
    try:
        req = ContainerRequest.model_validate(asked)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise Invalid(f"metadata.mlp.container{'.' + where if where else ''}: {first['msg']}",
                      detail=[{"field": f"notebook.metadata.mlp.container.{where}".rstrip(".")}]) from None
    return req.model_dump(exclude_none=True, exclude_defaults=True) or None


def _default_name(db: DB, project_id: int, path: str) -> tuple[str, bool]:
    """(name, exists): the pipeline this notebook was last promoted to, so a re-promotion adds a version to it
    whatever it was named; else the file name, slugified."""
    existing = db.execute(select(Pipeline.name).where(Pipeline.project_id == project_id, Pipeline.source_path == path)
                          .order_by(Pipeline.updated_at.desc(), Pipeline.id.desc()).limit(1)).scalar_one_or_none()
    if existing is not None:
        return existing, True
    stem = PurePosixPath(path).stem.lower()
    name = (re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "pipeline")[:63]
    taken = db.execute(select(Pipeline.id).where(Pipeline.project_id == project_id, Pipeline.name == name)
                       ).scalar_one_or_none()
    return name, taken is not None


def _grant(db: DB, who: Identity, slug: str, target: str):  # noqa: ANN202
    grant = require(db, who, slug, Action.write_pipelines, target=target)
    db.commit()
    return grant


async def preflight(db: DB, who: Identity, slug: str, notebook: dict[str, Any], path: str) -> PreflightReport:
    """Check a notebook before promoting it: stages, parameters and what would break."""
    def proposed() -> tuple[str, bool]:
        grant = _grant(db, who, slug, "preflight")
        out = _default_name(db, grant.project.id, path)
        db.commit()
        return out

    name, existing = await run_in_threadpool(proposed)
    a = analyse(_validated(notebook))
    stages, params, problems = _report(a)
    return PreflightReport(ok=a.ok, stages=stages, parameters=params, problems=problems, pipeline=name,
                           existing=existing)


def promote(home: Path, db: DB, who: Identity, slug: str, notebook: dict[str, Any], path: str,
            name: str | None = None) -> PromoteResult:
    """Promote a notebook: a new content-hashed version, or the existing identical one (`created` says which;
    `home`: the platform's folder, where versions are stored)."""
    grant = require(db, who, slug, Action.write_pipelines, target=path[:256])
    db.commit()
    a = analyse(_validated(notebook))
    stages, params, problems = _report(a)
    if not a.ok:
        errors = [p for p in problems if p.severity == "error"]
        raise PreflightFailed(f"Promotion refused: {len(errors)} problem(s); first: {errors[0].message}",
                              detail=[p.model_dump() for p in problems])
    name = name or _default_name(db, grant.project.id, path)[0]
    desc = versions.description(a, path, _container_request(notebook))
    notebooks = versions.stage_notebooks(notebook, a)
    environment = package_freeze()
    digest = versions.digest(desc, notebooks, environment)
    root = home / "pipelines" / slug
    versions.store(root, digest, desc, notebooks, environment)

    pipeline = db.execute(select(Pipeline).where(Pipeline.project_id == grant.project.id, Pipeline.name == name)
                          ).scalar_one_or_none()
    if pipeline is None:
        pipeline = Pipeline(project_id=grant.project.id, name=name, source_path=path, created_by=who.user)
        db.add(pipeline)
        db.flush()
    existing = db.execute(select(PipelineVersion).where(PipelineVersion.pipeline_id == pipeline.id,
                                                        PipelineVersion.digest == digest)).scalar_one_or_none()
    created = existing is None
    if created:
        db.add(PipelineVersion(pipeline_id=pipeline.id, digest=digest, description=json.dumps(desc),
                               created_by=who.user))
        pipeline.updated_at = utcnow()
        pipeline.source_path = path
        audit.append(db, actor=who.user, action="pipeline.promoted", decision="allow", project=slug,
                     target=f"{name}@{digest[:12]}", detail={"source_path": path, "stages": desc["order"]})
    db.commit()
    return PromoteResult(pipeline=name, version=digest, created=created, stages=stages, parameters=params,
                         problems=problems)


def _iso(dt) -> str:  # noqa: ANN001
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


def list_pipelines(db: DB, who: Identity, slug: str, limit: int, offset: int) -> PipelinePage:
    """The project's pipelines, the latest changed first."""
    grant = require(db, who, slug, Action.read_pipelines)
    q = select(Pipeline).where(Pipeline.project_id == grant.project.id)
    total = db.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.execute(q.order_by(Pipeline.updated_at.desc()).limit(limit).offset(offset)).scalars().all()
    items = [PipelineSummary(name=p.name, source_path=p.source_path, latest_version=p.versions[-1].digest,
                             versions=len(p.versions), updated_at=_iso(p.updated_at)) for p in rows]
    db.commit()
    return PipelinePage(items=items, total=total)


def get_pipeline(db: DB, who: Identity, slug: str, name: str) -> PipelineDetail:
    """A pipeline and its versions, newest first."""
    grant = require(db, who, slug, Action.read_pipelines, target=name)
    p = db.execute(select(Pipeline).where(Pipeline.project_id == grant.project.id, Pipeline.name == name)
                   ).scalar_one_or_none()
    if p is None:
        db.commit()
        raise NotFound(f"Pipeline '{name}' not found")
    out = []
    for v in reversed(p.versions):
        d = json.loads(v.description)
        out.append(PipelineVersionOut(
            version=v.digest, created_at=_iso(v.created_at), created_by=v.created_by,
            stages=[StageOut(**{k: s[k] for k in StageOut.model_fields}) for s in d["stages"]],
            order=d["order"], parameters=[parameter_out(x) for x in d["parameters"]]))
    db.commit()
    return PipelineDetail(name=p.name, source_path=p.source_path, versions=out)
