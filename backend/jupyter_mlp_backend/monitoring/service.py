"""Monitors: the prediction log cut into windows, drift and performance per window, alerts, webhooks, retraining.

One monitor watches one deployment. An evaluation (Dagster's sensor asks for one every
`monitor_interval_seconds`; "Check now" in the panel asks too):

1. flushes the deployment's prediction log and reads it with the labels posted since (feedback table);
2. cuts each served version's predictions, in time order, into windows of `window_size` rows; a full window's
   drift is computed once against that version's reference profile (`drift.check_window`) and stored; the
   performance of the latest windows is recomputed while late labels arrive;
3. turns the newest window's findings into alerts — one alert per condition (`drift:<feature>`,
   `performance:<metric>`, `data:schema`), firing until a later window no longer shows it, then resolved — and
   delivers each change of state to the project's webhooks;
4. when an alert starts firing and the monitor retrains, launches the pipeline that produced the deployed version
   on the current dataset snapshots, as the monitor's creator; later evaluations follow the run: its new version
   goes through the registry's gates for `champion`, and only a passing version is deployed.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from .. import audit
from ..orm import (Alert, Deployment, GateDecision, ModelVersion, Monitor, MonitorWindow, Project, ReferenceProfile,
                   Retraining, Webhook, WebhookDelivery, utcnow)

log = logging.getLogger(__name__)

MIN_LABELS = 30  # fewer labels in a window: its performance is "insufficient data"
PERF_WINDOWS = 20  # the newest windows whose performance is recomputed as labels arrive
HIGHER_IS_BETTER = {"roc_auc": True, "f1": True, "rmse": False, "ece": False}
DEFAULT_TOLERANCE = {"roc_auc": 0.05, "f1": 0.05, "ece": 0.05, "rmse": 0.1}  # rmse: a fraction of the baseline


def profile_dir(home: Path, version_id: int) -> Path:
    return home / "monitoring" / "profiles" / str(version_id)


def _aware(dt: datetime | None) -> datetime | None:
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


# --- reference profiles -------------------------------------------------------------------------------------------

class ProfileError(Exception):
    pass


def _schema_names(app, slug: str, deployment: str, number: int) -> list[str] | None:  # noqa: ANN001
    import yaml

    from ..serving.protocol import Schema

    path = app.state.serving.folder(slug, deployment, number) / "model" / "MLmodel"
    if not path.exists():
        return None
    return Schema.from_mlmodel(yaml.safe_load(path.read_text())).names


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


# --- the prediction log as rows ----------------------------------------------------------------------------------

def _predictions(response: str, n: int) -> list[Any]:
    try:
        doc = json.loads(response)
    except ValueError:
        return [None] * n
    preds = doc.get("predictions") if isinstance(doc, dict) else None
    if preds is None and isinstance(doc, dict) and isinstance(doc.get("outputs"), list) and doc["outputs"]:
        preds = doc["outputs"][0].get("data")
    if isinstance(preds, dict):  # a frame as {column: values}: the last column is the score
        preds = list(preds.values())[-1]
    if not isinstance(preds, list) or len(preds) != n:
        return [None] * n
    return [p[-1] if isinstance(p, list) and p else p.get(list(p)[-1]) if isinstance(p, dict) and p else p
            for p in preds]


def _probabilities(response: str, n: int) -> list[Any]:
    """Per row, the probability of the positive class (the second of two `classes`) that the deployment answered
    beside its predictions; None where it answered none (class labels only, a multi-class model, Open Inference)."""
    try:
        doc = json.loads(response)
    except ValueError:
        return [None] * n
    proba = doc.get("probabilities") if isinstance(doc, dict) else None
    classes = doc.get("classes") if isinstance(doc, dict) else None
    if not isinstance(proba, list) or len(proba) != n or not isinstance(classes, list) or len(classes) != 2:
        return [None] * n
    return [float(p[1]) if isinstance(p, list) and len(p) == 2 and isinstance(p[1], (int, float)) else None
            for p in proba]


def log_frame(app, slug: str, deployment: str):  # noqa: ANN001, ANN201
    """The deployment's predictions, one row per scored row: features, id, time, version, prediction, label."""
    import pandas as pd

    from ..serving import predlog, protocol

    catalog = app.state.datasets
    try:
        preds = catalog.scan(slug, predlog.table_name("predictions", deployment)).to_pylist()
    except LookupError:
        preds = []
    try:
        fb = catalog.scan(slug, predlog.table_name("feedback", deployment)).to_pylist()
    except LookupError:
        fb = []
    labels: dict[str, Any] = {}
    for r in sorted(fb, key=lambda r: r["ts"]):
        try:
            labels[r["prediction_id"]] = json.loads(r["label"])
        except ValueError:
            continue
    schema = protocol.Schema(None)
    cols: dict[str, list[Any]] = {}
    # __keys: which columns each request sent (absent is not the same as null); __proba: the positive class's
    # probability where the deployment answered one
    meta: dict[str, list[Any]] = {"__pid": [], "__ts": [], "__version": [], "__pred": [], "__proba": [],
                                  "__label": [], "__keys": []}
    skipped = 0
    for r in sorted(preds, key=lambda r: r["ts"]):
        body = r["request"].encode()
        try:
            parsed = (protocol.parse_v2 if r["protocol"] == "v2" else protocol.parse_mlflow)(body, schema)
        except protocol.BadRequest:
            skipped += 1
            continue
        n = parsed.rows
        label = labels.get(r["prediction_id"])
        row_labels = label if isinstance(label, list) and len(label) == n else [label if n == 1 else None] * n
        filled = len(meta["__pid"])
        for c, values in parsed.columns.items():
            if c not in cols:
                cols[c] = [None] * filled
            cols[c].extend(values)
        for c in cols:
            if c not in parsed.columns:
                cols[c].extend([None] * n)
        meta["__pid"].extend([r["prediction_id"]] * n)
        meta["__ts"].extend([r["ts"]] * n)
        meta["__version"].extend([r["version"]] * n)
        meta["__pred"].extend(_predictions(r["response"], n))
        meta["__proba"].extend(_probabilities(r["response"], n))
        meta["__label"].extend(row_labels)
        meta["__keys"].extend(["\x1f".join(parsed.columns)] * n)
    frame = pd.DataFrame({**cols, **meta})
    frame.attrs["skipped_requests"] = skipped
    known = {r["prediction_id"] for r in preds}
    frame.attrs["unmatched_labels"] = sum(1 for pid in labels if pid not in known)
    return frame


# --- performance ------------------------------------------------------------------------------------------------

def performance(window: Any, baseline: dict[str, float], tolerance: dict[str, float]) -> dict[str, Any]:
    """AUC, F1, RMSE, ECE of a window's labelled rows, each against the baseline and its tolerance. AUC and ECE
    come from the probabilities the deployment answered (`__proba`), scored as the gates scored the baseline;
    where it answered class labels only they are listed under `unavailable` with the reason, never alarmed on."""
    import numpy as np

    from ..registry.evaluate import score

    rows = window[window["__label"].notna() & window["__pred"].notna()]
    out: dict[str, Any] = {"labelled": int(len(rows)), "metrics": {}, "checks": [], "unavailable": [],
                           "status": "ok"}
    if len(rows) < MIN_LABELS:
        out["status"] = "insufficient data"
        out["message"] = f"{len(rows)} labelled predictions in this window; at least {MIN_LABELS} are needed"
        return out
    has = rows["__proba"].notna() if "__proba" in rows else None
    notes: dict[str, str] = {}
    try:
        y_arr = np.asarray(rows["__label"].tolist())
        p_arr = np.asarray(rows["__pred"].tolist())
        if has is not None and has.all():
            got = score(y_arr, p_arr, rows["__proba"].to_numpy(dtype=float), notes)
        else:
            got = score(y_arr, p_arr, None, notes)
            if has is not None and int(has.sum()) >= MIN_LABELS:  # only some requests carried probabilities
                mask = has.to_numpy()
                part: dict[str, str] = {}
                sub = score(y_arr[mask], p_arr[mask], rows["__proba"][has].to_numpy(dtype=float), part)
                for k in ("roc_auc", "ece"):
                    if k in sub:
                        got[k] = sub[k]
                        notes.pop(k, None)
                out["probability_rows"] = int(mask.sum())
    except (ValueError, TypeError) as err:
        out["status"] = "error"
        out["message"] = f"the labels and predictions cannot be compared: {err}"
        return out
    out["metrics"] = {k: got[k] for k in HIGHER_IS_BETTER if k in got and math.isfinite(got[k])}
    out["unavailable"] = [{"metric": k, "reason": notes[k]} for k in HIGHER_IS_BETTER
                          if k in notes and k not in out["metrics"]]
    degraded = False
    for metric, value in out["metrics"].items():
        base = baseline.get(metric)
        if base is None:
            continue
        tol = tolerance.get(metric, DEFAULT_TOLERANCE[metric])
        if metric == "rmse" and metric not in tolerance:
            tol = DEFAULT_TOLERANCE["rmse"] * abs(base)
        loss = (base - value) if HIGHER_IS_BETTER[metric] else (value - base)
        bad = loss > tol
        degraded |= bad
        out["checks"].append({"metric": metric, "value": value, "baseline": base, "tolerance": tol,
                              "degraded": bool(bad)})
    out["status"] = "degraded" if degraded else "ok"
    return out


def baseline_of(db, version_id: int) -> dict[str, Any]:  # noqa: ANN001
    """The validated baseline: the metrics of the version's latest passing gate evaluation, else its logged ones."""
    v = db.get(ModelVersion, version_id)
    found: dict[str, float] = {}
    source = None
    d = db.execute(select(GateDecision).where(GateDecision.version_id == version_id,
                                              GateDecision.status.in_(("passed", "approved")))
                   .order_by(GateDecision.id.desc())).scalars().first()
    if d is not None:
        ev = (json.loads(d.evidence).get("evaluation") or {}).get("challenger") or {}
        found = {k: float(ev[k]) for k in HIGHER_IS_BETTER if isinstance(ev.get(k), (int, float))}
        source = f"gate decision {d.id}" if found else None
    if not found:
        logged = json.loads(v.metrics or "{}")
        aliases = {"roc_auc": ("roc_auc", "auc"), "f1": ("f1", "f1_score"), "rmse": ("rmse",), "ece": ("ece",)}
        for k, names in aliases.items():
            for n in names:
                if isinstance(logged.get(n), (int, float)):
                    found[k] = float(logged[n])
                    break
        source = "the version's logged metrics" if found else None
    return {"metrics": found, "source": source}


# --- evaluation -------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    windows: int = 0
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    retraining: list[str] = field(default_factory=list)
    status: str = "ok"
    message: str | None = None

    def summary(self) -> str:
        parts = [f"{self.windows} new window(s)"]
        if self.fired:
            parts.append("firing: " + ", ".join(self.fired))
        if self.resolved:
            parts.append("resolved: " + ", ".join(self.resolved))
        if self.retraining:
            parts.append("retraining: " + ", ".join(self.retraining))
        return "; ".join(parts)


class State:
    """What the backend keeps in memory for monitoring: a lock per monitor and loaded reference profiles."""

    def __init__(self) -> None:
        self.locks: dict[int, asyncio.Lock] = {}
        self.profiles: dict[int, tuple[int | None, Any]] = {}
        self.tasks: set[asyncio.Task] = set()  # reference profiles being built in the background

    def lock(self, monitor_id: int) -> asyncio.Lock:
        return self.locks.setdefault(monitor_id, asyncio.Lock())

    def profile_later(self, app, slug: str, version_id: int, inputs: list[str] | None,  # noqa: ANN001
                      target: str | None, evaluation: str | None) -> None:
        """A validated version gets its drift reference (training data profile, calibrated thresholds) in the
        background; a monitor created before it is done builds it itself. (The registry asks for it on a
        promotion through `app.state.monitoring`.)"""
        from . import drift

        async def build() -> None:
            try:
                await run_in_threadpool(build_reference, app, slug, version_id, inputs, drift.DEFAULT_WINDOW,
                                        target, evaluation)
            except Exception:  # noqa: BLE001 - logged; the monitor retries
                log.exception("reference profile of version %s", version_id)

        task = asyncio.get_running_loop().create_task(build())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def cut(part, window_size: int, window_seconds: int | None, now: datetime | None = None):  # noqa: ANN001, ANN201
    """A version's predictions (time order) as complete windows [(seq, rows)]: by count, `window_size` rows each
    (seq counts windows); by time, the predictions of each `window_seconds` slice of the clock that has ended
    (seq is the slice's number since the epoch). The predictions after the last complete window wait."""
    import pandas as pd

    if not window_seconds:
        return [(i, part.iloc[i * window_size:(i + 1) * window_size]) for i in range(len(part) // window_size)]
    now = now or datetime.now(timezone.utc)
    bucket = (part["__ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=window_seconds)
    current = int(now.timestamp()) // window_seconds
    return [(int(b), rows) for b, rows in part.groupby(bucket, sort=True) if int(b) < current]


def _windows_for(app, monitor_id: int, frame, profiles: dict[int, Any], baselines, tolerance,  # noqa: ANN001
                 window_size: int, window_seconds: int | None = None) -> int:
    """Store every newly complete window; recompute the performance of the newest ones; note how many of the
    served version's rows wait for the next window. Returns how many windows were new."""
    from . import drift

    db = app.state.db
    new = 0
    with db.session() as s:
        mon = s.get(Monitor, monitor_id)
        d = s.get(Deployment, mon.deployment_id)
        numbers = {v.version: v.id for v in s.execute(select(ModelVersion).where(
            ModelVersion.model_id == d.model_id)).scalars()}
        stored = {(w.version_id, w.seq): w for w in s.execute(select(MonitorWindow).where(
            MonitorWindow.monitor_id == monitor_id)).scalars()}
        for number, part in frame.groupby("__version", sort=False) if len(frame) else []:
            version_id = numbers.get(int(number))
            if version_id is None:
                continue
            windows = cut(part, window_size, window_seconds)
            if version_id == d.version_id:
                mon.pending_rows = len(part) - sum(len(rows) for _, rows in windows)
            recent = {seq for seq, _ in windows[-PERF_WINDOWS:]}
            for seq, rows in windows:
                key = (version_id, seq)
                if key in stored and seq not in recent:
                    continue
                labelled = int(rows["__label"].notna().sum())
                w = stored.get(key)
                if w is not None and w.labelled == labelled and w.performance is not None:
                    continue
                perf = performance(rows, baselines.get(version_id, {}).get("metrics", {}), tolerance)
                if w is None:
                    profile = profiles.get(version_id)
                    features = window_features(rows)
                    if profile is None:
                        result = {"status": "insufficient data", "rows": len(rows), "features": [],
                                  "added_columns": [], "missing_columns": [],
                                  "message": "this version has no reference profile (see the monitor's message)"}
                    else:
                        result = drift.check_window(profile, features).to_dict()
                    w = MonitorWindow(monitor_id=monitor_id, version_id=version_id, seq=seq,
                                      start_ts=rows["__ts"].iloc[0].to_pydatetime(),
                                      end_ts=rows["__ts"].iloc[-1].to_pydatetime(), rows=len(rows),
                                      status=result["status"], drift=json.dumps(result, default=_jsonable))
                    s.add(w)
                    new += 1
                w.labelled, w.performance = labelled, json.dumps(perf, default=_jsonable)
        s.commit()
    return new


def window_features(rows):  # noqa: ANN001, ANN201
    """The feature columns of a window: those its requests sent (a column no request sent is missing, one sent
    as null is all-NaN — drift tells the two apart)."""
    sent = set()
    for keys in rows["__keys"].unique():
        sent.update(k for k in keys.split("\x1f") if k)
    return rows[[c for c in rows.columns if not c.startswith("__") and c in sent]]


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)


def _alert_to_hook(a: Alert, slug: str, deployment: str):  # noqa: ANN202
    from .webhooks import Alert as Payload

    return Payload(id=a.id, project=slug, deployment=deployment, monitor=deployment, kind=a.kind, key=a.key,
                   state=a.state, severity=a.severity, title=a.title, detail=json.loads(a.detail),
                   started_at=_aware(a.started_at).isoformat(),
                   resolved_at=_aware(a.resolved_at).isoformat() if a.resolved_at else None, url=None)


def _findings(latest: MonitorWindow | None, latest_perf: MonitorWindow | None) -> tuple[dict[str, dict], set[str]]:
    """What the newest windows say: {key: alert fields} firing now, and the keys they show as fine."""
    firing: dict[str, dict] = {}
    fine: set[str] = set()
    if latest is not None:
        res = json.loads(latest.drift)
        where = {"window": latest.seq, "version_id": latest.version_id, "rows": latest.rows}
        if res.get("status") == "schema changed":
            firing["data:schema"] = {"kind": "data", "severity": "critical",
                                     "title": f"Schema changed: {res.get('message') or 'columns differ'}",
                                     "detail": {**where, "added": res.get("added_columns"),
                                                "missing": res.get("missing_columns")}}
        else:
            fine.add("data:schema")
        for f in res.get("features", []):
            key = f"drift:{f['feature']}"
            if f.get("status") == "drift":
                firing[key] = {"kind": "drift", "severity": "warning",
                               "title": f"Drift in {f['feature']}: {f['test'].upper()} {f['statistic']:.4g} "
                                        f"({'≤' if f['test'] == 'ks' else '≥'} threshold {f['threshold']:.4g})",
                               "detail": {**where, **f}}
            elif f.get("status") == "ok":
                fine.add(key)
    if latest_perf is not None and latest_perf.performance:
        perf = json.loads(latest_perf.performance)
        for c in perf.get("checks", []):
            key = f"performance:{c['metric']}"
            if c["degraded"]:
                firing[key] = {"kind": "performance", "severity": "critical",
                               "title": f"{c['metric']} fell to {c['value']:.4g} (validated {c['baseline']:.4g}, "
                                        f"tolerance {c['tolerance']:.3g})",
                               "detail": {"window": latest_perf.seq, "version_id": latest_perf.version_id,
                                          "labelled": perf.get("labelled"), **c}}
            else:
                fine.add(key)
        for u in perf.get("unavailable", []):  # cannot be computed from what was served: nothing to alarm on
            fine.add(f"performance:{u['metric']}")
    return firing, fine


def _update_alerts(app, monitor_id: int) -> tuple[list[int], list[int]]:  # noqa: ANN001
    """Open, refresh or resolve alerts from the newest windows; returns (fired ids, resolved ids)."""
    db = app.state.db
    with db.session() as s:
        mon = s.get(Monitor, monitor_id)
        d = s.get(Deployment, mon.deployment_id)
        slug = s.get(Project, mon.project_id).slug
        latest = s.execute(select(MonitorWindow).where(MonitorWindow.monitor_id == monitor_id,
                                                       MonitorWindow.version_id == d.version_id)
                           .order_by(MonitorWindow.seq.desc())).scalars().first()
        latest_perf = s.execute(select(MonitorWindow).where(
            MonitorWindow.monitor_id == monitor_id, MonitorWindow.version_id == d.version_id,
            MonitorWindow.performance.is_not(None), ~MonitorWindow.performance.contains('"status": "insufficient data"'))
            .order_by(MonitorWindow.seq.desc())).scalars().first()
        firing, fine = _findings(latest, latest_perf)
        open_ = {a.key: a for a in s.execute(select(Alert).where(Alert.monitor_id == monitor_id,
                                                                  Alert.state == "firing")).scalars()}
        fired, resolved = [], []
        now = utcnow()
        for key, a in list(open_.items()):
            if json.loads(a.detail).get("version_id") not in (None, d.version_id):
                # The version it concerned no longer serves: what the new one shows starts a new episode.
                a.state, a.resolved_at, a.updated_at = "resolved", now, now
                a.detail = json.dumps({**json.loads(a.detail), "resolved_because": "the deployment serves another "
                                                                                   "version"})
                resolved.append(a.id)
                del open_[key]
                audit.append(s, actor="monitor", action="alert.resolve", decision="allow", project=slug,
                             target=f"{d.name}:{key}", detail={"alert": a.id, "reason": "version replaced"})
        for key, f in firing.items():
            a = open_.get(key)
            if a is None:
                a = Alert(project_id=mon.project_id, monitor_id=monitor_id, key=key, kind=f["kind"],
                          severity=f["severity"], state="firing", title=f["title"],
                          detail=json.dumps(f["detail"], default=_jsonable), windows=1, started_at=now, updated_at=now)
                s.add(a)
                s.flush()
                fired.append(a.id)
                audit.append(s, actor="monitor", action="alert.fire", decision="allow", project=slug,
                             target=f"{d.name}:{key}", detail={"alert": a.id, "title": f["title"]})
            elif json.loads(a.detail).get("window") != f["detail"].get("window"):
                a.windows += 1
                a.title, a.detail, a.updated_at = f["title"], json.dumps(f["detail"], default=_jsonable), now
        for key, a in open_.items():
            if key in fine and key not in firing:
                a.state, a.resolved_at, a.updated_at = "resolved", now, now
                resolved.append(a.id)
                audit.append(s, actor="monitor", action="alert.resolve", decision="allow", project=slug,
                             target=f"{d.name}:{key}", detail={"alert": a.id})
        s.commit()
        return fired, resolved


async def deliver(app, alert_ids: list[int]) -> None:  # noqa: ANN001
    """Announce alerts (firing or resolved) to every enabled webhook of their project; record each delivery."""
    from . import webhooks

    allow = list(app.state.settings.webhook_allow_hosts)

    def load() -> list[tuple[Any, list[Any], dict[str, str]]]:
        out = []
        with app.state.db.session() as s:
            for aid in alert_ids:
                a = s.get(Alert, aid)
                mon = s.get(Monitor, a.monitor_id)
                d = s.get(Deployment, mon.deployment_id)
                slug = s.get(Project, a.project_id).slug
                hooks = [webhooks.Hook(id=h.id, kind=h.kind, url=h.url, secret=h.secret, jira_project=h.jira_project,
                                       jira_issue_type=h.jira_issue_type)
                         for h in s.execute(select(Webhook).where(Webhook.project_id == a.project_id,
                                                                  Webhook.enabled)).scalars()]
                out.append((_alert_to_hook(a, slug, d.name), hooks, json.loads(a.external or "{}")))
        return out

    for payload, hooks, external in await run_in_threadpool(load):
        results = await asyncio.gather(*(webhooks.deliver(h, payload, allow, external_id=external.get(str(h.id)))
                                         for h in hooks))

        def store(payload=payload, hooks=hooks, results=results) -> None:  # noqa: ANN001
            with app.state.db.session() as s:
                a = s.get(Alert, payload.id)
                ext = json.loads(a.external or "{}")
                for h, r in zip(hooks, results):
                    s.add(WebhookDelivery(webhook_id=h.id, alert_id=payload.id, state=payload.state, ok=r.ok,
                                          status_code=r.status_code, attempts=r.attempts, error=r.error))
                    if r.external_id:
                        ext[str(h.id)] = r.external_id
                a.external = json.dumps(ext)
                s.commit()

        await run_in_threadpool(store)


async def evaluate(app, request, monitor_id: int) -> Outcome:  # noqa: ANN001
    """One evaluation of one monitor (see the module's docstring)."""
    async with app.state.monitoring.lock(monitor_id):
        return await _evaluate(app, request, monitor_id)


async def _evaluate(app, request, monitor_id: int) -> Outcome:  # noqa: ANN001
    out = Outcome()

    def load() -> tuple[Monitor, Deployment, str]:
        with app.state.db.session() as s:
            mon = s.get(Monitor, monitor_id)
            d = s.get(Deployment, mon.deployment_id)
            slug = s.get(Project, mon.project_id).slug
            s.expunge(mon)
            s.expunge(d)
            return mon, d, slug

    mon, d, slug = await run_in_threadpool(load)
    gw = app.state.gateway
    unlogged = await gw.predlog.drain(slug, d.name) if gw.predlog is not None else 0  # the log's barrier
    profile_row = await ensure_profile(app, slug, d.name, d.version_id, mon.window_size)
    message = profile_row.message if profile_row.status != "ready" else None
    if unlogged:
        message = "; ".join(filter(None, [message, f"{unlogged} answered prediction(s) are not in the log yet (its "
                                          "writes are failing: see the deployment's events); the next evaluation "
                                          "reads them"]))
    frame = await run_in_threadpool(log_frame, app, slug, d.name)

    def prepare() -> tuple[dict[int, Any], dict[int, dict]]:
        profiles, baselines = {}, {}
        with app.state.db.session() as s:
            versions = {v.version: v.id for v in s.execute(select(ModelVersion).where(
                ModelVersion.model_id == d.model_id)).scalars()}
            seen = {versions.get(int(n)) for n in (frame["__version"].unique() if len(frame) else [])}
            for vid in ({d.version_id} | seen) - {None}:
                row = s.execute(select(ReferenceProfile).where(ReferenceProfile.version_id == vid)).scalar_one_or_none()
                if row is not None and row.status == "ready":
                    profiles[vid] = load_profile(app, vid)
                baselines[vid] = baseline_of(s, vid)
        return profiles, baselines

    profiles, baselines = await run_in_threadpool(prepare)
    tolerance = json.loads(mon.tolerance or "{}")
    out.windows = await run_in_threadpool(_windows_for, app, monitor_id, frame, profiles, baselines, tolerance,
                                          mon.window_size, mon.window_seconds)
    fired, resolved = await run_in_threadpool(_update_alerts, app, monitor_id)
    if fired or resolved:
        await deliver(app, fired + resolved)

    def names_of(ids: list[int]) -> list[str]:
        with app.state.db.session() as s:
            return [s.get(Alert, i).key for i in ids]

    out.fired, out.resolved = await run_in_threadpool(names_of, fired), await run_in_threadpool(names_of, resolved)

    def finish() -> None:
        with app.state.db.session() as s:
            m = s.get(Monitor, monitor_id)
            m.evaluated_at = utcnow()
            notes = [message] if message else []
            if skipped := frame.attrs.get("skipped_requests", 0):
                notes.append(f"{skipped} logged request(s) could not be read as rows")
            if unmatched := frame.attrs.get("unmatched_labels", 0):
                notes.append(f"{unmatched} label(s) name prediction ids this deployment never returned: they are "
                             "kept in its feedback table and left out of performance")
            m.message = "; ".join(notes) or None
            s.commit()

    await run_in_threadpool(finish)
    from . import retraining

    out.retraining = await retraining.step(app, request, monitor_id, fired)
    out.message = message
    return out


async def evaluate_all(app, request) -> list[tuple[int, Outcome | str]]:  # noqa: ANN001
    def ids() -> list[int]:
        with app.state.db.session() as s:
            return list(s.execute(select(Monitor.id).where(Monitor.enabled)).scalars())

    results: list[tuple[int, Outcome | str]] = []
    for mid in await run_in_threadpool(ids):
        try:
            results.append((mid, await evaluate(app, request, mid)))
        except Exception as e:  # noqa: BLE001 - one broken monitor must not stop the others
            log.exception("monitor %s", mid)
            results.append((mid, f"failed: {e}"))
    return results


def retraining_rows(db, monitor_id: int) -> list[Retraining]:  # noqa: ANN001
    return list(db.execute(select(Retraining).where(Retraining.monitor_id == monitor_id)
                           .order_by(Retraining.id.desc())).scalars())


