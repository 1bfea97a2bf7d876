"""A version's drift reference: its training data snapshot (read from its lineage) profiled and the thresholds
calibrated (`drift.build_profile`), kept on disk and in the database; loaded (and cached) for evaluations."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..orm import ModelVersion, ReferenceProfile, utcnow


def profile_dir(home: Path, version_id: int) -> Path:
    return home / "monitoring" / "profiles" / str(version_id)


class ProfileError(Exception):
    pass


def _schema_names(app, slug: str, deployment: str, number: int) -> list[str] | None:  # noqa: ANN001
    import yaml

    from ..serving.service import RequestSchema

    from .. import at_rest

    path = app.state.serving.folder(slug, deployment, number) / "model" / "MLmodel"
    if not path.exists():
        return None
    try:  # sealed when the project encrypts at rest (serving/sealed_model.py)
        text = at_rest.read_file(path, at_rest.keyring(app).reader(at_rest.project_id(app, slug))).decode()
    except at_rest.AtRestError:
        return None
    return RequestSchema.from_mlmodel(yaml.safe_load(text)).names


def _training_candidates(lineage: dict[str, Any], evaluation: str | None = None) -> list[tuple[str, int | None]]:
    """Datasets the version was trained on: what its run (or its pipeline's stages) read first, then the snapshots
    its pipeline run pinned — less the gates' evaluation table, unless training read it."""
    data = lineage.get("data") or {}
    out: list[tuple[str, int | None]] = []
    def snap_id(v: Any) -> int | None:  # lineage may carry ids as text (19 digits do not survive JSON numbers)
        try:
            return int(v) if v is not None else None
        except (TypeError, ValueError):
            return None

    for r in data.get("reads") or []:
        if r.get("name"):
            out.append((r["name"], snap_id(r.get("snapshot_id"))))
    for name, snap in (data.get("pinned") or {}).items():
        if (name, snap_id(snap)) not in out and name != evaluation:
            out.append((name, snap_id(snap)))
    return out


def build_reference(app, slug: str, version_id: int, features: list[str] | None, window_size: int,  # noqa: ANN001
                    target: str | None, evaluation: str | None = None) -> ReferenceProfile:
    """Profile the version's training snapshot and calibrate its thresholds (runs in a worker thread)."""
    import pandas as pd

    from . import drift

    db = app.state.db
    with db.session() as s:
        v = s.get(ModelVersion, version_id)
        lineage = json.loads(v.lineage or "{}")
    chosen, frame, why = None, None, "its lineage records no dataset snapshot it was trained on"
    for name, snap in _training_candidates(lineage, evaluation):
        try:
            data, snapshot = app.state.datasets.read(slug, name, snap)
        except LookupError:
            why = f"its training data {name}@{snap} is no longer in the project"
            continue
        df = pd.read_parquet(io.BytesIO(data))
        cols = [c for c in (features or df.columns) if c in df.columns and c != target]
        if cols and (features is None or len(cols) == len(features)):
            chosen, frame = (name, snapshot.snapshot_id), df[cols]
            break
        why = f"its training data {name} lacks the model's input columns {sorted(set(features or []) - set(df.columns))}"
    settings = app.state.settings
    profile = None
    if frame is not None:
        # Profiling and calibrating take seconds (much longer on a loaded machine): never inside a transaction,
        # which on SQLite holds the write lock and made every other request wait, then fail as "database is locked".
        profile = drift.build_profile(frame, window_size=window_size, seed=version_id,
                                      max_reference_rows=settings.monitor_reference_rows)
        folder = profile_dir(settings.home, version_id)
        folder.mkdir(parents=True, exist_ok=True)
        profile.save(folder)
    with db.session() as s:
        row = s.execute(select(ReferenceProfile).where(ReferenceProfile.version_id == version_id)).scalar_one_or_none()
        if row is None:
            row = ReferenceProfile(version_id=version_id, status="failed", window_size=window_size)
            s.add(row)
        row.window_size, row.created_at, row.target = window_size, utcnow(), target
        if profile is None:
            row.status, row.message, row.dataset, row.snapshot_id = "failed", f"No reference: {why}.", None, None
        else:
            row.status, row.message = "ready", None
            row.dataset, row.snapshot_id = chosen
            row.rows = int(profile.reference_rows)
            row.features = json.dumps(profile.describe())
            row.thresholds = json.dumps(profile.thresholds)
            row.method = json.dumps(profile.method)
        s.commit()
        s.refresh(row)
        s.expunge(row)
        return row


async def ensure_profile(app, slug: str, deployment: str, version_id: int, window_size: int,  # noqa: ANN001
                         fresh: bool = False) -> ReferenceProfile:
    def existing() -> tuple[ReferenceProfile | None, int, str | None, str | None]:
        with app.state.db.session() as s:
            row = s.execute(select(ReferenceProfile).where(ReferenceProfile.version_id == version_id)
                            ).scalar_one_or_none()
            v = s.get(ModelVersion, version_id)
            gates = json.loads(v.model.gates or "{}")
            target = (gates.get("evaluation") or {}).get("target")
            if row is not None:
                s.expunge(row)
            return row, v.version, target, (gates.get("evaluation") or {}).get("dataset")

    row, number, target, evaluation = await run_in_threadpool(existing)
    features = await run_in_threadpool(_schema_names, app, slug, deployment, number)
    if row is not None and not fresh and row.status == "ready" and row.window_size == window_size:
        have = [f.get("feature") for f in json.loads(row.features or "[]")]
        if features is None or sorted(have) == sorted(features):
            return row
    return await run_in_threadpool(build_reference, app, slug, version_id, features, window_size, target,
                                   evaluation)


def load_profile(app, version_id: int):  # noqa: ANN001, ANN201
    from . import drift

    cache = app.state.monitoring.profiles
    folder = profile_dir(app.state.settings.home, version_id)
    stamp = (folder / "profile.json").stat().st_mtime_ns if (folder / "profile.json").exists() else None
    hit = cache.get(version_id)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    profile = drift.ReferenceProfile.load(folder)
    cache[version_id] = (stamp, profile)
    return profile

