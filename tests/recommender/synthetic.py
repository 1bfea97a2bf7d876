"""A small synthetic corpus whose best configuration is decided by one meta-feature (the recommender's tests).

Eight configurations in four families; a dataset's `signal` in [0, 1) picks its best one (signal * 8, floored),
the others score lower at random; the other meta-features are noise (with heavy tails, and some missing), so a
method has to find which feature matters. Written and loaded through the corpus module, like the real one.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from jupyter_mlp_gpu.recommender.corpus import load_corpus, write_corpus

FAMILIES = ("random_forest", "logistic_regression", "knn", "hist_gradient_boosting")
CONFIGS = [f"grid:{FAMILIES[j // 2]}:{j % 2}" for j in range(8)]


def best_config(signal: float) -> str:
    return CONFIGS[int(signal * len(CONFIGS))]


def synthetic_corpus(out, n_datasets: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    configs = pd.DataFrame({"config_id": CONFIGS, "family": [c.split(":")[1] for c in CONFIGS],
                            "params": [json.dumps({"i": j % 2}) for j in range(len(CONFIGS))],
                            "space": "grid"})
    datasets, scores = [], []
    for d in range(n_datasets):
        signal = (d % len(CONFIGS) + rng.uniform(0.05, 0.95)) / len(CONFIGS)  # every best config equally often
        meta = {"signal": signal, "n_rows": float(rng.integers(50, 100_000)), "noise_a": float(rng.normal()),
                "noise_b": float(rng.lognormal(0, 2))}
        if rng.random() < 0.3:
            del meta["noise_a"]  # a profile need not have every feature
        did = f"syn:{d:03d}"
        datasets.append({"dataset_id": did, "source": "synthetic", "task": "binary", "meta": json.dumps(meta),
                         "n_rows": int(meta["n_rows"]), "n_features": 4})
        best = best_config(signal)
        for c in CONFIGS:
            score = 0.9 if c == best else float(rng.uniform(0.5, 0.8))
            scores.append({"dataset_id": did, "config_id": c, "score": score, "metric": "accuracy"})
    write_corpus(out, pd.DataFrame(datasets), configs, pd.DataFrame(scores), built_by="tests.recommender.synthetic",
                 sources={"synthetic": str(seed)})
    return load_corpus(out)


def split(corpus, n_test: int):
    """(train corpus frames, held-out datasets frame): the last n_test datasets held out."""
    ids = list(corpus.datasets["dataset_id"])
    test = set(ids[-n_test:])
    frames = {"datasets": corpus.datasets[~corpus.datasets["dataset_id"].isin(test)],
              "configs": corpus.configs, "scores": corpus.scores[~corpus.scores["dataset_id"].isin(test)],
              "version": corpus.version}
    return frames, corpus.datasets[corpus.datasets["dataset_id"].isin(test)]
