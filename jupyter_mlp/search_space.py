"""A suggestion's search space as plain JSON, and what it becomes for Optuna and for scikit-learn's searches.

The recommender (gpu_services/jupyter_mlp_gpu/recommender/suggest.py) writes one space per model family: a dict
of hyperparameter name -> spec, each spec one of

- `{"type": "int", "low": 2, "high": 64, "log": true, "values": [2, 8, 64], "prior": {"center": 8}}`
- `{"type": "float", "low": 0.01, "high": 10.0, "log": true, "values": [...], "prior": {"center": 0.1}}`
- `{"type": "categorical", "choices": ["sqrt", 0.5], "weights": [0.7, 0.3]}`

`values` are the settings seen doing well on similar datasets (at most a handful, for a grid); `prior.center` is
their similarity-weighted median; `weights` the similarity-weighted share of each choice. The conversions import
optuna or scipy only when called: a notebook that never asks for an Optuna space never imports optuna.
"""

from __future__ import annotations

import math
from typing import Any

KINDS = ("int", "float", "categorical")


class SpaceError(ValueError):
    """A spec that is not one of the three kinds, or whose bounds do not make sense."""


def _check(name: str, spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if kind not in KINDS:
        raise SpaceError(f"hyperparameter {name!r}: type must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "categorical":
        if not spec.get("choices"):
            raise SpaceError(f"hyperparameter {name!r}: a categorical spec needs choices")
    elif not spec["low"] <= spec["high"]:
        raise SpaceError(f"hyperparameter {name!r}: low {spec['low']} is above high {spec['high']}")
    return kind


def to_optuna(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`{name: optuna.distributions.*Distribution}`, for `optuna.integration.OptunaSearchCV(param_distributions=)`
    or `trial._suggest(name, dist)` / `study.ask(fixed_distributions)`."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, spec in space.items():
        kind = _check(name, spec)
        if kind == "categorical":
            out[name] = CategoricalDistribution(list(spec["choices"]))
        elif kind == "int":
            out[name] = IntDistribution(int(spec["low"]), int(spec["high"]), log=bool(spec.get("log")))
        else:
            out[name] = FloatDistribution(float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))
    return out


def _grid_values(spec: dict[str, Any], points: int) -> list[Any]:
    if spec["type"] == "categorical":
        return list(spec["choices"])
    if spec.get("values"):
        return sorted(spec["values"])
    low, high = spec["low"], spec["high"]
    if low == high:
        return [low]
    if spec.get("log") and low > 0:
        vals = [math.exp(math.log(low) + i * (math.log(high) - math.log(low)) / (points - 1)) for i in range(points)]
    else:
        vals = [low + i * (high - low) / (points - 1) for i in range(points)]
    if spec["type"] == "int":
        return sorted({int(round(v)) for v in vals})
    return vals


def to_param_grid(space: dict[str, dict[str, Any]], points: int = 3) -> dict[str, list[Any]]:
    """`{name: [values]}` for `sklearn.model_selection.ParameterGrid` / `GridSearchCV`: the values seen doing well
    (or `points` values spread over the range, log-spaced when the spec is log)."""
    if points < 2:
        raise SpaceError("a grid needs at least 2 points per range")
    return {name: _grid_values(spec, points) for name, spec in space.items() if _check(name, spec)}


def to_param_distributions(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`{name: scipy.stats distribution or list}` for `ParameterSampler` / `RandomizedSearchCV` (log ranges are
    `loguniform`; ints `randint` over [low, high]; categoricals lists, repeated by weight so the prior holds)."""
    from scipy import stats

    out: dict[str, Any] = {}
    for name, spec in space.items():
        kind = _check(name, spec)
        if kind == "categorical":
            choices, weights = list(spec["choices"]), spec.get("weights")
            if weights and len(weights) == len(choices):  # a list sampled uniformly: repeat by weight (in tenths)
                choices = [c for c, w in zip(choices, weights) for _ in range(max(1, round(10 * w)))]
            out[name] = choices
        elif spec["low"] == spec["high"]:
            out[name] = [spec["low"]]
        elif kind == "int":
            out[name] = (stats.randint(int(spec["low"]), int(spec["high"]) + 1) if not spec.get("log")
                         else _IntLog(stats.loguniform(spec["low"], spec["high"] + 1)))
        elif spec.get("log") and spec["low"] > 0:
            out[name] = stats.loguniform(spec["low"], spec["high"])
        else:
            out[name] = stats.uniform(spec["low"], spec["high"] - spec["low"])
    return out


class _IntLog:
    """A log-uniform integer: scikit-learn's samplers call `.rvs(random_state=)` and take what it returns."""

    def __init__(self, dist: Any):
        self.dist = dist

    def rvs(self, size: Any = None, random_state: Any = None) -> Any:
        v = self.dist.rvs(size=size, random_state=random_state)
        return int(v) if size is None else v.astype(int)
