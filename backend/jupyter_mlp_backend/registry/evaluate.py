"""Score verified model folders on one evaluation table, in a process of its own (the backend never unpickles).

    python -m jupyter_mlp_backend.registry.evaluate --data eval.parquet --target y \
        --model challenger=/tmp/mlp-model-a --model champion=/tmp/mlp-model-b

Prints {"<label>": {"accuracy": ..., "f1": ..., "rmse": ...}, "rows": n} as JSON. The folders were verified
against their signed manifests by the backend just before; this process only loads what passed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

CLASSIFICATION = ("accuracy", "f1", "precision", "recall", "roc_auc")
REGRESSION = ("rmse", "mae", "r2")
METRICS = CLASSIFICATION + REGRESSION


def score(y_true, y_pred) -> dict[str, float]:  # noqa: ANN001
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
            try:
                out["roc_auc"] = float(metrics.roc_auc_score(y_true, y_pred))
            except ValueError:
                pass
    if y_true.dtype.kind in "biuf":
        err = y_pred.astype(float) - y_true.astype(float)
        out["rmse"] = float(math.sqrt(float(np.mean(err ** 2))))
        out["mae"] = float(np.mean(np.abs(err)))
        out["r2"] = float(metrics.r2_score(y_true.astype(float), y_pred.astype(float)))
    return out


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
    for spec in args.model:
        label, _, folder = spec.partition("=")
        model = mlflow.pyfunc.load_model(folder)
        result[label] = score(y.to_numpy(), model.predict(x))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
