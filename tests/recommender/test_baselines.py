"""The recommender's baselines (gpu_services/jupyter_mlp_gpu/recommender/baselines.py) on cases small enough to
check by hand: auto-sklearn 2.0's greedy portfolio, auto-sklearn 1.0's k-nearest datasets, seeded random order."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from jupyter_mlp_gpu.recommender.baselines import KnnRanker, PortfolioRanker, RandomRanker, greedy_portfolio
from jupyter_mlp_gpu.recommender.ranking import MetaScaler, normalised_regret


def frames(scores: dict[str, dict[str, float]], metas: dict[str, dict], tasks: dict[str, str] | None = None):
    configs = sorted({c for row in scores.values() for c in row})
    return {
        "datasets": pd.DataFrame({"dataset_id": list(metas), "task": [(tasks or {}).get(d, "binary") for d in metas],
                                  "meta": [json.dumps(m) for m in metas.values()]}),
        "configs": pd.DataFrame({"config_id": configs, "family": [c.split("-")[0] for c in configs]}),
        "scores": pd.DataFrame([{"dataset_id": d, "config_id": c, "score": s}
                                for d, row in scores.items() for c, s in row.items()]),
    }


def order(ranked):
    return [c for c, _ in ranked]


def test_normalised_regret_is_relative_to_each_datasets_range_and_one_where_unevaluated():
    m = np.array([[0.9, 0.7, 0.5], [0.3, np.nan, 0.3]])
    assert np.allclose(normalised_regret(m), [[0.0, 0.5, 1.0], [0.0, 1.0, 0.0]])


def test_greedy_portfolio_adds_what_lowers_the_mean_min_regret_most():
    # a is best on average (mean regret .4); but {b, c} covers both datasets perfectly: after a (.4 alone? no):
    # step 1: a -> mean(.2,.6)=.4, b -> mean(0,1)=.5, c -> mean(1,0)=.5: a first.
    # step 2 from (.2,.6): b -> mean(0,.6)=.3, c -> mean(.2,0)=.1: c. step 3: b (-> 0).
    regret = np.array([[0.2, 0.0, 1.0], [0.6, 1.0, 0.0]])
    assert greedy_portfolio(regret, ["a", "b", "c"]) == ["a", "c", "b"]


def test_portfolio_ranker_is_static_and_per_task():
    f = frames({"d1": {"x-1": 0.9, "y-1": 0.8, "z-1": 0.1}, "d2": {"x-1": 0.1, "y-1": 0.8, "z-1": 0.9},
                "d3": {"x-1": 0.1, "y-1": 0.2, "z-1": 0.9}},
               {"d1": {"f": 1.0}, "d2": {"f": 2.0}, "d3": {"f": 3.0}}, {"d3": "regression"})
    p = PortfolioRanker(f)
    # binary: regrets d1 (0, .125, 1), d2 (1, .125, 0): y first (.125), then x or z tie at .0625 -> mean regret
    # tie (.5, .5) -> config id: x
    assert order(p.rank({"f": 1.0}, "binary")) == ["y-1", "x-1", "z-1"]
    assert order(p.rank({"f": 99.0}, "binary")) == ["y-1", "x-1", "z-1"]  # no meta-features used
    assert order(p.rank({}, "regression"))[0] == "z-1"  # only d3
    # no multiclass dataset: all three; z (mean regret .33) then x (to 0 everywhere), y last
    assert order(p.rank({}, "multiclass")) == ["z-1", "x-1", "y-1"]


def test_knn_takes_the_nearest_datasets_best_configs_in_order_deduplicated():
    f = frames({"near": {"a-1": 0.9, "b-1": 0.8, "c-1": 0.1, "d-1": 0.2},
                "mid": {"a-1": 0.5, "b-1": 0.1, "c-1": 0.9, "d-1": 0.3},
                "far": {"a-1": 0.1, "b-1": 0.2, "c-1": 0.3, "d-1": 0.9}},
               {"near": {"f": 1.0, "g": 0.0}, "mid": {"f": 10.0, "g": 0.0}, "far": {"f": 1000.0, "g": 0.0}})
    k = KnnRanker(f, k=3)
    # round 1: near's best a, mid's best c, far's best d; round 2: near's b (mid's a, far's c already in)
    assert order(k.rank({"f": 1.0, "g": 0.0}, "binary")) == ["a-1", "c-1", "d-1", "b-1"]
    assert order(k.rank({"f": 1000.0}, "binary"))[:3] == ["d-1", "c-1", "a-1"]  # far, mid, near; g missing
    # k=1: near's configs by score, then the rest by mean regret
    assert order(KnnRanker(f, k=1).rank({"f": 1.0}, "binary")) == ["a-1", "b-1", "d-1", "c-1"]


def test_knn_distance_is_l1_on_standardised_meta_features():
    f = frames({"p": {"a-1": 1.0, "b-1": 0.0}, "q": {"a-1": 0.0, "b-1": 1.0}},
               {"p": {"big": 1e6, "small": 0.0}, "q": {"big": 1.0, "small": 1.0}})
    k = KnnRanker(f, k=1)
    # raw L1 would follow `big` only; standardised (log1p, z-score), `small` counts as much
    s = MetaScaler.fit([{"big": 1e6, "small": 0.0}, {"big": 1.0, "small": 1.0}])
    assert s.table([{"big": 1e6, "small": 0.0}]).tolist() == [[1.0, -1.0]]
    assert order(k.rank({"big": 1e6, "small": 0.0}, "binary"))[0] == "a-1"
    assert order(k.rank({"big": 1.0, "small": 1.0}, "binary"))[0] == "b-1"


def test_random_order_is_a_seeded_permutation():
    f = frames({"d": {f"c-{i}": float(i) for i in range(20)}}, {"d": {}})
    a, b, c = RandomRanker(f, seed=1), RandomRanker(f, seed=1), RandomRanker(f, seed=2)
    assert order(a.rank({}, "binary")) == order(b.rank({}, "binary"))
    assert sorted(order(a.rank({}, "binary"))) == sorted(f"c-{i}" for i in range(20))
    assert order(a.rank({}, "binary")) != order(c.rank({}, "binary"))


@pytest.mark.parametrize("cls", [PortfolioRanker, KnnRanker, RandomRanker])
def test_every_baseline_ranks_every_configuration_once_best_first(cls):
    f = frames({"d1": {"a-1": 0.1, "b-1": 0.5}, "d2": {"a-1": 0.7, "c-1": 0.2}}, {"d1": {"f": 1}, "d2": {"f": 2}})
    ranked = cls(f).rank({"f": 1.5}, "binary")
    assert sorted(order(ranked)) == ["a-1", "b-1", "c-1"]
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


def test_a_pair_scored_under_two_metrics_counts_once_with_the_first_metric_as_corpus_matrix_does():
    from jupyter_mlp_gpu.recommender.ranking import as_frames

    f = frames({"d1": {"a-1": 0.9, "b-1": 0.8}}, {"d1": {"f": 1.0}})
    extra = f["scores"].assign(score=[0.1, 0.95], metric="balanced_accuracy")
    f["scores"] = pd.concat([extra, f["scores"].assign(metric="accuracy")])  # balanced first in the frame
    assert as_frames(f).matrix().loc["d1"].tolist() == [0.9, 0.8]
