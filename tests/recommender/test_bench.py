"""The recommender benchmark's measures (tests/bench/bench_recommender.py), checked by hand, and one quick run on
the fixture corpus: held-out datasets are never trained on, every method is scored."""

from __future__ import annotations

import numpy as np

from jupyter_mlp_gpu.recommender.corpus import fixture_corpus
from tests.bench import bench_recommender as B


def test_evaluations_count_only_configs_with_a_score_until_within_one_percent_of_the_range():
    scores = {"a": 0.5, "b": 0.9, "c": 0.896, "d": 0.1}  # range .8: within 1% means >= .892
    assert B.evals_to_reach(["x", "a", "c", "b"], scores) == 2  # x has no score here: not an evaluation
    assert B.evals_to_reach(["d", "a", "b"], scores) == 3
    assert B.evals_to_reach(["b"], scores) == 1


def test_regret_curve_is_best_so_far_and_flat_after_the_last():
    scores = {"a": 0.5, "b": 1.0, "c": 0.0}
    assert B.regret_curve(["c", "x", "a", "b"], scores, horizon=5).tolist() == [1.0, 0.5, 0.0, 0.0, 0.0]


def test_folds_split_the_datasets_into_disjoint_groups():
    ids = [f"d{i}" for i in range(23)]
    fs = B.folds(ids, 10)
    assert len(fs) == 10 and sorted(sum(fs, [])) == sorted(ids)
    assert B.folds(ids, 10) == fs  # seeded


def test_average_rank_ties_share():
    curves = {m: {"d": np.array([0.5, 0.0])} for m in B.METHODS}
    curves["ours"]["d"] = np.array([0.0, 0.0])
    r = B.average_ranks(curves, ["d"])
    assert r["ours"].tolist() == [1.0, 2.5] and r["random"].tolist() == [3.0, 2.5]


def test_a_quick_run_on_the_fixture_corpus(tmp_path, monkeypatch, capsys):
    fixture_corpus(tmp_path / "c", n_datasets=12)
    trained_on = []
    real_train = B.M.train

    def train(frames, settings):
        trained_on.append(set(frames["datasets"]["dataset_id"]) if isinstance(frames, dict)
                          else set(frames.datasets["dataset_id"]))
        return real_train(frames, settings)

    monkeypatch.setattr(B.M, "train", train)
    report = B.main(["--corpus", str(tmp_path / "c"), "--folds", "3", "--seeds", "2", "--epochs", "2",
                     "--no-measure", "--png", str(tmp_path / "png")])
    grid = report["spaces"]["grid"]
    assert set(grid["methods"]) == {"ours", "random", "knn", "portfolio"} and grid["datasets"] == 12
    assert "lcdb-default" not in report["spaces"]
    assert len(trained_on) == 3 and all(len(t) == 8 for t in trained_on)  # each fold: the other 8 of 12
    assert set.union(*[set(f"fixture:{i}" for i in range(12)) - t for t in trained_on]) == \
        {f"fixture:{i}" for i in range(12)}  # every dataset held out once
    assert (tmp_path / "png" / "recommender-grid.png").stat().st_size > 1000
    # the floor (issue 17): the oracle order finds a best configuration at its first evaluation
    assert grid["oracle_median_evals"] == 1
    from tests.bench._floor import parse

    (line,) = parse(capsys.readouterr().out)
    assert line["floor_label"] == "grid: median evaluations ours / oracle"
    assert float(line["floor"].rstrip("x")) == grid["methods"]["ours"]["median_evals"]


def test_a_fresh_process_peak_memory_is_its_own_not_its_large_parents():
    import multiprocessing as mp

    ballast = bytearray(600 * 1024 * 1024)  # the parent's RSS goes up by 600 MiB
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=B._rss_child, args=(q,))
    p.start()
    child = q.get(timeout=60)
    p.join()
    del ballast
    assert child < 400, f"a fresh interpreter reported a peak of {child:.0f} MiB"
