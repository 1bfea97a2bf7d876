"""Drift detection quality: false alarms and detection rates of our calibrated monitor against Evidently's default.

One reference of 200,000 rows x 20 features, drawn from known distributions: 15 continuous (4 normal, 2 lognormal,
2 Student-t(3), 2 uniform, 1 exponential, 2 bimodal mixtures, 1 Poisson(20) with ties, 1 normal with 10% missing)
and 5 categorical (3, 5 (one at 1%) and 8 text categories, a boolean, a 5-level integer). `build_profile` at its
defaults (window DEFAULT_WINDOW, alpha DEFAULT_ALPHA = 0.008) holds out 25,000 rows and keeps 175,000 as the reference.

Then streams of fresh windows of DEFAULT_WINDOW rows, each drawn anew from the generator:
- null: nothing changes (false alarms: a window where any feature alarms);
- mean shift of 0.1, 0.25, 0.5, 1 sd in ONE continuous feature (window i shifts feature i mod 15, so every
  distribution family is shifted equally often; the Poisson feature moves by whole numbers, floor(delta) plus a
  Bernoulli(frac(delta)), so it stays integer-valued);
- variance change: one continuous feature's spread x1.25 around its mean (Poisson: rounded);
- category frequency change: in one categorical feature, 10 points of probability move from the most to the least
  frequent category;
- concept drift: the label's dependence on the inputs flips, the inputs keep their distribution. An input-drift
  monitor must not fire more than on the null stream: performance monitoring (labels) is what catches it.

Ours: `drift.check_window` on every window. Evidently: its default `DataDriftPreset()` (own column types; Wasserstein
distance for numeric and Jensen-Shannon for categorical columns at this reference size, threshold 0.1; the dataset
is drifted when >= 50% of the columns are) on fewer windows (~10 s per window here, ~500x slower); we report both its dataset verdict
and whether it flagged the changed column.

A quality benchmark, so its ratios are scores (tests/bench/_floor.py): score = the mean share of windows whose changed
feature alarmed over the change streams, times (1 - the null stream's alarm rate); peer ratio ours / Evidently's
default, floor ratio ours / the ideal detector (every change found, no false alarm: score 1).

Run: .venv/bin/python -m tests.bench.bench_drift_quality [--null 4000 --windows 450 --evidently 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tests.bench._floor import print_ratios

CONT = ["normal_a", "normal_b", "normal_c", "normal_d", "lognormal_a", "lognormal_b", "t3_a", "t3_b", "uniform_a",
        "uniform_b", "exponential", "bimodal_a", "bimodal_b", "poisson", "normal_missing"]
CAT = ["color", "region", "plan", "flag", "level"]
CAT_P = {"color": (["red", "green", "blue"], [0.5, 0.3, 0.2]),
         "region": (["north", "south", "east", "west", "island"], [0.4, 0.3, 0.15, 0.14, 0.01]),
         "plan": ([f"plan{i}" for i in range(8)], list(np.linspace(2, 1, 8) / np.linspace(2, 1, 8).sum())),
         "flag": ([False, True], [0.7, 0.3]),
         "level": ([0, 1, 2, 3, 4], [0.1, 0.2, 0.4, 0.2, 0.1])}
LN = {"lognormal_a": (0.0, 0.5), "lognormal_b": (1.0, 0.8)}


def _sd(name: str) -> float:
    if name.startswith("normal"):
        return {"normal_a": 1.0, "normal_b": 2.0, "normal_c": 0.5, "normal_d": 10.0, "normal_missing": 1.0}[name]
    if name in LN:
        m, s = LN[name]
        return math.sqrt((math.exp(s * s) - 1) * math.exp(2 * m + s * s))
    if name.startswith("t3"):
        return math.sqrt(3) * (1.0 if name == "t3_a" else 4.0)
    if name.startswith("uniform"):
        return (1.0 if name == "uniform_a" else 100.0) / math.sqrt(12)
    if name == "exponential":
        return 2.0
    if name.startswith("bimodal"):
        return math.sqrt(0.25 + 1.0) * (1.0 if name == "bimodal_a" else 3.0)
    return math.sqrt(20.0)  # poisson


@dataclass
class Change:
    kind: str  # none | shift | scale | category | concept
    feature: str | None = None
    size: float = 0.0


def sample(n: int, rng: np.random.Generator, change: Change = Change("none")) -> pd.DataFrame:
    d: dict[str, object] = {}
    d["normal_a"] = rng.normal(0, 1, n)
    d["normal_b"] = rng.normal(5, 2, n)
    d["normal_c"] = rng.normal(-3, 0.5, n)
    d["normal_d"] = rng.normal(100, 10, n)
    for name, (m, s) in LN.items():
        d[name] = rng.lognormal(m, s, n)
    d["t3_a"] = rng.standard_t(3, n)
    d["t3_b"] = 10 + 4 * rng.standard_t(3, n)
    d["uniform_a"] = rng.uniform(0, 1, n)
    d["uniform_b"] = rng.uniform(-50, 50, n)
    d["exponential"] = rng.exponential(2, n)
    for name, scale in (("bimodal_a", 1.0), ("bimodal_b", 3.0)):
        d[name] = scale * (rng.normal(0, 0.5, n) + np.where(rng.random(n) < 0.5, -1.0, 1.0))
    d["poisson"] = rng.poisson(20, n).astype(np.int64)
    x = rng.normal(0, 1, n)
    x[rng.random(n) < 0.1] = np.nan
    d["normal_missing"] = x
    for name in CAT:
        values, p = CAT_P[name]
        p = np.array(p, dtype=float)
        if change.kind == "category" and change.feature == name:
            hi, lo = int(np.argmax(p)), int(np.argmin(p))
            p[hi] -= change.size
            p[lo] += change.size
        d[name] = np.array(values, dtype=object)[rng.choice(len(values), size=n, p=p)]
    d["flag"] = d["flag"].astype(bool)
    d["level"] = d["level"].astype(np.int64)
    if change.kind == "shift":
        delta = change.size * _sd(change.feature)
        if change.feature == "poisson":  # stay on the integers: add floor(delta) + Bernoulli(frac(delta))
            d["poisson"] = d["poisson"] + int(delta) + (rng.random(n) < delta - int(delta))
        else:
            d[change.feature] = d[change.feature] + delta
    elif change.kind == "scale":
        col = np.asarray(d[change.feature], dtype=float)
        mean = np.nanmean(col)
        col = mean + (col - mean) * change.size
        d[change.feature] = np.round(col).astype(np.int64) if change.feature == "poisson" else col
    frame = pd.DataFrame(d)
    # the label (not given to the drift monitor): concept drift flips its dependence on the inputs
    w = -1.0 if change.kind == "concept" else 1.0
    frame.attrs["label"] = (w * (frame["normal_a"] + 0.5 * (frame["color"] == "red")) + rng.normal(0, 1, n) > 0)
    return frame


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    z = 1.96
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{100 * k / n:5.1f}% ({k}/{n}, 95% CI {100 * lo:.1f}-{100 * hi:.1f})" if n else "-"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", type=int, default=200_000)
    ap.add_argument("--null", type=int, default=4000, help="null windows for ours")
    ap.add_argument("--windows", type=int, default=450, help="windows per change for ours")
    ap.add_argument("--evidently", type=int, default=5,
                    help="windows per stream for Evidently's default preset (twice as many for the null stream)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from jupyter_mlp_backend.monitoring import drift

    rng = np.random.default_rng(args.seed)
    frame = sample(args.reference, rng)
    t0 = time.perf_counter()
    profile = drift.build_profile(frame, seed=args.seed)
    n = profile.window_size
    print(f"reference {args.reference:,} rows x {len(frame.columns)} features; build_profile "
          f"{time.perf_counter() - t0:.1f} s; window {n} rows (DEFAULT_WINDOW), alpha {profile.method['alpha']}, "
          f"per-feature level {profile.method['per_feature_level']:.2e}; reference {profile.reference_rows:,} rows, "
          f"{profile.method['held_out_rows']:,} held out")
    lowered = [f for f, m in profile.method["per_feature"].items() if m.get("lowered")]
    print(f"KS thresholds lowered by the held-out check: {lowered or 'none'}; PSI thresholds: " + ", ".join(
        f"{f} {profile.thresholds[f]:.4f} ({profile.method['per_feature'][f]['chosen']})" for f in CAT))
    ev_reference = profile.reference_frame()

    streams: list[tuple[str, list[Change]]] = [("null (no change)", [Change("none")])]
    for size in (0.1, 0.25, 0.5, 1.0):
        streams.append((f"mean shift {size:g} sd, one feature", [Change("shift", f, size) for f in CONT]))
    streams.append(("variance x1.25, one feature", [Change("scale", f, 1.25) for f in CONT]))
    streams.append(("category frequency 10 pts, one feature", [Change("category", f, 0.10) for f in CAT]))
    streams.append(("concept drift (inputs unchanged)", [Change("concept")]))

    rows = []
    family_hits: dict[str, Counter] = {}
    null_features: Counter = Counter()
    ours_time = ev_time = 0.0
    ev_calls = 0
    for title, changes in streams:
        count = args.null if title.startswith("null") else args.windows
        alarms = right = 0
        fam: Counter = Counter()
        fam_n: Counter = Counter()
        for i in range(count):
            ch = changes[i % len(changes)]
            w = sample(n, rng, ch)
            t0 = time.perf_counter()
            res = drift.check_window(profile, w)
            ours_time += time.perf_counter() - t0
            flagged = [r.feature for r in res.features if r.drift]
            alarms += bool(flagged)
            if ch.feature is not None:
                right += ch.feature in flagged
                family = ch.feature.rsplit("_", 1)[0] if ch.kind != "category" else ch.feature
                fam_n[family] += 1
                fam[family] += ch.feature in flagged
            elif title.startswith("null"):
                null_features.update(flagged)
        family_hits[title] = Counter({f: (fam[f], fam_n[f]) for f in fam_n})
        ev_alarm = ev_right = 0
        ev_count = min(count, args.evidently * (2 if title.startswith("null") else 1))
        for i in range(ev_count):
            ch = changes[(i * 7) % len(changes)]
            w = sample(n, rng, ch)
            t0 = time.perf_counter()
            dataset_drift, cols = drift._evidently_default(ev_reference, w)
            ev_time += time.perf_counter() - t0
            ev_calls += 1
            ev_alarm += dataset_drift
            ev_right += ch.feature in cols if ch.feature else 0
        rows.append((title, count, alarms, right, ev_count, ev_alarm, ev_right))
        print(f"  {title}: done ({count} windows ours, {ev_count} Evidently)", flush=True)

    print()
    print(f"window = {n} rows; ours = any feature alarms; 'right feature' = the changed feature alarmed")
    print(f"{'stream':42s} {'ours: window alarms':38s} {'ours: right feature':38s} "
          f"{'Evidently default: dataset drift':36s} {'Evidently: changed column flagged'}")
    for title, count, alarms, right, ev_count, ev_alarm, ev_right in rows:
        has_feature = "shift" in title or "variance" in title or "category" in title
        print(f"{title:42s} {rate(alarms, count):38s} {rate(right, count) if has_feature else '-':38s} "
              f"{rate(ev_alarm, ev_count):36s} {rate(ev_right, ev_count) if has_feature else '-'}")
    print()
    for title in ("mean shift 0.1 sd, one feature", "mean shift 0.25 sd, one feature", "variance x1.25, one feature",
                  "category frequency 10 pts, one feature"):
        hits = family_hits[title]
        print(f"{title}, right feature by family: " + ", ".join(
            f"{f} {100 * k / m:.0f}%" for f, (k, m) in sorted(hits.items())))
    print(f"null stream: alarms by feature: {dict(null_features) or 'none'}")
    print(f"time per window: ours {1000 * ours_time / sum(r[1] for r in rows):.1f} ms, "
          f"Evidently default {ev_time / max(ev_calls, 1):.2f} s")
    null = rows[0]
    shift = next(r for r in rows if r[0].startswith("mean shift 0.25"))
    print(f"targets: false alarms <= 1% per window: {100 * null[2] / null[1]:.2f}% "
          f"({'met' if null[2] <= 0.01 * null[1] else 'NOT met'}); 0.25 sd shift detected >= 95%: "
          f"{100 * shift[2] / shift[1]:.1f}% ({'met' if shift[2] >= 0.95 * shift[1] else 'NOT met'})")
    # A quality benchmark: its floor is the ideal detector (every changed feature found, no false alarm), score 1.
    changed = [r for r in rows if "shift" in r[0] or "variance" in r[0] or "category" in r[0]]
    ours_score = statistics.mean(r[3] / r[1] for r in changed) * (1 - null[2] / null[1])
    ev_score = statistics.mean(r[6] / r[4] for r in changed) * (1 - null[5] / max(null[4], 1))
    print(f"score = mean share of windows whose changed feature alarmed, over the {len(changed)} change streams, "
          f"x (1 - null alarm rate): ours {ours_score:.3f}, Evidently default {ev_score:.3f} (changed column flagged; "
          f"null: dataset drift), ideal detector 1")
    print_ratios(ours_score / ev_score if ev_score else None, "score ours / Evidently default", ours_score,
                 "score ours / ideal detector")


if __name__ == "__main__":
    main()
