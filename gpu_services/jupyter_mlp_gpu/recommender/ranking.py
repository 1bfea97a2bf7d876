"""What every recommender method shares: the training frames, the score matrix and the meta-feature scaling.

A method is trained on corpus frames (a `Corpus`, or a mapping with its `datasets`, `configs` and `scores` frames,
and optionally `version`) and answers `rank(meta, task) -> [(config_id, score), ...]`, best first, over the
configurations it was trained on. The encoder (`model.py`) and the baselines (`baselines.py`) both do.

Meta-feature values are scaled robustly, `sign(x) * log1p(|x|)` (counts and sizes span orders of magnitude), then
standardised per feature on the training datasets. A missing or non-finite value is simply absent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Protocol

import numpy as np
import pandas as pd


class Ranker(Protocol):
    def rank(self, meta: Mapping[str, float], task: str) -> list[tuple[str, float]]: ...


@dataclass
class Frames:
    """The training data of a method: one row per dataset, per configuration, per score."""

    datasets: pd.DataFrame  # dataset_id, task, meta (dict, parsed), ...
    configs: pd.DataFrame  # config_id, family, ...
    scores: pd.DataFrame  # dataset_id, config_id, score
    version: str = ""

    def matrix(self) -> pd.DataFrame:
        """Dataset x configuration scores (rows in `datasets` order, columns in `configs` order), NaN if none."""
        s = self.scores.sort_values(["dataset_id", "config_id"]).drop_duplicates(["dataset_id", "config_id"])
        m = s.pivot(index="dataset_id", columns="config_id", values="score").astype(float)
        return m.reindex(index=list(self.datasets["dataset_id"]), columns=list(self.configs["config_id"]))


def parse_meta(meta: Any) -> dict[str, float]:
    """A meta-feature mapping (or its JSON) as name -> finite float; missing and non-finite values dropped."""
    if isinstance(meta, str):
        meta = json.loads(meta)
    out = {}
    for k, v in (meta or {}).items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out[str(k)] = f
    return out


def as_frames(corpus: Any, *, space: str | None = None, datasets: Iterable[str] | None = None) -> Frames:
    """Training frames from a `Corpus` or a mapping of frames, keeping one space's configurations and only the
    given datasets (say, a training fold); datasets without any score in what is kept are dropped."""
    get = (lambda k: corpus[k]) if isinstance(corpus, Mapping) else (lambda k: getattr(corpus, k))
    ds, cf, sc = get("datasets").copy(), get("configs").copy(), get("scores")
    version = (corpus.get("version", "") if isinstance(corpus, Mapping) else getattr(corpus, "version", "")) or ""
    if space is not None and "space" in cf.columns:
        cf = cf[cf["space"] == space]
    if datasets is not None:
        keep = set(datasets)
        ds = ds[ds["dataset_id"].isin(keep)]
    sc = sc[sc["dataset_id"].isin(set(ds["dataset_id"])) & sc["config_id"].isin(set(cf["config_id"]))]
    if "metric" in sc.columns:  # one score per pair: the first metric in sorted order, as Corpus.matrix takes
        sc = sc.sort_values(["dataset_id", "config_id", "metric"], kind="mergesort")
    sc = sc.drop_duplicates(["dataset_id", "config_id"])
    sc = sc[np.isfinite(sc["score"].astype(float))][["dataset_id", "config_id", "score"]]
    ds = ds[ds["dataset_id"].isin(set(sc["dataset_id"]))].sort_values("dataset_id", kind="mergesort")
    cf = cf.sort_values("config_id", kind="mergesort").reset_index(drop=True)
    ds = ds.assign(meta=[parse_meta(m) for m in ds["meta"]]).reset_index(drop=True)
    return Frames(ds, cf, sc.reset_index(drop=True), version)


def robust(x: np.ndarray | float) -> np.ndarray | float:
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass
class MetaScaler:
    """Per-feature `robust` then standardisation, fitted on the training datasets' meta-features."""

    names: list[str]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, metas: Iterable[Mapping[str, float]]) -> "MetaScaler":
        metas = list(metas)
        names = sorted({k for m in metas for k in m})
        mean, std = np.zeros(len(names)), np.ones(len(names))
        for j, k in enumerate(names):
            vals = np.array([robust(m[k]) for m in metas if k in m], dtype=float)
            mean[j] = vals.mean()
            sd = vals.std()
            std[j] = sd if sd > 1e-8 else 1.0
        return cls(names, mean, std)

    def table(self, metas: Iterable[Mapping[str, float]], clip: float = 6.0) -> np.ndarray:
        """Rows of standardised values (NaN where a dataset lacks the feature); unknown features ignored."""
        index = {k: j for j, k in enumerate(self.names)}
        metas = list(metas)
        out = np.full((len(metas), len(self.names)), np.nan)
        for i, m in enumerate(metas):
            for k, v in parse_meta(m).items():
                j = index.get(k)
                if j is not None:
                    out[i, j] = (robust(v) - self.mean[j]) / self.std[j]
        return np.clip(out, -clip, clip)

    def to_json(self) -> dict:
        return {"names": self.names, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, d: Mapping) -> "MetaScaler":
        return cls(list(d["names"]), np.asarray(d["mean"], float), np.asarray(d["std"], float))


def normalised_regret(matrix: np.ndarray) -> np.ndarray:
    """Per dataset (row), (best - score) / (best - worst) in [0, 1]; 1 where not evaluated, 0 on a flat row."""
    best, worst = np.nanmax(matrix, axis=1, keepdims=True), np.nanmin(matrix, axis=1, keepdims=True)
    span = best - worst
    reg = np.where(span > 0, (best - matrix) / np.where(span > 0, span, 1.0), 0.0)
    return np.where(np.isnan(matrix), 1.0, reg)


def l1_distances(query: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Mean absolute difference over the features both have (L1 normalised by how many are shared); inf if none."""
    diff = np.abs(table - query[None, :])
    shared = (~np.isnan(diff)).sum(axis=1)
    total = np.nansum(diff, axis=1)
    return np.where(shared > 0, total / np.maximum(shared, 1), np.inf)
