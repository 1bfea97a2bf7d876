"""Score verified model folders on one evaluation table, in a process of its own (the backend never unpickles).

    python -m jupyter_mlp_backend.registry.evaluate --data eval.parquet --target y \
        --model challenger=/tmp/mlp-model-a --model champion=/tmp/mlp-model-b

Prints {"<label>": {"accuracy": ..., "f1": ..., "roc_auc": ..., "rmse": ...}, "rows": n, "unavailable":
{"<label>": {"roc_auc": "why"}}} as JSON. The folders were verified against their signed manifests by the backend
just before; this process only loads what passed.

AUC and calibration (ECE) are scored from probabilities, never from class labels: for scikit-learn, XGBoost and
CatBoost models the raw model's ``predict_proba`` (what ``mlflow.evaluate`` uses), for a model logged with
``pyfunc_predict_fn="predict_proba"`` its predictions. A model that returns only labels gets no AUC or ECE, and the
result says so — the same scoring the serving workers log and the monitors compare with this baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

CLASSIFICATION = ("accuracy", "f1", "precision", "recall", "roc_auc")
REGRESSION = ("rmse", "mae", "r2")
METRICS = CLASSIFICATION + REGRESSION


LABELS_ONLY = ("the model returns class labels only (no predict_proba): AUC and calibration need the "
               "probability of each class")
PROBA_LOADERS = ("mlflow.sklearn", "mlflow.xgboost", "mlflow.catboost")  # mlflow.evaluate's raw-model flavors


def ece(y_true, p, bins: int = 10) -> float | None:  # noqa: ANN001
    """Expected calibration error of binary outcomes against predicted probabilities (10 equal-width bins)."""
    import numpy as np

    p = np.asarray(p, dtype=float)
    y = np.asarray(y_true, dtype=float)
    if p.size == 0 or np.nanmin(p) < 0 or np.nanmax(p) > 1 or not set(np.unique(y)) <= {0.0, 1.0}:
        return None
    if np.all((p == 0) | (p == 1)):
        return None  # hard labels: there is no confidence to calibrate
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() / p.size * abs(y[m].mean() - p[m].mean())
    return float(total)


def positive_scores(y_true, proba, classes) -> Any:  # noqa: ANN001
    """The probability of the positive class (the greater of two labels, as roc_auc_score takes it) from a
    predict_proba matrix; None unless the target is binary and the classes line up."""
    import numpy as np

    proba = np.asarray(proba, dtype=float)
    labels = np.unique(np.asarray(y_true))
    if proba.ndim != 2 or len(labels) != 2 or proba.shape[1] < 2:
        return None
    classes = list(classes) if classes is not None else list(range(proba.shape[1]))
    pos = labels[1]
    try:
        col = [str(c) for c in classes].index(str(pos.item() if hasattr(pos, "item") else pos))
    except ValueError:
        return None
    return proba[:, col]


def score(y_true, y_pred, scores=None, notes: dict[str, str] | None = None) -> dict[str, float]:  # noqa: ANN001
    """Metrics of predictions against the truth. `scores`: the positive class's probability per row, when the
    model gives one (AUC and ECE come from it); float predictions in [0, 1] count as such a probability. With
    class labels only, AUC and ECE are left out and `notes` says why."""
    import numpy as np
    from sklearn import metrics

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred).reshape(len(y_true), -1)[:, -1] if np.asarray(y_pred).ndim > 1 else np.asarray(y_pred)
    out: dict[str, float] = {}
    discrete = y_true.dtype.kind in "biuO" or len(np.unique(y_true)) <= 20
    if discrete:
        labels = y_pred if np.asarray(y_pred).dtype.kind in "biuO" else (y_pred >= 0.5).astype(y_true.dtype)
        out["accuracy"] = float(metrics.accuracy_score(y_true, labels))
        binary = len(np.unique(y_true)) == 2
        avg = "binary" if binary else "macro"
        out["f1"] = float(metrics.f1_score(y_true, labels, average=avg, zero_division=0))
        out["precision"] = float(metrics.precision_score(y_true, labels, average=avg, zero_division=0))
        out["recall"] = float(metrics.recall_score(y_true, labels, average=avg, zero_division=0))
        if binary:
            if scores is None and y_pred.dtype.kind == "f" and np.all((y_pred >= 0) & (y_pred <= 1)):
                scores = y_pred  # the model's own output is the probability (pyfunc_predict_fn="predict_proba")
            if scores is None:
                if notes is not None:
                    notes["roc_auc"] = notes["ece"] = LABELS_ONLY
            else:
                scores = np.asarray(scores, dtype=float)
                try:
                    out["roc_auc"] = float(metrics.roc_auc_score(y_true, scores))
                except ValueError as e:
                    if notes is not None:
                        notes["roc_auc"] = str(e)
                if (e := ece((y_true == np.unique(y_true)[1]).astype(float), scores)) is not None:
                    out["ece"] = e
    if y_true.dtype.kind in "biuf" and y_pred.dtype.kind in "biuf":
        err = y_pred.astype(float) - y_true.astype(float)
        out["rmse"] = float(math.sqrt(float(np.mean(err ** 2))))
        out["mae"] = float(np.mean(np.abs(err)))
        out["r2"] = float(metrics.r2_score(y_true.astype(float), y_pred.astype(float)))
    return out


def predict_with_proba(model, x) -> tuple[Any, Any, Any]:  # noqa: ANN001
    """(predictions, predict_proba matrix or None, its classes) of a loaded pyfunc model: the probabilities as
    mlflow.evaluate gets them, from the raw model of the flavors it knows."""
    preds = model.predict(x)
    loader = (model.metadata.flavors.get("python_function") or {}).get("loader_module")
    if loader not in PROBA_LOADERS:
        return preds, None, None
    try:
        raw = model.get_raw_model()
    except (NotImplementedError, AttributeError):
        return preds, None, None
    fn = getattr(raw, "predict_proba", None)  # scikit-learn's available_if: absent when the model cannot
    if fn is None:
        return preds, None, None
    try:
        proba = fn(x)
    except Exception:  # noqa: BLE001 - e.g. a model fitted without probability estimates
        return preds, None, None
    return preds, proba, getattr(raw, "classes_", None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--model", action="append", default=[], help="label=folder")
    args = p.parse_args(argv)
    import mlflow.pyfunc
    import pandas as pd

    frame = pd.read_parquet(args.data)
    if args.target not in frame.columns:
        print(json.dumps({"error": f"the evaluation data has no column '{args.target}'"}))
        return 2
    y = frame[args.target]
    x = frame.drop(columns=[args.target])
    result: dict[str, object] = {"rows": len(frame)}
    unavailable: dict[str, dict[str, str]] = {}
    for spec in args.model:
        label, _, folder = spec.partition("=")
        model = mlflow.pyfunc.load_model(folder)
        preds, proba, classes = predict_with_proba(model, x)
        scores = positive_scores(y.to_numpy(), proba, classes) if proba is not None else None
        notes: dict[str, str] = {}
        result[label] = score(y.to_numpy(), preds, scores, notes)
        if notes:
            unavailable[label] = notes
    if unavailable:
        result["unavailable"] = unavailable
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
