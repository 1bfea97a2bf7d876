"""The prediction log as windows: the deployment's logged predictions (with the labels posted since) as rows, cut
into windows by count or by time; each window's drift (against its version's reference) and performance (against
the validated baseline) computed and stored."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from ..orm import Deployment, GateDecision, ModelVersion, Monitor, MonitorWindow
from .evidence import MIN_ROWS, NOT_ENOUGH, window_evidence

MIN_LABELS = 30  # fewer labels in a window: its performance is "insufficient data"
PERF_WINDOWS = 20  # the newest windows whose performance is recomputed as labels arrive
HIGHER_IS_BETTER = {"roc_auc": True, "f1": True, "rmse": False, "ece": False}
DEFAULT_TOLERANCE = {"roc_auc": 0.05, "f1": 0.05, "ece": 0.05, "rmse": 0.1}  # rmse: a fraction of the baseline

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


META = ("__pid", "__ts", "__version", "__pred", "__proba", "__label", "__keys", "__n", "__k")


class Rows:
    """Logged rows as plain Python values, column by column (features in order of first appearance, then META):
    what a window is built from. Frames are built from a window's own values (`frame`, `window_features`), so a
    window's types do not depend on the rest of the log and reading the log whole or a piece at a time gives the
    same window. `__n`/`__k`: the request's row count and the row's place in it (a label list is split by them)."""

    def __init__(self, cols: dict[str, list] | None = None, meta: dict[str, list] | None = None):
        self.cols = cols if cols is not None else {}
        self.meta = meta if meta is not None else {k: [] for k in META}

    def __len__(self) -> int:
        return len(self.meta["__pid"])

    def extend(self, other: "Rows") -> None:
        had, n = len(self), len(other)
        for c, values in self.cols.items():
            if c not in other.cols:
                values.extend([None] * n)
        for c, values in other.cols.items():
            if c not in self.cols:
                self.cols[c] = [None] * had
            self.cols[c].extend(values)
        for k in META:
            self.meta[k].extend(other.meta[k])

    def take(self, index: list[int] | slice, features: bool = True) -> "Rows":
        pick = (lambda v: v[index]) if isinstance(index, slice) else (lambda v: [v[i] for i in index])
        return Rows({c: pick(v) for c, v in self.cols.items()} if features else {},
                    {k: pick(v) for k, v in self.meta.items()})

    def frame(self):  # noqa: ANN201
        """Feature and answer columns as objects (the values as logged; `window_features` and `window_verdict`
        type them per window), `__ts` as timestamps."""
        import pandas as pd

        data = {c: pd.Series(v, dtype=object) for c, v in self.cols.items()}
        data.update({k: pd.Series(v, dtype=object) for k, v in self.meta.items()})
        data["__ts"] = pd.to_datetime(pd.Series(self.meta["__ts"], dtype=object), utc=True)
        data["__version"] = pd.Series(self.meta["__version"], dtype="int64")
        return pd.DataFrame(data)


def row_labels(label: Any, n: int, k: int) -> Any:
    """The label of row `k` of a request that scored `n` rows: a list of n labels is split, one label goes to a
    one-row request; anything else labels nothing."""
    if isinstance(label, list) and len(label) == n:
        return label[k]
    return label if n == 1 else None


def parse_rows(preds: list[dict]) -> tuple[Rows, int]:
    """Logged requests (in the order given) as rows, without labels; and how many could not be read."""
    from ..serving import service as serving

    schema = serving.RequestSchema(None)
    out = Rows()
    cols, meta = out.cols, out.meta
    skipped = 0
    for r in preds:
        body = r["request"].encode()
        try:
            parsed = serving.parse_logged_request(body, r["protocol"], schema)
        except serving.BadRequest:
            skipped += 1
            continue
        n = parsed.rows
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
        meta["__label"].extend([None] * n)
        meta["__keys"].extend(["\x1f".join(parsed.columns)] * n)
        meta["__n"].extend([n] * n)
        meta["__k"].extend(range(n))
    return out, skipped


def latest_labels(fb: list[dict], into: dict[str, tuple] | None = None) -> dict[str, tuple]:
    """Feedback rows -> {prediction id: (ts, label)}, the latest label of each id winning (ties: the later row)."""
    labels = into if into is not None else {}
    for r in sorted(fb, key=lambda r: r["ts"]):
        try:
            label = json.loads(r["label"])
        except ValueError:
            continue
        old = labels.get(r["prediction_id"])
        if old is None or old[0] <= r["ts"]:
            labels[r["prediction_id"]] = (r["ts"], label)
    return labels


def label_rows(rows: Rows, labels: dict[str, tuple], only: set[str] | None = None) -> None:
    """Set the rows' labels from {prediction id: (ts, label)} (only the ids in `only`, when given)."""
    meta = rows.meta
    for i, pid in enumerate(meta["__pid"]):
        if (only is None or pid in only) and pid in labels:
            meta["__label"][i] = row_labels(labels[pid][1], meta["__n"][i], meta["__k"][i])


def log_frame(app, slug: str, deployment: str):  # noqa: ANN001, ANN201
    """The deployment's whole prediction log, one row per scored row: features, id, time, version, prediction,
    label (see `Rows.frame`). Monitor evaluation reads the log incrementally (`cursor.py`); this reads it all (a
    window's report, and the reference the incremental path is tested against)."""
    from ..serving import service as serving

    catalog = app.state.datasets
    try:
        preds = catalog.scan(slug, serving.prediction_table("predictions", deployment)).to_pylist()
    except LookupError:
        preds = []
    try:
        fb = catalog.scan(slug, serving.prediction_table("feedback", deployment)).to_pylist()
    except LookupError:
        fb = []
    labels = latest_labels(fb)
    rows, skipped = parse_rows(sorted(preds, key=lambda r: r["ts"]))
    label_rows(rows, labels)
    frame = rows.frame()
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
            proof = window_evidence(y_arr, p_arr, rows["__proba"].to_numpy(dtype=float), None)
        else:
            got = score(y_arr, p_arr, None, notes)
            proof = window_evidence(y_arr, p_arr, None, None)
            if has is not None and int(has.sum()) >= MIN_LABELS:  # only some requests carried probabilities
                mask = has.to_numpy()
                part: dict[str, str] = {}
                sub = score(y_arr[mask], p_arr[mask], rows["__proba"][has].to_numpy(dtype=float), part)
                for k in ("roc_auc", "ece"):
                    if k in sub:
                        got[k] = sub[k]
                        notes.pop(k, None)
                out["probability_rows"] = int(mask.sum())
                proof = window_evidence(y_arr, p_arr, rows["__proba"].to_numpy(dtype=float), mask)
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
        # Evidence (see evidence.py): the metric's whole 95% interval must lie beyond the tolerance, on at least
        # the metric's minimum of labelled rows; the point estimate alone is the window's sampling noise too.
        lo, hi = proof[0].get(metric, (value, value))
        n_rows = proof[1].get(metric, int(len(rows)))
        loss = (base - hi) if HIGHER_IS_BETTER[metric] else (lo - base)
        verdict = NOT_ENOUGH if n_rows < MIN_ROWS[metric] else ("degraded" if loss > tol else "ok")
        bad = verdict == "degraded"
        degraded |= bad
        out["checks"].append({"metric": metric, "value": value, "baseline": base, "tolerance": tol,
                              "interval": [lo, hi], "rows": n_rows, "min_rows": MIN_ROWS[metric],
                              "status": verdict, "degraded": bool(bad)})
    sure = [c for c in out["checks"] if c["status"] != NOT_ENOUGH]
    out["status"] = "degraded" if degraded else ("ok" if sure or not out["checks"] else NOT_ENOUGH)
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


def cut(part, window_size: int, window_seconds: int | None, now: datetime | None = None):  # noqa: ANN001, ANN201
    """A version's predictions (time order) as complete windows [(seq, rows)]: by count, `window_size` rows each
    (seq counts windows); by time, the predictions of each `window_seconds` slice of the clock that has ended
    (seq is the slice's number since the epoch). The predictions after the last complete window wait."""
    import pandas as pd

    if not window_seconds:
        return [(i, part.iloc[i * window_size:(i + 1) * window_size]) for i in range(len(part) // window_size)]
    if part.empty:  # an empty column is typed float64 by pandas: no time arithmetic on it
        return []
    now = now or datetime.now(timezone.utc)
    ts = pd.to_datetime(part["__ts"], utc=True)  # the log writes UTC; a timestamp without a zone is UTC
    bucket = (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=window_seconds)
    current = int(now.timestamp()) // window_seconds
    return [(int(b), rows) for b, rows in part.groupby(bucket, sort=True) if int(b) < current]


class Part:
    """One served version's windows for `store_windows`: (seq, rows) in order, which of them are the newest
    (performance recomputed while labels arrive) and how many rows wait for the next window."""

    def __init__(self, number: int, windows: list[tuple[int, Any]], pending: int, recent: set[int] | None = None):
        self.number, self.windows, self.pending = number, windows, pending
        self.recent = recent if recent is not None else {seq for seq, _ in windows[-PERF_WINDOWS:]}


def full_parts(frame, window_size: int, window_seconds: int | None,  # noqa: ANN001
               now: datetime | None = None) -> list[Part]:
    """The whole log (`log_frame`) cut into each version's windows."""
    out = []
    for number, part in frame.groupby("__version", sort=False) if len(frame) else []:
        windows = cut(part, window_size, window_seconds, now)
        out.append(Part(int(number), windows, len(part) - sum(len(rows) for _, rows in windows)))
    return out


def labelled_count(rows) -> int:  # noqa: ANN001
    return int(rows["__label"].notna().sum())


def window_drift(profile, rows) -> dict[str, Any]:  # noqa: ANN001
    """A window's drift against its version's reference profile (None: the version has none)."""
    from . import drift

    if profile is None:
        return {"status": "insufficient data", "rows": len(rows), "features": [], "added_columns": [],
                "missing_columns": [], "message": "this version has no reference profile (see the monitor's message)"}
    return drift.check_window(profile, window_features(rows)).to_dict()


def window_performance(rows, baseline: dict[str, float], tolerance: dict[str, float]) -> dict[str, Any]:  # noqa: ANN001
    """A window's performance, its labels and answers typed from its own values (as `window_features`)."""
    import pandas as pd

    typed = pd.DataFrame({k: rows[k].tolist() for k in ("__label", "__pred", "__proba") if k in rows},
                         index=rows.index)
    return performance(typed, baseline, tolerance)


def store_windows(app, monitor_id: int, parts: list[Part], profiles: dict[int, Any], baselines,  # noqa: ANN001
                  tolerance) -> int:
    """Store every newly complete window; recompute the performance of the newest ones; note how many of the
    served version's rows wait for the next window. Returns how many windows were new."""
    db = app.state.db
    new = 0
    with db.session() as s:
        mon = s.get(Monitor, monitor_id)
        d = s.get(Deployment, mon.deployment_id)
        numbers = {v.version: v.id for v in s.execute(select(ModelVersion).where(
            ModelVersion.model_id == d.model_id)).scalars()}
        stored = {(w.version_id, w.seq): w for w in s.execute(select(MonitorWindow).where(
            MonitorWindow.monitor_id == monitor_id)).scalars()}
        for part in parts:
            version_id = numbers.get(part.number)
            if version_id is None:
                continue
            if version_id == d.version_id:
                mon.pending_rows = part.pending
            for seq, rows in part.windows:
                key = (version_id, seq)
                if key in stored and seq not in part.recent:
                    continue
                labelled = labelled_count(rows)
                w = stored.get(key)
                if w is not None and w.labelled == labelled and w.performance is not None:
                    continue
                if w is None and rows.attrs.get("answers_only"):
                    continue  # kept for its labels only; its drift was stored (or its row since removed)
                perf = window_performance(rows, baselines.get(version_id, {}).get("metrics", {}), tolerance)
                if w is None:
                    result = window_drift(profiles.get(version_id), rows)
                    w = MonitorWindow(monitor_id=monitor_id, version_id=version_id, seq=seq,
                                      start_ts=rows["__ts"].iloc[0].to_pydatetime(),
                                      end_ts=rows["__ts"].iloc[-1].to_pydatetime(), rows=len(rows),
                                      status=result["status"], drift=json.dumps(result, default=jsonable))
                    s.add(w)
                    new += 1
                w.labelled, w.performance = labelled, json.dumps(perf, default=jsonable)
        s.commit()
    return new


def window_features(rows):  # noqa: ANN001, ANN201
    """The feature columns of a window: those its requests sent (a column no request sent is missing, one sent
    as null is all-NaN — drift tells the two apart)."""
    import pandas as pd

    sent = set()
    for keys in rows["__keys"].unique():
        sent.update(k for k in keys.split("\x1f") if k)
    # typed from this window's own values (a log read whole holds them as objects): a value elsewhere in the log
    # does not change how this window is tested
    return pd.DataFrame({c: rows[c].tolist() for c in rows.columns if not str(c).startswith("__") and c in sent},
                        index=rows.index)


def jsonable(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)

