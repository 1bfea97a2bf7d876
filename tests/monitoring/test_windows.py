"""How the prediction log is cut into windows: by count (full windows only) or by time (ended slices only)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

from jupyter_mlp_backend.monitoring.service import cut, window_features


def _log(times: list[datetime]) -> pd.DataFrame:
    return pd.DataFrame({"x": range(len(times)), "__ts": pd.to_datetime(times, utc=True),
                         "__keys": ["x"] * len(times)})


def test_count_windows_are_full_and_the_rest_waits():
    t0 = datetime(2026, 11, 30, tzinfo=timezone.utc)
    part = _log([t0 + timedelta(seconds=i) for i in range(250)])
    windows = cut(part, 100, None)
    assert [(seq, len(rows), rows.x.iloc[0]) for seq, rows in windows] == [(0, 100, 0), (1, 100, 100)]


def test_time_windows_are_clock_slices_that_have_ended():
    t0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
    times = [t0 + timedelta(seconds=s) for s in (5, 30, 59, 61, 119, 130)]
    windows = cut(_log(times), 1000, 60, now=t0 + timedelta(seconds=125))
    # 10:00 and 10:01 have ended; 10:02 (the row at 130 s) is still open and waits.
    assert [len(rows) for _, rows in windows] == [3, 2]
    assert windows[1][0] - windows[0][0] == 1 and windows[0][0] == int(t0.timestamp()) // 60
    assert cut(_log([]), 1000, 60, now=t0) == []


def test_an_empty_log_or_one_without_a_zone_is_cut_too():
    """The prediction log read for a window's report can be empty (its rows expired, every request unreadable):
    pandas then types the timestamp column float64, and cutting it by time raised a TypeError, a 500 from the
    report. Timestamps without a zone are UTC, as the log writes them."""
    t0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
    empty = pd.DataFrame({"x": [], "__ts": [], "__keys": []})
    assert cut(empty, 1000, 60, now=t0) == []
    naive = pd.DataFrame({"x": [1, 2], "__ts": pd.to_datetime(["2026-11-30 09:58:10", "2026-11-30 09:59:50"]),
                          "__keys": ["x", "x"]})
    assert [len(rows) for _, rows in cut(naive, 1000, 60, now=t0)] == [1, 1]


def test_a_column_no_request_sent_is_absent_not_null():
    rows = pd.DataFrame({"a": [1.0, 2.0], "b": [None, None], "c": [None, None], "__keys": ["a\x1fb", "a\x1fb"],
                         "__ts": pd.to_datetime(["2026-11-30", "2026-11-30"], utc=True)})
    assert list(window_features(rows).columns) == ["a", "b"]  # b was sent as null; c was never sent


def _labelled(pred, label) -> pd.DataFrame:  # noqa: ANN001
    return pd.DataFrame({"__pred": list(pred), "__label": list(label)})


def test_performance_with_probabilities_has_calibration_and_compares_with_the_baseline():
    import numpy as np

    from jupyter_mlp_backend.monitoring.service import performance

    rng = np.random.default_rng(0)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(int)  # calibrated: the outcome happens with the predicted probability
    good = performance(_labelled(p, y), {"roc_auc": 0.84, "ece": 0.02}, {})
    assert good["status"] == "ok" and good["metrics"]["ece"] < 0.05 and 0.8 < good["metrics"]["roc_auc"] < 0.9
    overconfident = np.where(p > 0.5, 0.99, 0.01)  # same ranking of cases, confidence it does not have
    bad = performance(_labelled(overconfident, y), {"roc_auc": 0.84, "ece": 0.02}, {"roc_auc": 0.5})
    checks = {c["metric"]: c for c in bad["checks"]}
    assert bad["status"] == "degraded" and checks["ece"]["degraded"] and not checks["roc_auc"]["degraded"]
    assert checks["ece"]["value"] > 0.2


def test_performance_rmse_tolerance_is_relative_and_few_labels_are_said():
    from jupyter_mlp_backend.monitoring.service import performance

    y = [float(i % 7) for i in range(100)]
    off = [v + 1.0 for v in y]  # rmse 1.0
    assert performance(_labelled(off, y), {"rmse": 0.95}, {})["status"] == "ok"  # within 10% of 0.95
    assert performance(_labelled(off, y), {"rmse": 0.8}, {})["status"] == "degraded"
    few = performance(_labelled(off[:10], y[:10]), {"rmse": 0.8}, {})
    assert few["status"] == "insufficient data" and "10 labelled" in few["message"]


def _classifier_window(n: int = 1000, seed: int = 3):  # noqa: ANN202
    """A good logistic model's answers on rows without drift: its labels, its probabilities and the truth."""
    import numpy as np

    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    p = 1 / (1 + np.exp(-3 * z))
    y = (rng.random(n) < p).astype(int)
    return (p >= 0.5).astype(int), p, y


def test_auc_and_calibration_come_from_the_probabilities_the_deployment_answered():
    from sklearn.metrics import roc_auc_score

    from jupyter_mlp_backend.monitoring.service import performance

    labels, p, y = _classifier_window()
    baseline = {"roc_auc": float(roc_auc_score(y, p)), "f1": 0.8}  # what the gates scored from predict_proba
    window = pd.DataFrame({"__pred": labels.tolist(), "__proba": p.tolist(), "__label": y.tolist()})
    got = performance(window, baseline, {})
    assert got["metrics"]["roc_auc"] == baseline["roc_auc"]  # like with like: the same number, not AUC of labels
    assert got["metrics"]["ece"] < 0.05 and got["unavailable"] == []
    assert got["status"] == "ok" and not any(c["degraded"] for c in got["checks"]), got


def test_with_class_labels_only_auc_and_calibration_are_said_unavailable_not_alarmed():
    from sklearn.metrics import roc_auc_score

    from jupyter_mlp_backend.monitoring.service import performance

    labels, p, y = _classifier_window()
    baseline = {"roc_auc": float(roc_auc_score(y, p)), "ece": 0.02}
    window = pd.DataFrame({"__pred": labels.tolist(), "__proba": [None] * len(y), "__label": y.tolist()})
    got = performance(window, baseline, {})
    assert got["status"] == "ok" and [c["metric"] for c in got["checks"]] == [], got  # nothing compared, nothing fires
    missing = {u["metric"]: u["reason"] for u in got["unavailable"]}
    assert set(missing) == {"roc_auc", "ece"} and "class labels only" in missing["roc_auc"], got
    assert "f1" in got["metrics"]
