"""Which past datasets look like this one: a distance over meta-features, shared by the suggestions' evidence.

Meta-features differ wildly in scale (rows in the millions, shares in [0, 1]), so each value is first squashed
(`sign(x) * log1p(|x|)`), then standardised by the reference set's mean and spread; a feature the query lacks is
left out, one a candidate lacks counts as the reference mean. Similarity is `1 / (1 + d / sqrt(k))` for the
Euclidean distance `d` over the `k` features used: 1 for the same profile, falling towards 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CLASSIFICATION = ("binary", "multiclass")


@dataclass
class Candidate:
    """A past dataset (a corpus dataset, or a platform run's dataset snapshot) and what is known about it."""

    key: str
    task: str
    meta: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)


def _squash(x: float) -> float:
    return math.copysign(math.log1p(abs(x)), x)


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def same_task(task: str, other: str) -> bool:
    return task == other or (task in CLASSIFICATION and other in CLASSIFICATION)


def nearest(meta: dict[str, Any], task: str, candidates: Sequence[Candidate],
            k: int | None = None) -> list[tuple[Candidate, float]]:
    """The candidates of the same kind of task (classification or regression), most similar first, each with its
    similarity; ties keep the candidates' order."""
    pool = [c for c in candidates if same_task(task, c.task)] or list(candidates)
    if not pool:
        return []
    query = {n: _finite(v) for n, v in meta.items()}
    names = sorted(n for n, v in query.items() if v is not None
                   and sum(_finite(c.meta.get(n)) is not None for c in pool) >= max(1, len(pool) // 2))
    if not names:
        return [(c, 0.0) for c in pool[:k]]
    m = np.full((len(pool), len(names)), np.nan)
    for i, c in enumerate(pool):
        for j, n in enumerate(names):
            v = _finite(c.meta.get(n))
            if v is not None:
                m[i, j] = _squash(v)
    mean = np.nanmean(m, axis=0)
    spread = np.nanstd(m, axis=0)
    spread[~np.isfinite(spread) | (spread < 1e-9)] = 1.0
    z = (np.where(np.isnan(m), mean, m) - mean) / spread
    q = (np.array([_squash(query[n]) for n in names]) - mean) / spread
    d = np.sqrt(((z - q) ** 2).sum(axis=1))
    sim = 1.0 / (1.0 + d / math.sqrt(len(names)))
    order = np.argsort(-sim, kind="stable")
    out = [(pool[i], float(round(sim[i], 4))) for i in order]
    return out[:k] if k is not None else out
