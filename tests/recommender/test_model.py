"""The recommender's encoder (gpu_services/jupyter_mlp_gpu/recommender/model.py) on a synthetic corpus whose best
configuration one meta-feature decides: it learns to rank that configuration first on datasets it never saw, far
above chance; training is deterministic for a seed; save/load keeps the ranking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jupyter_mlp_gpu.recommender import model as M
from jupyter_mlp_gpu.recommender.baselines import PortfolioRanker

from tests.recommender.synthetic import CONFIGS, best_config, split, synthetic_corpus

# top_k=1: here only the best configuration is decided by the data, the runners-up are noise
FAST = M.Settings(epochs=60, batch_size=16, top_k=1, seed=0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return synthetic_corpus(tmp_path_factory.mktemp("syn"), n_datasets=64)


@pytest.fixture(scope="module")
def trained(corpus):
    frames, test = split(corpus, 16)
    return M.train(frames, FAST), test


def _top1_hits(ranker, test) -> int:
    hits = 0
    for meta, task in zip(test["meta"], test["task"]):
        meta = json.loads(meta)
        hits += ranker.rank(meta, task)[0][0] == best_config(meta["signal"])
    return hits


def test_encoder_ranks_the_config_its_meta_feature_decides_first_on_unseen_datasets(trained, corpus):
    model, test = trained
    hits = _top1_hits(model, test)
    # chance is 1/8 (2 of 16); a static portfolio cannot do better than one configuration's share
    assert hits >= 12, f"top-1 right on {hits}/16 held-out datasets"
    frames, _ = split(corpus, 16)
    assert hits > _top1_hits(PortfolioRanker(frames), test) + 6


def test_rank_lists_every_configuration_once_best_first_and_takes_partial_profiles(trained):
    model, _ = trained
    ranked = model.rank({"signal": 0.99, "n_rows": 1000.0}, "binary")  # noise features absent
    assert sorted(c for c, _ in ranked) == sorted(CONFIGS)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert ranked[0][0] == CONFIGS[-1]
    # a feature the model never saw is ignored, a missing value is an absent token
    assert model.rank({"signal": 0.99, "n_rows": 1000.0, "unknown": 5.0, "noise_a": float("nan")}, "binary") \
        == ranked
    assert len(model.rank({}, "regression")) == len(CONFIGS)  # no feature, unknown task: still a ranking


def test_training_is_deterministic_with_a_seed(corpus):
    frames, _ = split(corpus, 16)
    s = M.Settings(epochs=3, seed=7)
    a, b = M.train(frames, s), M.train(frames, s)
    meta = json.loads(corpus.datasets["meta"].iloc[-1])
    assert a.rank(meta, "binary") == b.rank(meta, "binary")
    for (k, v), w in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert (v == w).all(), k
    c = M.train(frames, M.Settings(epochs=3, seed=8))
    assert any((v != w).any() for v, w in zip(a.net.state_dict().values(), c.net.state_dict().values()))


def test_save_and_load_round_trip_the_ranking_settings_and_corpus_version(trained, corpus, tmp_path):
    model, test = trained
    model.save(tmp_path / "enc")
    saved = json.loads((tmp_path / "enc" / "model.json").read_text())
    assert saved["corpus_version"] == corpus.version and saved["settings"]["layers"] == 2
    loaded = M.load(tmp_path / "enc")
    for meta in test["meta"]:
        assert loaded.rank(json.loads(meta), "binary") == model.rank(json.loads(meta), "binary")
    (tmp_path / "enc" / "model.json").write_text(json.dumps({**saved, "format": "other"}))
    with pytest.raises(ValueError, match="not a recommender model"):
        M.load(tmp_path / "enc")


def test_hard_negatives_are_good_on_a_look_alike_and_bad_here():
    # datasets 0 and 1 look alike, 2 is far; config 2 is best on 1 but worst on 0; on 2 config 2 is fine
    table = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    matrix = np.array([[0.9, 0.8, 0.1, 0.5], [0.2, 0.3, 0.95, 0.4], [0.5, 0.6, 0.7, 0.9]])
    hard = M.hard_negatives(table, matrix, top_k=1, neighbours=1)
    assert hard[0].tolist() == [False, False, True, False]  # 1's best, below 0's median
    assert hard[1].tolist() == [True, False, False, False]  # 0's best, .2 below 1's median .35
    assert not hard[2].any()  # its nearest (1) liked config 2, which does fine here (.7 above the median .65)


def test_settings_for_a_gpu_are_the_seeds_size():
    s = M.Settings.gpu()
    assert (s.layers, s.heads, s.device) == (6, 12, "auto") and s.width % s.heads == 0


def test_the_default_trains_on_cuda_when_present_else_the_cpu(trained):
    import torch

    model, _ = trained
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert M.Settings().device == "auto" and M._device("auto").type == want
    assert next(model.net.parameters()).device.type == want
