"""Drift check speed: our cached check (`drift.check_window`) against Evidently running the same tests.

Reference: 1,000,000 rows x 100 float64 columns (70 continuous of mixed distributions, 30 categorical: float codes
with 3-8 values). `build_profile` holds out 20% of the rows (at most 25 windows' worth, here 25,000) and keeps the
rest (975,000) as the reference; its time is reported separately (it runs once per model version).
Current window: 100,000 rows, drift in 10 columns (mean shifts, a variance change, category frequency changes).

Timed, alternating, median of the rounds after a warm-up:
- ours: `check_window(profile, window)` (KS from the cached sorted reference, PSI from cached counts);
- Evidently: `evidently_check(profile, window)`, i.e. `Report([DataDriftPreset(per_column_method=...,
  per_column_threshold=...)])` on `profile.reference_frame()` vs the window, with the same tests and thresholds.
  Building the reference frame from the profile is not counted for Evidently (it is done once, outside the timing).
- floor: the least work any exact check on the cached profile must do, in bare numpy on the same arrays: per KS
  column, sort the window's values and place them once in the cached sorted reference (`np.searchsorted`, no
  p-value); per PSI column, count the window's category codes (`np.bincount`). Timed in the same rounds, three
  times each beside three more runs of ours (the floor ratio is the median of those pairs).
Verdicts and statistics are compared per column. Printed: the peer ratio (Evidently / ours) and the floor ratio
(ours / floor) on a `ratios:` line (tests/bench/_floor.py).

Run: .venv/bin/python -m tests.bench.bench_drift_speed [--rows 1000000 --cols 100 --window 100000 --rounds 2]
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import time

import numpy as np
import pandas as pd

from tests.bench._floor import print_ratios


def make_frame(rows: int, cols: int, rng: np.random.Generator, *, shift: bool = False) -> pd.DataFrame:
    """`cols` float64 columns: 70% continuous (normal, lognormal, t3, uniform, integer-valued), 30% categorical."""
    n_cont = int(round(cols * 0.7))
    data: dict[str, np.ndarray] = {}
    for j in range(cols):
        name = f"f{j:03d}"
        if j < n_cont:
            family = j % 5
            if family == 0:
                x = rng.normal(10 + j, 1 + j % 3, rows)
            elif family == 1:
                x = rng.lognormal(0, 0.5, rows)
            elif family == 2:
                x = rng.standard_t(3, rows)
            elif family == 3:
                x = rng.uniform(0, 1, rows)
            else:
                x = rng.poisson(40, rows).astype(np.float64)
            if shift and j in (0, 1, 2, 3, 4, 10):  # mean shifts (0.25-0.5 sd)
                x = x + (0.5 if j < 5 else 0.25) * x.std()
            if shift and j == 7:  # variance change
                x = x.mean() + (x - x.mean()) * 1.5
        else:
            c = n_cont
            k = 3 + (j - c) % 6
            p = np.linspace(2, 1, k)
            p /= p.sum()
            if shift and j in (c, c + 1, c + 2):
                p = p[::-1]
            x = rng.choice(k, size=rows, p=p).astype(np.float64)
        data[name] = x
    return pd.DataFrame(data)


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=100)
    ap.add_argument("--window", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    from jupyter_mlp_backend.monitoring import drift

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    frame = make_frame(args.rows, args.cols, rng)
    window = make_frame(args.window, args.cols, rng, shift=True)
    print(f"data: reference frame {args.rows:,} x {args.cols} float64, window {args.window:,} rows "
          f"({time.perf_counter() - t0:.1f} s to generate)")

    t0 = time.perf_counter()
    profile = drift.build_profile(frame)
    build = time.perf_counter() - t0
    kinds = list(profile.kinds.values())
    print(f"build_profile: {build:.1f} s ({kinds.count(drift.CONTINUOUS)} KS, {kinds.count(drift.CATEGORICAL)} PSI; "
          f"reference {profile.reference_rows:,} rows, {profile.method['held_out_rows']:,} held out)")
    del frame
    gc.collect()

    # Evidently's reference: built once from the profile, outside the timing
    ref_frame = profile.reference_frame()
    profile.reference_frame = lambda columns=None: ref_frame if columns is None else ref_frame[columns]  # type: ignore[method-assign]

    floor_cols = [(profile.values[f], window[f].to_numpy()) if profile.tests[f] == drift.KS
                  else (None, window[f].to_numpy()) for f in profile.features]

    def floor() -> int:
        placed = 0
        for ref, x in floor_cols:
            if ref is None:
                placed += int(np.bincount(x.astype(np.int64)).size)
            else:
                placed += int(np.searchsorted(ref, np.sort(x))[-1])
        return placed

    ours_t, theirs_t, floor_t = [], [], []
    ours = theirs = None
    for r in range(args.rounds + 1):  # round 0 warms both (imports, caches) and is not counted
        t0 = time.perf_counter()
        ours = drift.check_window(profile, window)
        a = time.perf_counter() - t0
        t0 = time.perf_counter()
        theirs = drift.evidently_check(profile, window)
        b = time.perf_counter() - t0
        # ours and the floor are cheap beside Evidently: three more pairs each round, alternating, so the floor
        # ratio is a median of pairs measured seconds apart rather than one pair minutes apart
        pairs = []
        for _ in range(3):
            t0 = time.perf_counter()
            floor()
            c = time.perf_counter() - t0
            t0 = time.perf_counter()
            drift.check_window(profile, window)
            pairs.append((time.perf_counter() - t0, c))
        c = statistics.median(p[1] for p in pairs)
        print(f"  round {r}: ours {a:.2f} s, Evidently {b:.2f} s, floor {c:.3f} s (ours "
              f"{statistics.median(p[0] for p in pairs):.2f} s beside it){'  (warm-up)' if r == 0 else ''}")
        if r:
            ours_t.append(a)
            theirs_t.append(b)
            floor_t.extend(pairs)
    assert ours is not None and theirs is not None
    same_verdicts = [x.feature for x, y in zip(ours.features, theirs.features) if x.drift != y.drift]
    rel = max(abs(x.statistic - y.statistic) / max(abs(y.statistic), 1e-300)
              for x, y in zip(ours.features, theirs.features) if x.statistic is not None)
    drifted = [x.feature for x in ours.features if x.drift]
    o, e = statistics.median(ours_t), statistics.median(theirs_t)
    fo, fl = statistics.median(p[0] for p in floor_t), statistics.median(p[1] for p in floor_t)
    print(f"median of {args.rounds} rounds: ours {o:.2f} s, Evidently {e:.2f} s, ratio Evidently / ours {e / o:.1f}x; "
          f"floor (bare searchsorted + bincount) {fl:.3f} s beside ours {fo:.2f} s ({len(floor_t)} pairs), "
          f"ours / floor {fo / fl:.2f}x")
    print(f"verdicts identical for every column: {not same_verdicts} "
          f"({len(ours.features)} columns; differing: {same_verdicts or 'none'}); "
          f"largest relative statistic difference {rel:.1e}")
    print(f"drift found in {len(drifted)} columns: {', '.join(drifted)}; window status {ours.status}")
    print(f"peak RSS {rss_gb():.1f} GB")
    print_ratios(e / o, "Evidently / ours", fo / fl, "ours / bare numpy searchsorted + bincount")


if __name__ == "__main__":
    main()
