"""Evidence for a performance verdict: a window's metric on 100 or 200 labelled rows is noisy (an unchanged model's
RMSE or F1 moves by more than the default tolerance from window to window), so a metric is degraded only when
its whole 95% bootstrap interval lies beyond the tolerance — and not at all below the metric's minimum number of
labelled rows, where even the interval is unreliable (ECE's 10 bins need a few hundred rows).

The bootstrap resamples the window's rows `RESAMPLES` times with a fixed seed (the same window gives the same
interval on every evaluation) and computes each metric as `registry.evaluate.score` does, vectorised over the
resamples: F1 (binary: the greater label is positive; else the macro mean over the labels seen), RMSE, ROC AUC
(ties count half) and ECE (10 equal-width bins)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

LEVEL = 0.95  # the interval's confidence
RESAMPLES = 400
SEED = 0
# Below these many labelled rows (rows with probabilities, for AUC and ECE) a metric gives no verdict: its status is
# "not enough labelled rows". ECE's 10 bins get a dozen rows each at 100 rows: its small-sample bias alone exceeds
# the 0.05 tolerance of a well-calibrated model.
MIN_ROWS = {"roc_auc": 30, "f1": 30, "rmse": 30, "ece": 500}
NOT_ENOUGH = "not enough labelled rows"


@lru_cache(maxsize=2)  # windows of one monitor have one size: the same draws serve each (read-only)
def _weights(n: int) -> Any:
    """How often each row is drawn in each resample: a (RESAMPLES, n) matrix of counts."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    idx = rng.integers(0, n, size=(RESAMPLES, n)) + n * np.arange(RESAMPLES)[:, None]
    w = np.bincount(idx.ravel(), minlength=RESAMPLES * n).reshape(RESAMPLES, n).astype(float)
    w.flags.writeable = False
    return w


def _f1(w: Any, y: Any, pred: Any) -> Any:
    import numpy as np

    labels = np.unique(np.concatenate([np.unique(y), np.unique(pred)]))
    binary = len(np.unique(y)) == 2
    classes = [np.unique(y)[1]] if binary else list(labels)
    per = []
    for c in classes:
        tp = w @ ((y == c) & (pred == c)).astype(float)
        fp = w @ ((y != c) & (pred == c)).astype(float)
        fn = w @ ((y == c) & (pred != c)).astype(float)
        den = 2 * tp + fp + fn
        per.append(np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0))
    return np.mean(per, axis=0)


def _auc(w: Any, y: Any, s: Any) -> Any:
    import numpy as np

    pos = (y == np.unique(y)[1]).astype(float)
    order = np.argsort(s, kind="stable")
    s, pos, w = s[order], pos[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    wp = np.add.reduceat(w * pos, starts, axis=1)
    wn = np.add.reduceat(w, starts, axis=1) - wp
    below = np.cumsum(wn, axis=1) - wn
    den = wp.sum(axis=1) * wn.sum(axis=1)
    return np.divide((wp * (below + 0.5 * wn)).sum(axis=1), den, out=np.full(len(w), np.nan), where=den > 0)


def _ece(w: Any, y: Any, p: Any, bins: int = 10) -> Any:
    import numpy as np

    onehot = np.eye(bins)[np.minimum((p * bins).astype(int), bins - 1)]  # (n, bins)
    gap = w @ (onehot * (y - p)[:, None])  # per resample and bin: sum of (outcome - probability)
    return np.abs(gap).sum(axis=1) / w.sum(axis=1)


def intervals(y: Any, pred: Any, proba: Any, metrics: list[str]) -> dict[str, tuple[float, float]]:
    """The 95% percentile bootstrap interval of each of `metrics` computable from these rows. `proba`: the
    positive class's probability per row (None without one)."""
    import numpy as np

    y, pred = np.asarray(y), np.asarray(pred)
    out: dict[str, tuple[float, float]] = {}
    if len(y) < 2:
        return out
    w = _weights(len(y))
    draws: dict[str, Any] = {}
    if "rmse" in metrics and y.dtype.kind in "biuf" and pred.dtype.kind in "biuf":
        err2 = (pred.astype(float) - y.astype(float)) ** 2
        draws["rmse"] = np.sqrt(w @ err2 / w.sum(axis=1))
    if "f1" in metrics:
        labels = pred if pred.dtype.kind in "biuO" else (pred >= 0.5).astype(y.dtype)
        draws["f1"] = _f1(w, y, labels)
    if proba is not None and len(np.unique(y)) == 2:
        s = np.asarray(proba, dtype=float)
        if "roc_auc" in metrics:
            draws["roc_auc"] = _auc(w, y, s)
        if "ece" in metrics:
            draws["ece"] = _ece(w, (y == np.unique(y)[1]).astype(float), s)
    tail = (1 - LEVEL) / 2 * 100
    for k, d in draws.items():
        d = d[np.isfinite(d)]
        if len(d):
            lo, hi = np.percentile(d, [tail, 100 - tail])
            out[k] = (float(lo), float(hi))
    return out


def window_evidence(y: Any, pred: Any, proba: Any, mask: Any) -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """The intervals of a window's metrics and the rows each rests on, from the rows `score` scored: `proba` the
    probabilities (None: none answered), `mask` the rows that carried one where only some did."""
    import numpy as np

    y, pred = np.asarray(y), np.asarray(pred)
    got = intervals(y, pred, None, ["f1", "rmse"])
    rows = {"f1": len(y), "rmse": len(y), "roc_auc": 0, "ece": 0}
    if proba is None and mask is None and pred.dtype.kind == "f" and len(pred) and np.all((pred >= 0) & (pred <= 1)):
        proba = pred  # the model's own output is the probability, as `score` takes it
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        if mask is not None:
            y, pred, proba = y[mask], pred[mask], proba[mask]
        got.update(intervals(y, pred, proba, ["roc_auc", "ece"]))
        rows["roc_auc"] = rows["ece"] = len(y)
    return got, rows
