"""Lineage and diff: the graph from dataset snapshots through pipeline versions and runs to model versions and the
deployments that served them, for a version or a dataset; two versions of a model side by side."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..access import Action, require
from ..deps import DB
from ..identity import Identity
from ..orm import Deployment, DeploymentEvent, ModelVersion, RegisteredModel
from . import records
from .schemas import DiffRow, LineageEdge, LineageGraph, LineageNode, VersionDiff


def graph_for_versions(db: DB, slug: str, versions: list[tuple[RegisteredModel, ModelVersion]]) -> LineageGraph:
    nodes: dict[str, LineageNode] = {}
    edges: set[tuple[str, str]] = set()
    for m, v in versions:
        lin = json.loads(v.lineage)
        mv = f"model:{m.name}/{v.version}"
        nodes[mv] = LineageNode(id=mv, kind="model_version", label=f"{m.name} v{v.version}",
                                detail={"signed": bool(v.signature), "aliases": sorted(
                                    a for a, n in records.aliases(db, m.id).items() if n == v.version)})
        run = f"mlflow:{lin.get('mlflow_run')}"
        nodes[run] = LineageNode(id=run, kind="mlflow_run", label=f"run {str(lin.get('mlflow_run'))[:8]}",
                                 detail={"run_id": lin.get("mlflow_run")})
        edges.add((run, mv))
        upstream = run
        if lin.get("pipeline_run"):
            pr = f"prun:{lin['pipeline_run']}"
            nodes[pr] = LineageNode(id=pr, kind="pipeline_run", label=f"pipeline run {lin['pipeline_run'][:8]}",
                                    detail={"run_id": lin["pipeline_run"]})
            edges.add((pr, run))
            upstream = pr
        if lin.get("pipeline_version"):
            pv = f"pver:{lin['pipeline_version']}"
            nodes[pv] = LineageNode(id=pv, kind="pipeline_version", label=f"pipeline {lin['pipeline_version'][:12]}",
                                    detail={"version": lin["pipeline_version"]})
            edges.add((pv, upstream))
        data = lin.get("data", {})
        for ds, snap in (data.get("pinned") or {}).items():
            d = f"data:{ds}@{snap}"
            nodes[d] = LineageNode(id=d, kind="dataset", label=f"{ds} @ {snap}", detail={"dataset": ds,
                                                                                        "snapshot_id": snap})
            edges.add((d, upstream))
        for r in data.get("reads") or []:
            if not r.get("name") or (data.get("pinned") or {}).get(r["name"]) == r.get("snapshot_id"):
                continue
            d = f"data:{r['name']}@{r.get('snapshot_id') or r.get('sha256', '')[:12]}"
            nodes[d] = LineageNode(id=d, kind="dataset", label=d[5:], detail=r)
            edges.add((d, run))
        # Downstream: the deployments serving this version now, and those that served it before.
        serving = {d.name: d for d in db.execute(select(Deployment).where(Deployment.version_id == v.id)).scalars()}
        served = db.execute(select(Deployment.name, Deployment.status).join(
            DeploymentEvent, DeploymentEvent.deployment_id == Deployment.id).where(
            DeploymentEvent.version_id == v.id).distinct()).all()
        for name, status in served:
            dn = f"deploy:{name}"
            now = name in serving
            nodes[dn] = LineageNode(id=dn, kind="deployment", label=f"deployment {name}",
                                    detail={"deployment": name, "status": status, "serving": now})
            edges.add((mv, dn))
    return LineageGraph(nodes=list(nodes.values()), edges=[LineageEdge(source=a, target=b) for a, b in sorted(edges)])


def version_lineage(db: DB, who: Identity, slug: str, name: str, version: int) -> LineageGraph:
    """Dataset snapshots → pipeline version → run → this model version → deployments."""
    g = require(db, who, slug, Action.read_models, target=f"{name}/{version}")
    m = records.model(db, g.project.id, name)
    out = graph_for_versions(db, slug, [(m, records.version(db, m, version))])
    db.commit()
    return out


def dataset_lineage(db: DB, who: Identity, slug: str, dataset: str, snapshot_id: int | None = None) -> LineageGraph:
    """What was made from a dataset (optionally one snapshot): runs and model versions."""
    g = require(db, who, slug, Action.read_models, target=f"dataset:{dataset}")
    rows = db.execute(select(RegisteredModel, ModelVersion).join(ModelVersion, ModelVersion.model_id ==
                                                                 RegisteredModel.id)
                      .where(RegisteredModel.project_id == g.project.id)).all()
    picked = []
    for m, v in rows:
        data = json.loads(v.lineage).get("data", {})
        snaps = {str(s) for k, s in (data.get("pinned") or {}).items() if k == dataset}
        snaps |= {str(r.get("snapshot_id")) for r in data.get("reads") or [] if r.get("name") == dataset}
        if snaps and (snapshot_id is None or str(snapshot_id) in snaps):
            picked.append((m, v))
    out = graph_for_versions(db, g.project.slug, picked)
    db.commit()
    return out


def _rows(a: dict[str, Any], b: dict[str, Any]) -> list[DiffRow]:
    return [DiffRow(key=k, a=a.get(k), b=b.get(k), changed=a.get(k) != b.get(k)) for k in sorted(set(a) | set(b))]


def _code(home, slug: str, lin: dict[str, Any]) -> dict[str, str]:  # noqa: ANN001
    """The code of the stage notebooks behind a version, cell by cell, as text."""
    pv = lin.get("pipeline_version")
    if not pv:
        return {}
    out = {}
    for nb in sorted((home / "pipelines" / slug / pv / "stages").glob("*.ipynb")):
        cells = json.loads(nb.read_text()).get("cells", [])
        out[nb.name] = "\n".join(
            f"# cell {c.get('metadata', {}).get('mlp_source_cell', '')}\n"
            + ("".join(c["source"]) if isinstance(c.get("source"), list) else c.get("source", ""))
            for c in cells if c.get("cell_type") == "code")
    return out


def diff(home: Path, db: DB, who: Identity, slug: str, name: str, a: int, b: int) -> VersionDiff:
    """Two versions side by side: parameters, metrics, data snapshots, lineage, code (`home`: the platform's
    folder, where pipeline versions keep their stage notebooks)."""
    g = require(db, who, slug, Action.read_models, target=f"{name}/{a}..{b}")
    m = records.model(db, g.project.id, name)
    va, vb = records.version(db, m, a), records.version(db, m, b)
    la, lb = json.loads(va.lineage), json.loads(vb.lineage)
    db.commit()
    ca, cb = _code(home, slug, la), _code(home, slug, lb)
    if ca or cb:
        text = "".join("".join(difflib.unified_diff(ca.get(f, "").splitlines(True), cb.get(f, "").splitlines(True),
                                                    f"v{a}/{f}", f"v{b}/{f}")) for f in sorted(set(ca) | set(cb)))
        code = text or "The stage notebooks' code is identical."
    else:
        def nb(v: int, lin: dict[str, Any]) -> str:
            c = lin.get("code") or {}
            if not c.get("notebook_sha256"):
                return f"v{v} was not logged from a notebook the platform recorded"
            return f"v{v} from {c.get('notebook_path') or 'a notebook'} (sha256 {c['notebook_sha256'][:12]})"

        same = (la.get("code") or {}).get("notebook_sha256") == (lb.get("code") or {}).get("notebook_sha256")
        code = (f"{nb(a, la)}; {nb(b, lb)}. "
                + ("Same notebook. " if same and (la.get("code") or {}).get("notebook_sha256") else "")
                + "A line-by-line code diff needs versions made by pipelines (their stage notebooks are stored).")
    data_a = {**{f"pinned:{k}": v for k, v in (la.get("data", {}).get("pinned") or {}).items()},
              **{f"read:{r.get('name')}": r.get("snapshot_id") or r.get("sha256") for r in
                 la.get("data", {}).get("reads") or []}}
    data_b = {**{f"pinned:{k}": v for k, v in (lb.get("data", {}).get("pinned") or {}).items()},
              **{f"read:{r.get('name')}": r.get("snapshot_id") or r.get("sha256") for r in
                 lb.get("data", {}).get("reads") or []}}
    keys = ("data_sha256", "config_sha256", "code_sha256", "environment_sha256", "pipeline_version", "mlflow_run")
    return VersionDiff(a=a, b=b, params=_rows(json.loads(va.params), json.loads(vb.params)),
                       metrics=_rows(json.loads(va.metrics), json.loads(vb.metrics)), data=_rows(data_a, data_b),
                       lineage=_rows({k: la.get(k) for k in keys}, {k: lb.get(k) for k in keys}), code=code)

