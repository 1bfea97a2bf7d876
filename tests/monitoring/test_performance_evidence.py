"""A performance verdict needs evidence: on 100 or 200 labelled rows an unchanged model's RMSE, F1, AUC or ECE
moves by more than the default tolerance from window to window (its sampling noise), so the point estimate alone
fired alerts for windows labelled with the true outcomes. A metric is degraded only when its whole 95% bootstrap
interval lies beyond the tolerance, on at least the metric's minimum of labelled rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_mlp_backend.monitoring.service import performance
from jupyter_mlp_backend.registry.evaluate import score

SEEDS = range(12)


def _classifier(n: int, seed: int):  # noqa: ANN202
    """A calibrated logistic model's answers on rows without drift: labels, probabilities, true outcomes."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-2 * rng.normal(size=n)))
    y = (rng.random(n) < p).astype(int)
    return (p >= 0.5).astype(int), p, y


def _regressor(n: int, seed: int):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, x + rng.normal(size=n)  # predictions, true outcomes: RMSE 1 in the long run


def _window(pred, y, proba=None) -> pd.DataFrame:  # noqa: ANN001
    cols = {"__pred": list(pred), "__label": list(y)}
    if proba is not None:
        cols["__proba"] = list(proba)
    return pd.DataFrame(cols)


CLF_BASE = {k: v for k, v in score(*(lambda a: (a[2], a[0], a[1]))(_classifier(50_000, 99))).items()
            if k in ("roc_auc", "f1", "ece")}
REG_BASE = {"rmse": score(*reversed(_regressor(50_000, 99)))["rmse"]}


def _point_alarms(got: dict) -> list[str]:
    """What the point estimate alone (the old verdict) would have said degraded."""
    out = []
    for c in got["checks"]:
        better_high = c["metric"] in ("roc_auc", "f1")
        loss = (c["baseline"] - c["value"]) if better_high else (c["value"] - c["baseline"])
        if loss > c["tolerance"]:
            out.append(c["metric"])
    return out


@pytest.mark.parametrize("n", [100, 200])
def test_an_unchanged_model_with_true_labels_does_not_alert(n):
    noisy = []  # windows the point estimate alone would have alarmed on: the case this guards
    for seed in SEEDS:
        labels, p, y = _classifier(n, seed)
        got = performance(_window(labels, y, p), CLF_BASE, {})
        assert got["status"] == "ok" and not any(c["degraded"] for c in got["checks"]), (seed, got["checks"])
        noisy += _point_alarms(got)
        pred, truth = _regressor(n, seed)
        got = performance(_window(pred, truth), REG_BASE, {})
        assert got["status"] == "ok" and not any(c["degraded"] for c in got["checks"]), (seed, got["checks"])
        noisy += _point_alarms(got)
    assert noisy, "the scenario should be noisy enough that point estimates cross the tolerance"


def test_calibration_gets_a_verdict_from_500_rows_and_an_unchanged_model_passes_it():
    """ECE's bootstrap interval is biased upwards on few rows (at 300 rows 5 of 30 unchanged windows crossed the
    tolerance): it needs 500 labelled rows with probabilities for a verdict."""
    for seed in SEEDS:
        labels, p, y = _classifier(500, seed)
        (ece,) = [c for c in performance(_window(labels, y, p), CLF_BASE, {})["checks"] if c["metric"] == "ece"]
        assert ece["status"] == "ok" and not ece["degraded"], (seed, ece)
    labels, p, y = _classifier(500, 0)
    overconfident = np.where(p > 0.5, 0.99, 0.01)  # same ranking, confidence it does not have
    (ece,) = [c for c in performance(_window(labels, y, overconfident), CLF_BASE, {})["checks"] if c["metric"] == "ece"]
    assert ece["status"] == "degraded" and ece["interval"][0] > CLF_BASE["ece"] + 0.05, ece


def test_each_check_records_its_interval_and_too_few_rows_is_its_own_status():
    labels, p, y = _classifier(200, 0)
    got = performance(_window(labels, y, p), CLF_BASE, {})
    checks = {c["metric"]: c for c in got["checks"]}
    for m in ("roc_auc", "f1"):
        lo, hi = checks[m]["interval"]
        assert lo <= checks[m]["value"] <= hi and hi - lo > 0.02 and checks[m]["status"] == "ok"
    # ECE's 10 bins need more rows than 200: no verdict, said in words, not "ok" and not "degraded"
    assert checks["ece"]["status"] == "not enough labelled rows" and not checks["ece"]["degraded"]
    assert checks["ece"]["rows"] == 200 and checks["ece"]["min_rows"] > 200
    # the same window gives the same interval on every evaluation (fixed seed)
    again = {c["metric"]: c for c in performance(_window(labels, y, p), CLF_BASE, {})["checks"]}
    assert again["f1"]["interval"] == checks["f1"]["interval"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_truly_degraded_window_of_200_rows_alerts(seed):
    labels, p, y = _classifier(200, seed)
    flipped = performance(_window(labels, 1 - y, p), CLF_BASE, {})  # the world turned: labels flipped
    checks = {c["metric"]: c for c in flipped["checks"]}
    assert flipped["status"] == "degraded" and checks["roc_auc"]["degraded"] and checks["f1"]["degraded"]
    assert checks["roc_auc"]["interval"][1] < CLF_BASE["roc_auc"] - 0.05
    pred, truth = _regressor(200, seed)
    shifted = performance(_window(pred + 1.0, truth), REG_BASE, {})  # predictions off by one standard deviation
    assert shifted["status"] == "degraded" and shifted["checks"][0]["degraded"], shifted["checks"]


def test_a_window_of_only_metrics_without_enough_rows_says_so():
    labels, p, y = _classifier(200, 4)
    got = performance(_window(labels, y, p), {"ece": CLF_BASE["ece"]}, {})
    assert got["status"] == "not enough labelled rows" and got["checks"][0]["status"] == "not enough labelled rows"
