"""Recommender benchmark (issue 14): how many evaluations each method needs to come within 1% of the best known score.

    nice -n 10 .venv/bin/python -m tests.bench.bench_recommender [--corpus DIR] [--space lcdb-default|grid|all]
        [--folds 10] [--seeds 20] [--epochs N] [--png artifacts/]

Over each configuration space of the corpus separately, the datasets are split into K groups (grouped K-fold over
datasets, K=10 by default, shuffled with seed 0): every method is fitted on the other groups' datasets only and
ranks the configurations for each held-out dataset from its meta-features and task, so no method ever trains on
the dataset it is evaluated on. (Not leave-one-dataset-out: that retrains the encoder once per dataset, too slow on
this CPU; K-fold trains it K times.)

For a held-out dataset, following a method's order over the configurations that dataset has a score for (the
others cannot be evaluated there and are skipped), the count of evaluations until one scores within 1% of the best
known score on that dataset, 1% of the dataset's score range (best - worst of its evaluated configurations).
Methods: ours (the encoder, model.py, at its default settings, fixed before this benchmark was first run), random
order (mean over --seeds seeds), kNN on meta-features (auto-sklearn 1.0 style) and the greedy portfolio
(auto-sklearn 2.0 style). Printed: median and mean evaluations, the median over datasets of ours / each method,
the average rank of each method's best-so-far normalised regret after 1..50 evaluations (a table every 5, a PNG
with --png), and the time and peak memory (RSS of a fresh process) of one training on the whole space.
A quality benchmark: its `ratios:` line (tests/bench/_floor.py) gives, per space, the best baseline's median
evaluations over ours (peer) and ours over the oracle's (floor: the dataset's own scores, best first, 1 evaluation).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np

from jupyter_mlp_gpu.recommender import model as M
from jupyter_mlp_gpu.recommender.baselines import KnnRanker, PortfolioRanker, RandomRanker
from jupyter_mlp_gpu.recommender.corpus import SPACES, load_corpus
from jupyter_mlp_gpu.recommender.ranking import as_frames
from tests.bench._floor import print_ratios

HORIZON = 50
WITHIN = 0.01
METHODS = ("ours", "random", "knn", "portfolio")


def evals_to_reach(order: list[str], scores: dict[str, float]) -> int:
    """1-based count of evaluations (over configs with a score) until one is within WITHIN of the best known."""
    best, worst = max(scores.values()), min(scores.values())
    target = best - WITHIN * (best - worst)
    n = 0
    for c in order:
        if c in scores:
            n += 1
            if scores[c] >= target:
                return n
    raise AssertionError("an order that misses the dataset's configurations")  # every method ranks them all


def regret_curve(order: list[str], scores: dict[str, float], horizon: int = HORIZON) -> np.ndarray:
    """Best-so-far normalised regret after 1..horizon evaluations (flat after the last evaluated config)."""
    best, worst = max(scores.values()), min(scores.values())
    span = best - worst if best > worst else 1.0
    out, cur = [], 1.0
    for c in order:
        if c in scores:
            cur = min(cur, (best - scores[c]) / span)
            out.append(cur)
            if len(out) == horizon:
                break
    out += [cur] * (horizon - len(out))
    return np.asarray(out)


def folds(ids: list[str], k: int, seed: int = 0) -> list[list[str]]:
    ids = sorted(ids)
    perm = np.random.default_rng(seed).permutation(len(ids))
    k = max(2, min(k, len(ids)))
    return [[ids[i] for i in perm[j::k]] for j in range(k)]


def evaluate(corpus, space: str, k: int, seeds: int, settings: M.Settings, log=print) -> dict:
    full = as_frames(corpus, space=space)
    matrix = full.matrix()
    rows = {d: {c: float(v) for c, v in r.items() if np.isfinite(v)} for d, r in matrix.iterrows()}
    rows = {d: r for d, r in rows.items() if len(r) >= 2}
    meta = dict(zip(full.datasets["dataset_id"], full.datasets["meta"]))
    task = dict(zip(full.datasets["dataset_id"], full.datasets["task"]))
    evals = {m: {} for m in METHODS}
    curves = {m: {} for m in METHODS}
    oracle: dict[str, int] = {}  # the ideal order (the dataset's own scores, best first): what no method can beat
    for j, test in enumerate(folds(list(rows), k)):
        t0 = time.perf_counter()
        train_ids = [d for d in full.datasets["dataset_id"] if d not in set(test)]
        train = as_frames(corpus, space=space, datasets=train_ids)
        ours = M.train(train, settings)
        knn, portfolio = KnnRanker(train), PortfolioRanker(train)
        randoms = [RandomRanker(train, seed=s) for s in range(seeds)]
        for d in test:
            sc = rows[d]
            for name, r in (("ours", ours), ("knn", knn), ("portfolio", portfolio)):
                order = [c for c, _ in r.rank(meta[d], task[d])]
                order += [c for c in sc if c not in set(order)]  # a config no training dataset had: last
                evals[name][d] = evals_to_reach(order, sc)
                curves[name][d] = regret_curve(order, sc)
            ro = [[c for c, _ in r.rank(meta[d], task[d])] + sorted(set(sc) - set(train.configs["config_id"]))
                  for r in randoms]
            evals["random"][d] = float(np.mean([evals_to_reach(o, sc) for o in ro]))
            oracle[d] = evals_to_reach(sorted(sc, key=sc.__getitem__, reverse=True), sc)  # the floor: 1
            curves["random"][d] = np.mean([regret_curve(o, sc) for o in ro], axis=0)
        log(f"  fold {j + 1}/{len(folds(list(rows), k))}: {len(test)} held out, {len(train_ids)} trained on, "
            f"{time.perf_counter() - t0:.1f} s")
    return {"evals": evals, "curves": curves, "datasets": sorted(rows), "configs": len(matrix.columns),
            "oracle": oracle}


def average_ranks(curves: dict[str, dict[str, np.ndarray]], datasets: list[str]) -> dict[str, np.ndarray]:
    """Per evaluation count, each method's rank among the methods by best-so-far regret (1 best, ties averaged),
    averaged over datasets."""
    from scipy.stats import rankdata

    stacked = np.stack([np.stack([curves[m][d] for d in datasets]) for m in METHODS])  # methods x datasets x t
    ranks = rankdata(stacked, axis=0, method="average")
    return {m: ranks[i].mean(axis=0) for i, m in enumerate(METHODS)}


def summarise(space: str, res: dict, log=print) -> dict:
    ds, ev = res["datasets"], res["evals"]
    log(f"\n{space}: {len(ds)} datasets, {res['configs']} configurations")
    log(f"  {'method':<10} {'median evals':>12} {'mean evals':>10} {'ours/it (median)':>17} {'ours <= it':>10}")
    out = {"datasets": len(ds), "configs": res["configs"], "methods": {}}
    for m in METHODS:
        e = np.array([ev[m][d] for d in ds], float)
        ratio = np.array([ev["ours"][d] / ev[m][d] for d in ds])
        better = float(np.mean([ev["ours"][d] <= ev[m][d] for d in ds]))
        out["methods"][m] = {"median_evals": float(np.median(e)), "mean_evals": float(e.mean()),
                             "median_ratio_ours": float(np.median(ratio)), "ours_at_most": better}
        log(f"  {m:<10} {np.median(e):>12.1f} {e.mean():>10.2f} {np.median(ratio):>17.2f} {better:>10.0%}")
    ours_median = float(np.median([ev["ours"][d] for d in ds]))
    peer = min(METHODS[1:], key=lambda m: out["methods"][m]["median_evals"])
    floor = float(np.median([res["oracle"][d] for d in ds]))
    out["oracle_median_evals"] = floor
    log(f"  oracle (each dataset's own scores, best first): median {floor:.1f} evaluations")
    print_ratios(out["methods"][peer]["median_evals"] / ours_median, f"{space}: median evaluations {peer} / ours",
                 ours_median / floor, f"{space}: median evaluations ours / oracle")
    ranks = average_ranks(res["curves"], ds)
    steps = [1] + list(range(5, HORIZON + 1, 5))
    log("  average rank by evaluations (1 = best of the four; ties share):")
    log("  " + f"{'evals':<10}" + "".join(f"{t:>6}" for t in steps))
    for m in METHODS:
        log("  " + f"{m:<10}" + "".join(f"{ranks[m][t - 1]:>6.2f}" for t in steps))
    out["average_rank"] = {m: [round(float(ranks[m][t - 1]), 3) for t in steps] for m in METHODS}
    out["average_rank_steps"] = steps
    out["_ranks"] = ranks
    return out


def _peak_rss_mib() -> float:
    """This process's peak RSS: VmHWM (per address space, so not the parent's: ru_maxrss carries the forking
    parent's high-water mark across exec on Linux, which made a fresh child look as large as the benchmark)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_child(queue):
    queue.put(_peak_rss_mib())


def _train_child(path, space, settings, queue):
    t0 = time.perf_counter()
    corpus = load_corpus(path)
    t1, c1 = time.perf_counter(), time.process_time()
    M.train(corpus, settings)
    queue.put({"load_s": t1 - t0, "train_s": time.perf_counter() - t1, "train_cpu_s": time.process_time() - c1,
               "peak_rss_mib": _peak_rss_mib()})


def _import_child(path, queue):
    import torch  # noqa: F401

    load_corpus(path)
    queue.put({"peak_rss_mib": _peak_rss_mib()})


def measure_training(path, space: str, settings: M.Settings) -> dict:
    """One training on the whole space in a fresh process: its time and peak RSS, and the RSS of a process that
    only imports torch and loads the corpus (what the training itself adds is the difference)."""
    ctx = mp.get_context("spawn")
    out = {}
    for key, target, args in (("train", _train_child, (path, space, settings)), ("idle", _import_child, (path,))):
        q = ctx.Queue()
        p = ctx.Process(target=target, args=(*args, q))
        p.start()
        out[key] = q.get()
        p.join()
    return {**out["train"], "baseline_rss_mib": out["idle"]["peak_rss_mib"]}


def plot(space: str, summary: dict, folder: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for m in METHODS:
        ax.plot(range(1, HORIZON + 1), summary["_ranks"][m], label=m)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("average rank (1 = best)")
    ax.set_title(f"recommender, space {space}")
    ax.legend()
    fig.tight_layout()
    path = folder / f"recommender-{space}.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=None, help="corpus folder (default: the shipped one)")
    ap.add_argument("--space", default="all", choices=[*SPACES, "all"])
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=20, help="random orders averaged per dataset")
    ap.add_argument("--epochs", type=int, default=None, help="override the encoder's default epochs")
    ap.add_argument("--png", default=None, help="folder for the average-rank PNGs (e.g. artifacts/)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    ap.add_argument("--no-measure", action="store_true", help="skip timing one full training")
    a = ap.parse_args(argv)
    corpus = load_corpus(a.corpus)
    print(f"corpus {corpus.version[:19]}: {len(corpus.datasets)} datasets, {len(corpus.configs)} configurations")
    spaces = SPACES if a.space == "all" else (a.space,)
    report = {"corpus": corpus.version, "folds": a.folds, "within": WITHIN, "spaces": {}}
    for space in spaces:
        if not (corpus.configs["space"] == space).any():
            print(f"\n{space}: not in this corpus, skipped")
            continue
        settings = M.Settings(space=space, **({"epochs": a.epochs} if a.epochs else {}))
        print(f"\n{space}: grouped {a.folds}-fold over datasets; encoder {settings}")
        res = evaluate(corpus, space, a.folds, a.seeds, settings)
        summary = summarise(space, res)
        if a.png:
            path = plot(space, summary, Path(a.png))
            if path:
                print(f"  curve: {path}")
        if not a.no_measure:
            m = measure_training(a.corpus, space, settings)
            print(f"  one training on all {summary['datasets']} datasets (CPU, {settings.threads} thread): "
                  f"{m['train_s']:.1f} s wall, {m['train_cpu_s']:.1f} s CPU, peak RSS {m['peak_rss_mib']:.0f} MiB (a process that only imports torch "
                  f"and loads the corpus: {m['baseline_rss_mib']:.0f} MiB)")
            summary["training"] = m
        summary.pop("_ranks")
        report["spaces"][space] = summary
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
