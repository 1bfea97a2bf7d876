"""Dataset profiles: meta-features of a table that describe it without keeping any of its rows.

`profile(df, target)` gives one float per name in `FEATURES` (NaN where a feature does not apply, e.g. class balance
without a target): size, the shares of feature kinds, missingness, cardinalities of categorical columns, the
target's kind and class balance, skew and kurtosis summaries, correlation summaries, and three cheap landmarkers
(1-NN, a decision stump, Gaussian naive Bayes: 3-fold CV scores on a sample of `sample_rows` rows). Every value is
an aggregate (a count, share, moment or score): no cell of the data is kept. The recommender's corpus uses the same
names (docs/recommender.md). `to_json` / `from_json` store a profile (NaN as null).

Used when a dataset is registered (the backend stores the profile with the Iceberg snapshot) and on demand in a
notebook: `from jupyter_mlp.profiling import profile; profile(df, "churned")`.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

VERSION = 1

FEATURES: list[str] = [
    # size
    "n_rows", "n_features", "log_n_rows", "log_n_features", "dimensionality",
    # kinds of feature columns (shares of n_features; they sum to 1)
    "share_numeric", "share_categorical", "share_text", "share_datetime", "share_boolean",
    # missingness (feature columns only)
    "missing_cells", "missing_columns",
    # distinct values of categorical columns
    "cat_card_mean", "cat_card_min", "cat_card_max",
    # target
    "target_binary", "target_multiclass", "target_regression", "n_classes",
    "class_minority_share", "class_majority_share", "class_entropy",
    # moments of numeric columns (excess kurtosis)
    "skew_mean", "skew_min", "skew_max", "kurt_mean", "kurt_min", "kurt_max",
    # correlations
    "corr_abs_mean", "corr_target_abs_max",
    # landmarkers: accuracy (classification) or R^2 (regression), 3-fold CV on a sample
    "landmark_1nn", "landmark_stump", "landmark_nb",
]

TEXT_MEAN_LENGTH = 30  # a string column whose values average more characters than this (with spaces) is text
REGRESSION_MIN_DISTINCT = 20  # a numeric target with more distinct values than this, or non-integral ones


def _nan() -> float:
    return float("nan")


def _kind(col) -> str:  # noqa: ANN001 - a pandas Series
    import pandas as pd
    from pandas.api import types as t

    if t.is_bool_dtype(col):
        return "boolean"
    if t.is_datetime64_any_dtype(col) or isinstance(col.dtype, pd.PeriodDtype):
        return "datetime"
    if t.is_numeric_dtype(col):
        return "numeric"
    if isinstance(col.dtype, pd.CategoricalDtype):
        return "categorical"
    values = col.dropna()
    if len(values) and values.map(lambda v: isinstance(v, bool)).all():
        return "boolean"
    strings = values[values.map(lambda v: isinstance(v, str))]
    if len(strings):
        sample = strings.iloc[:1000]
        if sample.str.len().mean() > TEXT_MEAN_LENGTH and sample.str.contains(" ").mean() > 0.5:
            return "text"
    return "categorical"


def target_kind(y) -> str:  # noqa: ANN001 - a pandas Series
    """"binary", "multiclass" or "regression" for a target column; ValueError (in words) when it cannot be one."""
    from pandas.api import types as t

    values = y.dropna()
    if values.empty:
        raise ValueError(f"the target column {y.name!r} has no values (every row is missing)")
    distinct = values.nunique()
    if distinct < 2:
        raise ValueError(f"the target column {y.name!r} has one value in every row: there is nothing to predict")
    if t.is_bool_dtype(values) or not t.is_numeric_dtype(values):
        return "binary" if distinct == 2 else "multiclass"
    integral = bool(((values.astype(float) % 1) == 0).all())
    if distinct == 2:
        return "binary"
    if integral and distinct <= REGRESSION_MIN_DISTINCT:
        return "multiclass"
    return "regression"


def _summary(values: list[float], prefix: str, out: dict[str, float]) -> None:
    vals = [v for v in values if not math.isnan(v)]
    out[f"{prefix}_mean"] = float(sum(vals) / len(vals)) if vals else _nan()
    out[f"{prefix}_min"] = float(min(vals)) if vals else _nan()
    out[f"{prefix}_max"] = float(max(vals)) if vals else _nan()


def _design(X, kinds: dict[str, str]):  # noqa: ANN001, ANN202 - numeric matrix for the landmarkers
    import numpy as np

    cols = []
    for name, kind in kinds.items():
        col = X[name]
        if kind == "numeric":
            v = col.astype(float).to_numpy()
            if np.isnan(v).all():
                continue
            v = np.where(np.isnan(v), np.nanmedian(v), v)
        elif kind in ("categorical", "boolean"):
            codes = col.astype(object).factorize()[0]
            v = codes.astype(float)  # missing -> -1, a category of its own
        else:  # text and datetime columns do not enter the landmarkers
            continue
        cols.append(v)
    if not cols:
        return None
    M = np.column_stack(cols)
    sd = M.std(axis=0)
    return (M - M.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _landmarks(M, y, kind: str, seed: int) -> dict[str, float]:  # noqa: ANN001
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    out = {"landmark_1nn": _nan(), "landmark_stump": _nan(), "landmark_nb": _nan()}
    if M is None or len(y) < 6:
        return out
    if kind == "regression":
        cv = KFold(3, shuffle=True, random_state=seed)
        models = {"landmark_1nn": KNeighborsRegressor(1), "landmark_stump": DecisionTreeRegressor(max_depth=1)}
        scoring = "r2"
    else:
        counts = np.unique(y, return_counts=True)[1]
        cv = StratifiedKFold(3, shuffle=True, random_state=seed) if counts.min() >= 3 else \
            KFold(3, shuffle=True, random_state=seed)
        models = {"landmark_1nn": KNeighborsClassifier(1), "landmark_stump": DecisionTreeClassifier(max_depth=1),
                  "landmark_nb": GaussianNB()}
        scoring = "accuracy"
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out[name] = float(np.mean(cross_val_score(model, M, y, cv=cv, scoring=scoring, error_score="raise")))
            except ValueError:  # e.g. a training fold with one class
                out[name] = _nan()
    return out


def profile(df, target: str | None = None, *, sample_rows: int = 2000, seed: int = 0) -> dict[str, float]:
    """Meta-features of `df` (a pandas DataFrame), with `target` the column to predict (optional): a dict with one
    float per name in FEATURES, in that order, NaN where a feature does not apply. ValueError, in words, for a
    frame with no rows or no feature columns, an unknown target column, or a target with one value or none."""
    import numpy as np
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError("profile() takes a pandas DataFrame")
    if len(df) == 0:
        raise ValueError("the frame has no rows: a profile needs at least one")
    if target is not None and target not in df.columns:
        raise ValueError(f"the target column {target!r} is not in the frame")
    X = df.drop(columns=[target]) if target is not None else df
    if X.shape[1] == 0:
        raise ValueError("the frame has no feature columns besides the target")
    X = X.copy()
    X.columns = [str(c) for c in X.columns]
    n, p = X.shape
    out: dict[str, float] = dict.fromkeys(FEATURES, _nan())
    out.update(n_rows=float(n), n_features=float(p), log_n_rows=math.log(n), log_n_features=math.log(p),
               dimensionality=p / n)

    kinds = {c: _kind(X[c]) for c in X.columns}
    for kind in ("numeric", "categorical", "text", "datetime", "boolean"):
        out[f"share_{kind}"] = sum(k == kind for k in kinds.values()) / p
    missing = X.isna()
    out["missing_cells"] = float(missing.to_numpy().mean())
    out["missing_columns"] = float(missing.any().mean())

    cats = [c for c, k in kinds.items() if k == "categorical"]
    _summary([float(X[c].nunique()) for c in cats], "cat_card", out)

    numeric = [c for c, k in kinds.items() if k == "numeric"]
    num = X[numeric].astype(float) if numeric else pd.DataFrame(index=X.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _summary([float(v) for v in num.skew().tolist()], "skew", out)
        _summary([float(v) for v in num.kurt().tolist()], "kurt", out)

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, sample_rows), replace=False))
    sample = X.iloc[rows]
    snum = sample[numeric].astype(float)
    snum = snum.loc[:, snum.std() > 0] if len(snum) > 1 else snum.iloc[:, :0]
    if snum.shape[1] >= 2:
        c = snum.corr().abs().to_numpy()
        off = c[~np.eye(len(c), dtype=bool)]
        off = off[~np.isnan(off)]
        out["corr_abs_mean"] = float(off.mean()) if off.size else _nan()

    if target is not None:
        y_all = df[target]
        kind = target_kind(y_all)
        out["target_" + kind] = 1.0
        for other in ("binary", "multiclass", "regression"):
            if other != kind:
                out["target_" + other] = 0.0
        if kind != "regression":
            shares = y_all.dropna().value_counts(normalize=True).to_numpy()
            out["n_classes"] = float(len(shares))
            out["class_minority_share"] = float(shares.min())
            out["class_majority_share"] = float(shares.max())
            out["class_entropy"] = float(-(shares * np.log2(shares)).sum())
        y = y_all.iloc[rows]
        keep = y.notna().to_numpy()
        if kind == "regression":
            yv = y.astype(float).to_numpy()
            indicators = [yv]
        else:
            yv = y.astype(object).factorize()[0]
            indicators = [(yv == k).astype(float) for k in (range(1) if kind == "binary" else np.unique(yv[keep]))]
        if snum.shape[1] and keep.sum() > 2:
            best = []
            for ind in indicators:
                t_ = pd.Series(ind[keep], index=snum.index[keep])
                if t_.std() > 0:
                    best.append(float(snum[keep].corrwith(t_).abs().max()))
            best = [b for b in best if not math.isnan(b)]
            out["corr_target_abs_max"] = max(best) if best else _nan()
        M = _design(sample, kinds)
        if M is not None:
            out.update(_landmarks(M[keep], yv[keep], kind, seed))
    return {k: float(out[k]) for k in FEATURES}


def to_json(prof: dict[str, float]) -> str:
    """A profile as JSON (NaN as null), with the profile version."""
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in prof.items()}
    return json.dumps({"version": VERSION, "features": clean}, separators=(",", ":"))


def from_json(text: str) -> dict[str, Any]:
    """{"version", "features"} from `to_json`'s output, null read back as NaN."""
    body = json.loads(text)
    body["features"] = {k: (_nan() if v is None else float(v)) for k, v in body["features"].items()}
    return body
