"""Building a reference profile from training data: features classified, the reference and held-out rows drawn,
and one threshold per feature calibrated so that a window without drift alarms at most ``alpha`` of the time."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .profile import ReferenceProfile
from .stats import (CALIBRATION_WINDOWS, CATEGORICAL, CONTINUOUS, DEFAULT_ALPHA, DEFAULT_WINDOW, HOLDOUT_MAX_WINDOWS,
                    HOLDOUT_SHARE, KS, KS_EXACT_MAX_N, MAX_CATEGORIES, MAX_DISCRETE_VALUES, MIN_VALUES, MIN_WINDOW_SHARE,
                    PSI, PSI_SIMULATIONS, _ks_distance, _ks_pvalue, _psi_counts, _psi_rows)


def _category_type(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        return "float"
    kinds = {type(v) for v in values.unique()}
    if kinds <= {str}:
        return "str"
    if kinds <= {bool, np.bool_}:
        return "bool"
    if all(issubclass(k, (int, np.integer)) and not issubclass(k, (bool, np.bool_)) for k in kinds):
        return "int"
    if all(issubclass(k, (int, float, np.integer, np.floating)) and not issubclass(k, (bool, np.bool_))
           for k in kinds):
        return "float"
    return "mixed"


def _clean_categorical(col: pd.Series, ctype: str | None) -> pd.Series:
    """The values Evidently tests: +-inf and missing dropped; a 'mixed' feature compares values as text."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    if pd.api.types.is_float_dtype(col):
        col = col[np.isfinite(col.to_numpy(dtype=np.float64, na_value=np.nan))]
    elif col.dtype == object:
        col = col.replace([-np.inf, np.inf], np.nan).dropna()
    else:
        col = col.dropna()
    if ctype == "mixed":
        col = col.astype(str)
    return col


def _category_array(values: list, ctype: str) -> np.ndarray:
    if ctype == "bool":
        return np.array(values, dtype=bool)
    if ctype == "int":
        return np.array(values, dtype=np.int64)
    if ctype == "float":
        return np.array(values, dtype=np.float64)
    return np.array([str(v) for v in values], dtype=object)


def _holdout_windows(n_hold: int, size: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [np.sort(rng.choice(n_hold, size=size, replace=False)) for _ in range(count)]


def build_profile(frame: pd.DataFrame, *, window_size: int = DEFAULT_WINDOW, alpha: float = DEFAULT_ALPHA,
                  categorical: list[str] | None = None, seed: int = 0,
                  max_reference_rows: int = 1_000_000) -> ReferenceProfile:
    """Profile ``frame`` (the training data) and calibrate one threshold per feature.

    Rows are shuffled (``seed``); up to 20% of them (at most 25 windows' worth) are held out, the rest (at most
    ``max_reference_rows``) are the reference. With k tested features, each gets level alpha/k (Bonferroni), so a
    window drawn without drift alarms on any feature with probability at most ~alpha:

    - KS: the p-value threshold is alpha/k; the held-out rows give 200 windows, and if more of them alarm than a
      binomial(200, alpha/k) count allows at the 0.1% level, the threshold is lowered until that many do;
    - PSI: the largest of (a) the chi-square approximation chi2_{B-1}.isf(alpha/k) * (1/n_ref + 1/n) (B categories,
      n the non-null values expected in a window), (b) the 1 - alpha/k quantile of 20,000 simulated null pairs
      (reference ~ Multinomial(n_ref, p), window ~ Multinomial(n, p), PSI exactly as Evidently computes it, zero
      replacement included), (c) just above the largest PSI of the held-out windows.
    """
    if window_size < 1:
        raise ValueError("window_size must be at least 1")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise ValueError("the frame has duplicate column names")
    categorical = {str(c) for c in (categorical or [])}
    unknown = categorical - set(names)
    if unknown:
        raise ValueError(f"categorical names columns the frame lacks: {sorted(unknown)}")
    n = len(frame)
    if n < 2 * MIN_VALUES:
        raise ValueError(f"a reference needs at least {2 * MIN_VALUES} rows, got {n}")

    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_hold = min(int(n * HOLDOUT_SHARE), HOLDOUT_MAX_WINDOWS * window_size)
    hold_size = min(window_size, n_hold // 2)
    if hold_size < MIN_VALUES:
        n_hold, hold_size = 0, 0
    hold_idx = np.sort(perm[:n_hold])
    ref_idx = np.sort(perm[n_hold:n_hold + max_reference_rows])
    n_ref = ref_idx.size
    windows = _holdout_windows(n_hold, hold_size, CALIBRATION_WINDOWS, rng) if n_hold else []

    # kinds and cached reference statistics
    kinds: dict[str, str] = {}
    ignored: dict[str, str] = {}
    values: dict[str, np.ndarray] = {}
    categories: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    ctypes: dict[str, str] = {}
    held: dict[str, Any] = {}
    for name, col in zip(names, (frame.iloc[:, i] for i in range(frame.shape[1]))):
        dtype = col.dtype
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            ignored[name] = "date and time columns are not tested for drift"
            continue
        if pd.api.types.is_complex_dtype(dtype):
            ignored[name] = "complex numbers are not tested for drift"
            continue
        numeric = (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
                   and not isinstance(dtype, pd.CategoricalDtype))
        if numeric and name not in categorical:
            raw = col.to_numpy(dtype=np.float64, na_value=np.nan)
            ref = raw[ref_idx]
            ref = np.sort(ref[np.isfinite(ref)])
            if ref.size < MIN_VALUES:
                ignored[name] = f"only {ref.size} non-missing values in the reference (at least {MIN_VALUES} needed)"
                continue
            distinct = 1 + int(np.count_nonzero(np.diff(ref)))
            if distinct > MAX_DISCRETE_VALUES:
                kinds[name], values[name] = CONTINUOUS, ref
                held[name] = raw[hold_idx]
                continue
        # categorical
        ref_s = col.iloc[ref_idx].reset_index(drop=True)
        ctype = _category_type(_clean_categorical(ref_s, None))
        clean = _clean_categorical(ref_s, ctype)
        if clean.size < MIN_VALUES:
            ignored[name] = f"only {clean.size} non-missing values in the reference (at least {MIN_VALUES} needed)"
            continue
        vc = clean.value_counts(sort=True)
        vc = vc[vc > 0]
        if vc.size > MAX_CATEGORIES:
            ignored[name] = f"{vc.size} distinct values: more than {MAX_CATEGORIES} categories are not tested"
            continue
        kinds[name] = CATEGORICAL
        categories[name] = _category_array(vc.index.tolist(), ctype)
        counts[name] = vc.to_numpy(dtype=np.int64)
        ctypes[name] = ctype
        held[name] = col.iloc[hold_idx].reset_index(drop=True)

    features = [f for f in names if f in kinds]
    k = len(features)
    level = alpha / max(k, 1)
    profile = ReferenceProfile(features=features, kinds=kinds,
                               tests={f: KS if kinds[f] == CONTINUOUS else PSI for f in features},
                               thresholds={}, window_size=int(window_size), method={}, reference_rows=int(n_ref),
                               ignored=ignored, values=values, categories=categories, counts=counts,
                               category_types=ctypes)
    per_feature: dict[str, dict] = {}
    for f in features:
        nonnull = profile.nonnull_rows(f)
        expected = max(1.0, window_size * nonnull / n_ref)
        profile.expected_values[f] = float(expected)
        share = MIN_WINDOW_SHARE[profile.tests[f]]
        profile.min_values[f] = int(max(MIN_VALUES, math.ceil(share * expected)))
        if kinds[f] == CONTINUOUS:
            profile.thresholds[f], per_feature[f] = _calibrate_ks(values[f], held[f], windows, level,
                                                                  profile.min_values[f])
        else:
            profile.thresholds[f], per_feature[f] = _calibrate_psi(profile, f, held[f], windows, level, rng)

    profile.method = {
        "alpha": alpha,
        "meaning": "a window of window_size rows drawn without drift alarms on any feature at most ~alpha of the time",
        "correction": "Bonferroni: each of the k tested features at level alpha / k",
        "features_tested": k,
        "per_feature_level": level,
        "window_size": int(window_size),
        "seed": seed,
        "rows": n,
        "reference_rows": int(n_ref),
        "held_out_rows": int(n_hold),
        "held_out_windows": len(windows),
        "held_out_window_rows": int(hold_size),
        "ks": ("two-sample Kolmogorov-Smirnov p-value (scipy ks_2samp, mode 'auto'); drift when p <= threshold; "
               "threshold = alpha / k, lowered if more held-out windows alarm than binomial(windows, alpha / k) "
               "allows at the 0.1% level"),
        "psi": ("PSI over categories seen in either sample (Evidently's formula and zero replacement); drift when "
                "psi >= threshold; threshold at window_size = max(chi2.isf(alpha / k, B - 1) * (1 / n_ref + 1 / n), "
                f"1 - alpha / k quantile of {PSI_SIMULATIONS} simulated null pairs, just above the largest held-out "
                "PSI); for a window with m non-null values it is scaled by (1 / n_ref + 1 / m) / (1 / n_ref + 1 / n)"),
        "min_values": (f"a feature needs max({MIN_VALUES}, s x the non-null values a window of window_size holds) "
                       f"non-null values in a window, else 'insufficient data'; s = {MIN_WINDOW_SHARE[KS]:g} for KS "
                       f"(its p-value holds at any size), {MIN_WINDOW_SHARE[PSI]:g} for PSI (whose threshold is also "
                       "calibrated at that smallest size and scaled between the two)"),
        "per_feature": per_feature,
    }
    return profile


def _calibrate_ks(ref: np.ndarray, held: np.ndarray, windows: list[np.ndarray], level: float,
                  min_values: int) -> tuple[float, dict]:
    from scipy.stats import binom

    info: dict[str, Any] = {"test": KS, "nominal": level, "held_out_windows": 0, "held_out_alarms": 0,
                            "lowered": False}
    ps: list[float] = []
    for idx in windows:
        x = held[idx]
        x = np.sort(x[np.isfinite(x)])
        if x.size < min_values:
            continue
        info["held_out_windows"] += 1
        p = _ks_pvalue(ref, x, _ks_distance(ref, x) if max(ref.size, x.size) > KS_EXACT_MAX_N else None,
                       below=level)
        if p is not None:
            ps.append(p)
    threshold = level
    w = info["held_out_windows"]
    alarms = sorted(p for p in ps if p <= level)
    info["held_out_alarms"] = len(alarms)
    if w:
        allowed = int(binom.isf(0.001, w, level))  # the most alarms a correct level leaves likely
        if len(alarms) > allowed:
            threshold = float(np.nextafter(alarms[allowed], 0))
            info["lowered"] = True
            info["held_out_alarms_after"] = allowed
    info["threshold"] = threshold
    return threshold, info


def _calibrate_psi(profile: ReferenceProfile, f: str, held: pd.Series, windows: list[np.ndarray], level: float,
                   rng: np.random.Generator) -> tuple[float, dict]:
    from scipy.stats import chi2

    ref_counts = profile.counts[f]
    n_ref = int(ref_counts.sum())
    b = ref_counts.size
    n_cal = profile.expected_values[f]
    scale = 1 / n_ref + 1 / n_cal
    approx = float(chi2.isf(level, max(b - 1, 1)) * scale)

    simulated = _simulated_psi(ref_counts, max(1, int(round(n_cal))), level, rng)

    # held-out windows, scaled to the calibrated size
    worst, used = 0.0, 0
    if windows:
        vals = _clean_categorical(held, profile.category_types[f])  # keeps held's positional index
        codes_all = np.full(held.size, -1, dtype=np.int64)
        lookup = dict(profile._lookup(f))
        codes_all[vals.index.to_numpy()] = [lookup.setdefault(v, len(lookup)) for v in vals.tolist()]
        width = len(lookup)
        ref_ext = np.zeros(width, dtype=np.int64)
        ref_ext[:b] = ref_counts
        for idx in windows:
            codes = codes_all[idx]
            codes = codes[codes >= 0]
            if codes.size < profile.min_values[f]:
                continue
            used += 1
            psi = _psi_counts(ref_ext, np.bincount(codes, minlength=width))
            worst = max(worst, psi * scale / (1 / n_ref + 1 / codes.size))
    floor = float(np.nextafter(worst, np.inf)) if used else 0.0
    threshold = max(approx, simulated, floor)
    chosen = "chi-square" if threshold == approx else "simulation" if threshold == simulated else "held-out maximum"
    # the smallest window still tested: chi-square and simulation at that size
    n_lo = profile.min_values[f]
    small = max(float(chi2.isf(level, max(b - 1, 1)) * (1 / n_ref + 1 / n_lo)),
                _simulated_psi(ref_counts, n_lo, level, rng))
    profile.small_thresholds[f] = small
    return threshold, {"test": PSI, "categories": b, "window_values": n_cal, "chi_square": approx,
                       "simulated": simulated, "held_out_windows": used, "held_out_max": worst,
                       "threshold": threshold, "chosen": chosen,
                       "smallest_window_values": n_lo, "smallest_window_threshold": small}


def _simulated_psi(ref_counts: np.ndarray, m: int, level: float, rng: np.random.Generator) -> float:
    """The 1 - level quantile of PSI between a reference ~ Multinomial(n_ref, p) and a window ~ Multinomial(m, p),
    p the reference frequencies (PSI_SIMULATIONS pairs)."""
    n_ref = int(ref_counts.sum())
    p = ref_counts / n_ref
    sims: list[np.ndarray] = []
    chunk = max(1, 2_000_000 // ref_counts.size)
    left = PSI_SIMULATIONS
    while left > 0:
        s = min(chunk, left)
        sims.append(_psi_rows(rng.multinomial(n_ref, p, size=s), n_ref, rng.multinomial(m, p, size=s), m))
        left -= s
    return float(np.quantile(np.concatenate(sims), 1 - level, method="higher"))
