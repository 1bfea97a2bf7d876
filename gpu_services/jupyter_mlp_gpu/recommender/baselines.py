"""The baselines the encoder must beat, with the encoder's `rank(meta, task)` interface (docs/recommender.md).

- `RandomRanker`: the configurations in a seeded random order (random search over the corpus's configurations).
- `KnnRanker`: auto-sklearn 1.0 (Feurer et al. 2015): the k training datasets nearest on standardised
  meta-features (L1 distance over the features both have), and their best configurations in that order,
  deduplicated: first each neighbour's best, then each one's second best, and so on.
- `PortfolioRanker`: auto-sklearn 2.0's static greedy portfolio (Feurer et al. 2022): repeatedly add the
  configuration that most reduces the mean over the training datasets of the smallest normalised regret so far;
  the meta-features are not used.

kNN and the portfolio look at training datasets of the same task when there are any (all of them otherwise).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .ranking import Frames, MetaScaler, as_frames, l1_distances, normalised_regret


def _scored(order: list[str]) -> list[tuple[str, float]]:
    n = len(order)
    return [(c, float(n - i)) for i, c in enumerate(order)]


def _same_task(frames: Frames, task: str) -> np.ndarray:
    rows = (frames.datasets["task"] == task).to_numpy()
    return rows if rows.any() else np.ones(len(frames.datasets), bool)


class RandomRanker:
    def __init__(self, corpus: Any, seed: int = 0, *, space: str | None = None):
        self.configs = list(as_frames(corpus, space=space).configs["config_id"])
        self.seed = seed

    def rank(self, meta: Mapping[str, float], task: str) -> list[tuple[str, float]]:
        rng = np.random.default_rng(self.seed)
        return _scored([self.configs[i] for i in rng.permutation(len(self.configs))])


def greedy_portfolio(regret: np.ndarray, configs: list[str]) -> list[str]:
    """Configurations in greedy order over a dataset x config normalised-regret matrix: each step adds the one
    that lowers mean(min regret so far) most (ties: lower mean regret, then config id), until all are in."""
    n_d, n_c = regret.shape
    current = np.ones(n_d)
    left = list(range(n_c))
    mean_regret = regret.mean(axis=0) if n_d else np.zeros(n_c)
    order: list[str] = []
    while left:
        gains = [np.minimum(current, regret[:, j]).mean() if n_d else 0.0 for j in left]
        best = min(range(len(left)), key=lambda i: (gains[i], mean_regret[left[i]], configs[left[i]]))
        j = left.pop(best)
        current = np.minimum(current, regret[:, j])
        order.append(configs[j])
    return order


class PortfolioRanker:
    def __init__(self, corpus: Any, *, space: str | None = None):
        self.frames = as_frames(corpus, space=space)
        self.configs = list(self.frames.configs["config_id"])
        self.regret = normalised_regret(self.frames.matrix().to_numpy())
        self._orders: dict[str, list[str]] = {}

    def order(self, task: str) -> list[str]:
        if task not in self._orders:
            self._orders[task] = greedy_portfolio(self.regret[_same_task(self.frames, task)], self.configs)
        return self._orders[task]

    def rank(self, meta: Mapping[str, float], task: str) -> list[tuple[str, float]]:
        return _scored(self.order(task))


class KnnRanker:
    def __init__(self, corpus: Any, k: int = 25, *, space: str | None = None):
        self.frames = as_frames(corpus, space=space)
        self.k = k
        self.configs = list(self.frames.configs["config_id"])
        self.scaler = MetaScaler.fit(self.frames.datasets["meta"])
        self.table = self.scaler.table(self.frames.datasets["meta"])
        self.matrix = self.frames.matrix().to_numpy()
        self.ids = list(self.frames.datasets["dataset_id"])
        self.mean_regret = normalised_regret(self.matrix).mean(axis=0)

    def neighbours(self, meta: Mapping[str, float], task: str) -> list[int]:
        """Row indices of the k nearest training datasets of the task, nearest first (ties: dataset id)."""
        q = self.scaler.table([meta])[0]
        dist = l1_distances(q, self.table)
        rows = np.flatnonzero(_same_task(self.frames, task))
        rows = sorted(rows, key=lambda i: (dist[i], self.ids[i]))
        return rows[: self.k]

    def rank(self, meta: Mapping[str, float], task: str) -> list[tuple[str, float]]:
        near = self.neighbours(meta, task)
        bests = []
        for i in near:
            row = self.matrix[i]
            done = np.flatnonzero(~np.isnan(row))
            bests.append([self.configs[j] for j in sorted(done, key=lambda j: (-row[j], self.configs[j]))])
        order: list[str] = []
        seen: set[str] = set()
        for r in range(max((len(b) for b in bests), default=0)):
            for b in bests:
                if r < len(b) and b[r] not in seen:
                    seen.add(b[r])
                    order.append(b[r])
        rest = sorted((j for j, c in enumerate(self.configs) if c not in seen),
                      key=lambda j: (self.mean_regret[j], self.configs[j]))
        return _scored(order + [self.configs[j] for j in rest])
