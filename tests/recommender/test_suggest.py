"""Suggestion composition (recommender/suggest.py) on the corpus module's small fixture: families in the ranker's
order, search spaces drawn from what did well on similar datasets that Optuna and scikit-learn's searches accept,
preprocessing from the profile, warm starts and evidence. The ranker here is a plain kNN over the fixture (the
mean score of each configuration on the 4 most similar datasets), a real computation, not a stub."""

from __future__ import annotations

import json

import pytest

from jupyter_mlp.search_space import to_optuna, to_param_distributions, to_param_grid
from jupyter_mlp_gpu.recommender.corpus import fixture_corpus
from jupyter_mlp_gpu.recommender.preprocess import preprocessing
from jupyter_mlp_gpu.recommender.suggest import NearestDatasetsRanker, compose, derive_space


def NearestMean(corpus):  # noqa: N802 - the kNN ranker over the fixture, 4 neighbours
    return NearestDatasetsRanker(corpus, k=4)


CLUSTER1 = {"n_rows": 2000.0, "n_features": 20.0, "share_numeric": 0.9, "share_categorical": 0.1,
            "landmark_1nn": 0.8, "fixture:cluster": 1.0}
CLUSTER0 = {**CLUSTER1, "share_numeric": 0.3, "share_categorical": 0.7, "fixture:cluster": 0.0}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return fixture_corpus(tmp_path_factory.mktemp("corpus"), n_datasets=16)


def test_families_follow_similar_datasets(corpus):
    out = compose(CLUSTER1, "binary", NearestMean(corpus), corpus)
    names = [f["family"] for f in out["families"]]
    assert set(names[:2]) == {"hist_gradient_boosting", "random_forest"}
    other = compose(CLUSTER0, "multiclass", NearestMean(corpus), corpus)
    assert {f["family"] for f in other["families"][:2]} == {"logistic_regression", "knn"}
    top = out["families"][0]
    # evidence: the most similar corpus datasets, all of cluster 1 (binary), best first
    assert top["evidence"] and all(e["source"] == "corpus" for e in top["evidence"])
    sims = [e["similarity"] for e in top["evidence"]]
    assert sims == sorted(sims, reverse=True)
    for e in top["evidence"]:
        assert json.loads(corpus.datasets.set_index("dataset_id").at[e["dataset"], "meta"])["fixture:cluster"] == 1
    # warm starts are concrete configurations of the corpus, ranker's best first
    assert out["warm_start"][0]["config_id"] == NearestMean(corpus).rank(CLUSTER1, "binary")[0][0]
    assert all(w["params"] for w in top["warm_start"])
    assert out["suggestion_id"] and out["corpus_version"] == corpus.version
    json.dumps(out)  # plain JSON


def test_search_space_feeds_optuna_and_sklearn(corpus):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    out = compose(CLUSTER1, "binary", NearestMean(corpus), corpus)
    spaces = {f["family"]: f["search_space"] for f in out["families"]}
    rf = spaces["random_forest"]
    assert rf["n_estimators"]["type"] == "int" and rf["n_estimators"]["low"] >= 50 and rf["n_estimators"]["high"] <= 200
    assert rf["max_features"]["type"] == "categorical"  # "sqrt" and 0.5: mixed kinds stay choices
    assert abs(sum(rf["max_features"]["weights"]) - 1) < 0.01
    for family, cls in (("random_forest", RandomForestClassifier), ("hist_gradient_boosting",
                                                                     HistGradientBoostingClassifier)):
        for params in ParameterGrid(to_param_grid(spaces[family])):
            cls(**params).get_params()
        for params in ParameterSampler(to_param_distributions(spaces[family]), n_iter=5, random_state=0):
            est = cls(**params)
            est._validate_params()  # scikit-learn's own parameter checks
    import optuna

    dists = to_optuna(spaces["hist_gradient_boosting"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask(dists)
    assert set(trial.params) == set(spaces["hist_gradient_boosting"])


def test_derive_space_kinds():
    space = derive_space([({"C": 0.01, "k": 3, "p": "l2", "fit": True, "random_state": 0}, 1.0),
                          ({"C": 10.0, "k": 30, "p": "l1", "fit": True, "n_jobs": 1}, 3.0)])
    assert set(space) == {"C", "k", "p", "fit"}  # seeds and threads are not searched
    assert space["C"] == {"type": "float", "low": 0.01, "high": 10.0, "log": True, "values": [0.01, 10.0],
                          "prior": {"center": 10.0}}
    assert space["k"]["type"] == "int" and space["k"]["log"] and space["k"]["prior"]["center"] == 30
    assert space["p"] == {"type": "categorical", "choices": ["l1", "l2"], "weights": [0.75, 0.25]}
    assert space["fit"]["choices"] == [True]


def test_preprocessing_from_profile():
    profile = {"missing_cells": 0.05, "share_categorical": 0.4, "cat_card_max": 120, "share_text": 0.1,
               "class_minority_share": 0.04}
    steps = {s["step"] for s in preprocessing(profile, "binary", "logistic_regression")}
    assert steps == {"impute", "target_encode", "tfidf", "scale", "class_weight"}
    trees = {s["step"] for s in preprocessing(profile, "binary", "random_forest")}
    assert "ordinal" in trees and "scale" not in trees and "target_encode" not in trees
    few = {s["step"] for s in preprocessing({"share_categorical": 0.4, "cat_card_max": 4}, "regression", "knn")}
    assert few == {"one_hot", "scale"}
    assert preprocessing({"missing_cells": 0.0, "class_minority_share": 0.5}, "binary", "random_forest") == []


def test_engine_loads_the_home_corpus_and_the_knn_baseline(tmp_path):
    from jupyter_mlp.settings import Settings
    from jupyter_mlp_gpu.recommender.baselines import KnnRanker
    from jupyter_mlp_gpu.recommender.routes import RecommenderEngine

    built = fixture_corpus(tmp_path / "home" / "recommender" / "corpus", n_datasets=8)
    engine = RecommenderEngine(Settings(home=tmp_path / "home"))
    assert engine.corpus.version == built.version
    assert isinstance(engine.ranker, KnnRanker)
    out = compose(CLUSTER1, "binary", engine.ranker, engine.corpus)
    assert {f["family"] for f in out["families"][:2]} == {"hist_gradient_boosting", "random_forest"}


def test_a_family_whose_similar_best_are_defaults_gets_its_corpus_range(tmp_path):
    """LCDB scores learners at their defaults (params {}): the space comes from the family's other configurations."""
    import pandas as pd

    from jupyter_mlp_gpu.recommender.corpus import load_corpus, write_corpus

    datasets = pd.DataFrame([{"dataset_id": f"d{i}", "source": "t", "task": "binary", "n_rows": 100,
                              "n_features": 5, "meta": json.dumps({"n_rows": 100.0 + i})} for i in range(3)])
    configs = pd.DataFrame([
        {"config_id": "lcdb:knn", "family": "knn", "params": "{}", "space": "lcdb-default"},
        {"config_id": "grid:knn:0", "family": "knn", "params": json.dumps({"n_neighbors": 3}), "space": "grid"},
        {"config_id": "grid:knn:1", "family": "knn", "params": json.dumps({"n_neighbors": 30}), "space": "grid"},
    ])
    scores = pd.DataFrame([{"dataset_id": f"d{i}", "config_id": c, "score": s, "metric": "accuracy"}
                           for i in range(3) for c, s in (("lcdb:knn", 0.9), ("grid:knn:0", 0.5), ("grid:knn:1", 0.4))])
    write_corpus(tmp_path / "c", datasets, configs, scores, built_by="test", sources={})
    c = load_corpus(tmp_path / "c")
    out = compose({"n_rows": 101.0}, "binary", NearestDatasetsRanker(c, k=3), c)
    assert out["families"][0]["search_space"]["n_neighbors"]["low"] == 3
    assert out["families"][0]["search_space"]["n_neighbors"]["high"] == 30
