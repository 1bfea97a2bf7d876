"""Preprocessing a profile calls for, each step with its reason and the scikit-learn object that does it.

Rules, read from the profile's meta-features (jupyter_mlp.profiling's names; a few older spellings accepted):

- missing values anywhere -> impute (numeric: median with a missing indicator; categorical: most frequent);
- categorical columns -> one-hot when their cardinality is low (<= ONE_HOT_MAX distinct values), else target
  encoding; tree families (which split on codes) take ordinal encoding instead of target encoding;
- linear, kNN, SVM and neural families -> standard scaling of numeric columns (trees do not need it);
- text columns -> TF-IDF vectorising;
- a classification target whose minority class is under IMBALANCED of the rows -> class weighting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

ONE_HOT_MAX = 15
IMBALANCED = 0.2
SCALED = ("logistic", "linear", "ridge", "lasso", "elastic", "sgd", "svm", "svc", "svr", "knn", "neighbors",
          "mlp", "perceptron")
TREES = ("forest", "tree", "boost", "xgb", "lgbm", "lightgbm", "catboost", "extra_trees")

ALIASES = {
    "missing": ("missing_cells", "share_missing", "missing_share"),
    "categorical": ("share_categorical", "n_categorical", "categorical_share"),
    "cardinality": ("cat_card_max", "cardinality_max", "max_cardinality"),
    "text": ("share_text", "n_text"),
    "minority": ("class_minority_share", "minority_share"),
    "imbalance_ratio": ("class_imbalance_ratio", "imbalance_ratio"),
}


def _get(profile: Mapping[str, Any], what: str) -> float | None:
    for name in ALIASES[what]:
        v = profile.get(name)
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            return f
    return None


def _is(family: str | None, stems: tuple[str, ...]) -> bool:
    return family is not None and any(s in family.lower() for s in stems)


def preprocessing(profile: Mapping[str, Any], task: str, family: str | None) -> list[dict[str, str]]:
    """The steps for `family` (None: the steps every family shares), in pipeline order."""
    steps: list[dict[str, str]] = []
    missing = _get(profile, "missing")
    if missing and missing > 0:
        steps.append({"step": "impute", "columns": "numeric",
                      "sklearn": "SimpleImputer(strategy='median', add_indicator=True)",
                      "why": f"{missing:.1%} missing values"})
        steps.append({"step": "impute", "columns": "categorical", "sklearn": "SimpleImputer(strategy='most_frequent')",
                      "why": f"{missing:.1%} missing values"})
    categorical = _get(profile, "categorical")
    if categorical and categorical > 0:
        card = _get(profile, "cardinality")
        if card is None or card <= ONE_HOT_MAX:
            steps.append({"step": "one_hot", "columns": "categorical",
                          "sklearn": "OneHotEncoder(handle_unknown='ignore')",
                          "why": "categorical columns with few values" + (f" (at most {card:.0f})" if card else "")})
        elif _is(family, TREES):
            steps.append({"step": "ordinal", "columns": "categorical",
                          "sklearn": "OrdinalEncoder(handle_unknown='use_encoded_value', unknown_value=-1)",
                          "why": f"high-cardinality categorical columns ({card:.0f} values) for a tree model"})
        else:
            steps.append({"step": "target_encode", "columns": "categorical", "sklearn": "TargetEncoder()",
                          "why": f"high-cardinality categorical columns ({card:.0f} values)"})
    text = _get(profile, "text")
    if text and text > 0:
        steps.append({"step": "tfidf", "columns": "text", "sklearn": "TfidfVectorizer(min_df=2)",
                      "why": "text columns"})
    if _is(family, SCALED):
        steps.append({"step": "scale", "columns": "numeric", "sklearn": "StandardScaler()",
                      "why": f"{family} is sensitive to the scale of its inputs"})
    if task in ("binary", "multiclass"):
        minority = _get(profile, "minority")
        ratio = _get(profile, "imbalance_ratio")
        if minority is None and ratio and ratio >= 1:
            minority = 1.0 / (1.0 + ratio)
        if minority is not None and minority < IMBALANCED:
            steps.append({"step": "class_weight", "columns": "target", "sklearn": "class_weight='balanced'",
                          "why": f"the smallest class is {minority:.1%} of the rows"})
    return steps
