"""Drift statistics for monitoring: a reference profile per model version, calibrated thresholds, and a fast
per-window check whose numbers equal Evidently's for the same tests.

Tests (the same two Evidently implements as "ks" and "psi"):

- continuous features: two-sample Kolmogorov-Smirnov, statistic = its p-value (scipy's ``ks_2samp`` in 'auto'
  mode, as Evidently calls it), drift when ``p <= threshold``;
- categorical features: PSI over the categories seen in either sample, zero frequencies replaced the way
  Evidently's ``get_binned_data`` does, drift when ``psi >= threshold``.

NaN and +-inf are dropped on both sides before testing (as Evidently does). The reference keeps, per continuous
feature, its sorted finite values and, per categorical feature, its categories and counts; a window is then tested
with binary searches and one count per category instead of re-sorting the reference.

Thresholds are calibrated so that a window of ``window_size`` rows drawn without drift alarms on any feature at
most ``alpha`` of the time (Bonferroni over the features; see ``build_profile`` and docs/monitoring.md).

Only numpy and pandas are imported here; scipy and Evidently are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CONTINUOUS, CATEGORICAL = "continuous", "categorical"
KS, PSI = "ks", "psi"

#: Rows per monitoring window. At 1000 rows a 0.25 sigma mean shift in one of 20 features is detected in ~100% of
#: windows at <= 1% false alarms per window (tests/bench/bench_drift_quality.py); smaller windows lose power fast
#: (about 93% at 500 rows for a normal feature).
DEFAULT_WINDOW = 1000
# The promise is at most 1% false alarms per window. Bonferroni's bound is met almost with equality (KS p-values
# of a continuous feature are uniform under no drift: 20 features at 0.05% each alarm 0.995% of windows), so the
# thresholds are calibrated at 0.8%, which keeps measured false alarms below 1% and costs no detection at 0.25σ.
DEFAULT_ALPHA = 0.008

MAX_DISCRETE_VALUES = 10  # a numeric column with at most this many distinct values is categorical
MAX_CATEGORIES = 1000  # a categorical column with more distinct values is not tested (ids, free text)
MIN_VALUES = 30  # a feature needs at least this many non-null values in a window (and in the reference)
MIN_WINDOW_SHARE = {"ks": 0.1, "psi": 0.5}  # ... and this share of the non-null values a full window holds
HOLDOUT_SHARE = 0.2  # rows of the frame held out from the reference to check the thresholds
HOLDOUT_MAX_WINDOWS = 25  # at most this many windows' worth of rows are held out
CALIBRATION_WINDOWS = 200  # windows drawn from the held-out rows
PSI_SIMULATIONS = 20_000  # simulated null windows per categorical feature
KS_EXACT_MAX_N = 10_000  # scipy's ks_2samp 'auto' mode: exact p-value when both samples are at most this big
_KS_SHORTCUT_P = 0.02  # below this, a calibration p-value must be computed; above it "not an alarm" is enough
_FORMAT = 1


# --- statistics --------------------------------------------------------------------------------------------------

def _ks_distance(ref: np.ndarray, xs: np.ndarray) -> float:
    """The two-sided KS distance of sorted samples, bit for bit the value ``scipy.stats.ks_2samp`` computes.

    scipy evaluates ECDF(ref) - ECDF(win) at every point of both samples. The difference only falls where the window
    ECDF jumps, so its minimum is at a window point; between two window points it rises with the reference ECDF, so
    its maximum is at the last reference point before a window point (or at a window point). Both need only binary
    searches of the window's points, and each candidate is the same ``a / n1 - b / n2`` scipy forms from the same
    counts, hence the same float."""
    n1, n2 = ref.size, xs.size
    at = np.searchsorted(ref, xs, side="right") / n1 - np.searchsorted(xs, xs, side="right") / n2
    below = np.searchsorted(ref, xs, side="left") / n1 - np.searchsorted(xs, xs, side="left") / n2
    max_s = max(float(at.max()), float(below.max()))
    min_s = float(np.clip(-at.min(), 0, 1))
    return min_s if min_s > max_s else max_s


def _ks_pvalue(ref: np.ndarray, xs: np.ndarray, d: float | None = None, *, below: float | None = None) -> float | None:
    """``ks_2samp(ref, xs).pvalue`` for sorted finite samples: scipy's own call in its exact mode (both samples at
    most 10,000, where it is cheap), else its asymptotic formula ``kstwo.sf(d, round(n1 n2 / (n1 + n2)))`` on the
    distance above. With ``below`` (calibration only), None stands for "a p-value of at least 0.0224", which needs
    no evaluation when ``below`` is under 0.02 (scipy's own series bound: n d^2 < 2.2)."""
    n1, n2 = ref.size, xs.size
    if max(n1, n2) <= KS_EXACT_MAX_N:
        from scipy.stats import ks_2samp

        return float(ks_2samp(ref, xs).pvalue)
    if d is None:
        d = _ks_distance(ref, xs)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = np.round(m * n / (m + n))
    if below is not None and below < _KS_SHORTCUT_P and en > 140 and en * d * d < 2.2:
        return None
    from scipy.stats import kstwo

    return float(np.clip(kstwo.sf(d, en), 0, 1))


def _fill_zeros(p: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
    """Evidently's zero-frequency replacement, row-wise: zeros (among the keys) become min(nonzero) / 1e6 when the
    smallest nonzero frequency is at most 1e-4, else 1e-4."""
    nonzero = np.where(p > 0, p, np.inf)
    low = nonzero.min(axis=-1, keepdims=True)
    fill = np.where(low <= 0.0001, low / 10**6, 0.0001)
    zero = p == 0 if keys is None else (p == 0) & keys
    return np.where(zero, fill, p)


def _psi_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """PSI of two count vectors over the same categories, as Evidently computes it: over the categories present in
    either sample, frequency = count / non-null values, zeros replaced, sum of (r - c) ln(r / c)."""
    keep = (ref_counts > 0) | (cur_counts > 0)
    r = _fill_zeros(ref_counts[keep] / ref_counts.sum())
    c = _fill_zeros(cur_counts[keep] / cur_counts.sum())
    return float(np.sum((r - c) * np.log(r / c)))


def _psi_rows(ref_counts: np.ndarray, n_ref: int, cur_counts: np.ndarray, n_cur: int) -> np.ndarray:
    """``_psi_counts`` for many simulated pairs at once (rows of two count matrices)."""
    keys = (ref_counts > 0) | (cur_counts > 0)
    r = _fill_zeros(ref_counts / n_ref, keys)
    c = _fill_zeros(cur_counts / n_cur, keys)
    ratio = np.where(keys, r / np.where(keys, c, 1.0), 1.0)
    return np.where(keys, (r - c) * np.log(ratio), 0.0).sum(axis=1)


# --- the profile -------------------------------------------------------------------------------------------------

@dataclass
class ReferenceProfile:
    features: list[str]
    kinds: dict[str, str]
    tests: dict[str, str]
    thresholds: dict[str, float]  # KS: drift when p <= threshold; PSI: drift when psi >= threshold at window_size
    window_size: int
    method: dict
    reference_rows: int
    ignored: dict[str, str] = field(default_factory=dict)  # column -> why it is not tested
    values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # continuous: sorted finite values
    categories: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # categorical: by count, desc
    counts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    category_types: dict[str, str] = field(default_factory=dict)  # str | int | float | bool | mixed
    expected_values: dict[str, float] = field(default_factory=dict)  # non-null values in a window of window_size
    min_values: dict[str, int] = field(default_factory=dict)
    small_thresholds: dict[str, float] = field(default_factory=dict)  # PSI: calibrated at min_values
    _lookups: dict[str, dict] = field(default_factory=dict, repr=False, compare=False)

    # -- per feature -----------------------------------------------------------------------------------------

    def nonnull_rows(self, feature: str) -> int:
        if self.kinds[feature] == CONTINUOUS:
            return int(self.values[feature].size)
        return int(self.counts[feature].sum())

    def threshold_for(self, feature: str, n_values: int) -> float:
        """The threshold a window with ``n_values`` non-null values of the feature is judged by. KS: the calibrated
        p-value level (the p-value already accounts for the sample sizes). PSI: a threshold calibrated at n_c
        non-null values, scaled by PSI's null variance to n values: t * (1/n_ref + 1/n) / (1/n_ref + 1/n_c). Below
        the full window's n_c the larger of the two scalings (from the full window and from the smallest window
        tested, whose calibration sees more categories missing from the window) applies."""
        t = self.thresholds[feature]
        if self.tests[feature] == KS or n_values <= 0:
            return float(t)
        n_ref, n_cal = self.nonnull_rows(feature), self.expected_values[feature]
        out = t * ((1 / n_ref + 1 / n_values) / (1 / n_ref + 1 / n_cal))
        small = self.small_thresholds.get(feature)
        if small is not None and n_values < n_cal:
            n_lo = self.min_values[feature]
            out = max(out, small * ((1 / n_ref + 1 / n_values) / (1 / n_ref + 1 / n_lo)))
        return float(out)

    def _lookup(self, feature: str) -> dict:
        got = self._lookups.get(feature)
        if got is None:
            got = {v: i for i, v in enumerate(self.categories[feature].tolist())}
            self._lookups[feature] = got
        return got

    # -- persistence -----------------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """``profile.json`` (everything but the arrays) and ``profile.npz`` (numeric and string arrays only; loaded
        with ``allow_pickle=False``). Both are written to temporary names and renamed into place."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for i, f in enumerate(self.features):
            if self.kinds[f] == CONTINUOUS:
                arrays[f"v{i}"] = np.asarray(self.values[f], dtype=np.float64)
            else:
                cats = self.categories[f]
                arrays[f"c{i}"] = cats.astype(str) if cats.dtype == object else cats
                arrays[f"n{i}"] = np.asarray(self.counts[f], dtype=np.int64)
        meta = {"format": _FORMAT, "features": self.features, "kinds": self.kinds, "tests": self.tests,
                "thresholds": self.thresholds, "window_size": self.window_size, "method": self.method,
                "reference_rows": self.reference_rows, "ignored": self.ignored,
                "category_types": self.category_types, "expected_values": self.expected_values,
                "min_values": self.min_values, "small_thresholds": self.small_thresholds}
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.part")
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **arrays)
        os.replace(tmp, folder / "profile.npz")
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".json.part")
        with os.fdopen(fd, "w") as out:
            json.dump(meta, out, indent=1)
        os.replace(tmp, folder / "profile.json")

    @classmethod
    def load(cls, folder: Path) -> ReferenceProfile:
        folder = Path(folder)
        meta = json.loads((folder / "profile.json").read_text())
        if meta.get("format") != _FORMAT:
            raise ValueError(f"unknown profile format {meta.get('format')!r} in {folder}")
        values, categories, counts = {}, {}, {}
        with np.load(folder / "profile.npz", allow_pickle=False) as arrays:
            for i, f in enumerate(meta["features"]):
                if meta["kinds"][f] == CONTINUOUS:
                    values[f] = arrays[f"v{i}"]
                else:
                    cats = arrays[f"c{i}"]
                    categories[f] = cats.astype(object) if cats.dtype.kind == "U" else cats
                    counts[f] = arrays[f"n{i}"]
        return cls(features=meta["features"], kinds=meta["kinds"], tests=meta["tests"],
                   thresholds={k: float(v) for k, v in meta["thresholds"].items()},
                   window_size=int(meta["window_size"]), method=meta["method"],
                   reference_rows=int(meta["reference_rows"]), ignored=meta.get("ignored", {}),
                   values=values, categories=categories, counts=counts, category_types=meta["category_types"],
                   expected_values={k: float(v) for k, v in meta["expected_values"].items()},
                   min_values={k: int(v) for k, v in meta["min_values"].items()},
                   small_thresholds={k: float(v) for k, v in meta.get("small_thresholds", {}).items()})

    # -- views -----------------------------------------------------------------------------------------------

    def reference_frame(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The reference as a frame Evidently can read: per column its values (continuous: sorted; categorical:
        each category repeated by its count), padded with missing values to ``reference_rows``. Rows do not
        correspond across columns (the tests look at one column at a time)."""
        n = self.reference_rows
        data: dict[str, Any] = {}
        for f in columns if columns is not None else self.features:
            if self.kinds[f] == CONTINUOUS:
                col = np.full(n, np.nan)
                v = self.values[f]
                col[:v.size] = v
            else:
                vals = np.repeat(self.categories[f], self.counts[f])
                if vals.size < n or vals.dtype.kind not in "biuf":
                    pad = np.full(n, np.nan) if vals.dtype.kind == "f" else np.full(n, None, dtype=object)
                    pad[:vals.size] = vals if vals.dtype.kind == "f" else vals.astype(object)
                    vals = pad
                col = vals
            data[f] = col
        return pd.DataFrame(data)

    def describe(self) -> list[dict]:
        """JSON-able summary, one entry per column (tested features first, then ignored columns)."""
        out: list[dict] = []
        for f in self.features:
            n = self.nonnull_rows(f)
            item: dict[str, Any] = {"feature": f, "kind": self.kinds[f], "test": self.tests[f],
                                    "threshold": self.thresholds[f],
                                    "drift_when": "p-value <= threshold" if self.tests[f] == KS else "psi >= threshold",
                                    "reference_rows": n, "missing_share": round(1 - n / self.reference_rows, 6),
                                    "min_values": self.min_values[f]}
            if self.kinds[f] == CONTINUOUS:
                v = self.values[f]
                q = np.quantile(v, [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1])
                item.update(mean=float(v.mean()), std=float(v.std(ddof=1)) if v.size > 1 else 0.0,
                            min=float(q[0]), p05=float(q[1]), p25=float(q[2]), median=float(q[3]),
                            p75=float(q[4]), p95=float(q[5]), max=float(q[6]))
            else:
                cats, counts = self.categories[f], self.counts[f]
                item.update(categories=int(cats.size), top=[
                    {"value": _plain(c), "share": round(int(k) / n, 6)} for c, k in zip(cats[:10].tolist(), counts[:10])])
            out.append(item)
        for f, why in self.ignored.items():
            out.append({"feature": f, "kind": None, "test": None, "ignored": why})
        return out


def _plain(v: Any) -> Any:
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    return str(v)


# --- building a profile ------------------------------------------------------------------------------------------

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


# --- checking a window -------------------------------------------------------------------------------------------

@dataclass
class FeatureResult:
    feature: str
    kind: str
    test: str
    statistic: float | None  # KS: p-value; PSI: psi
    threshold: float
    drift: bool | None
    status: str  # ok | drift | insufficient data | schema changed
    message: str


@dataclass
class WindowResult:
    status: str  # ok | drift | insufficient data | schema changed
    rows: int
    features: list[FeatureResult]
    added_columns: list[str]
    missing_columns: list[str]
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Prepared:
    """A window column ready to test: sorted finite values (KS) or cleaned values (PSI)."""
    values: Any
    n: int


def _prepare(profile: ReferenceProfile, window: pd.DataFrame
             ) -> tuple[int, list[str], list[str], dict[str, FeatureResult | _Prepared], dict[str, Any]]:
    """Schema and input checks shared by ``check_window`` and ``evidently_check``: per feature either a final
    FeatureResult (missing column, wrong type, too few values) or the values to test."""
    rows = len(window)
    names = [str(c) for c in window.columns]
    position: dict[str, list[int]] = {}
    for i, c in enumerate(names):
        position.setdefault(c, []).append(i)
    known = set(profile.features) | set(profile.ignored)
    added = [c for c in dict.fromkeys(names) if c not in known]
    no_columns = rows == 0 and not names
    missing = [] if no_columns else [f for f in profile.features if f not in position]
    out: dict[str, FeatureResult | _Prepared] = {}
    raw: dict[str, Any] = {}
    for f in profile.features:
        kind, test = profile.kinds[f], profile.tests[f]
        thr = profile.thresholds[f]

        def final(status: str, message: str, threshold: float = thr) -> FeatureResult:
            return FeatureResult(f, kind, test, None, float(threshold), None, status, message)  # noqa: B023

        if no_columns or (rows == 0 and f in position):
            out[f] = final("insufficient data", "empty window")
            continue
        if f not in position:
            out[f] = final("schema changed", "column missing from the window")
            continue
        if len(position[f]) > 1:
            out[f] = final("schema changed", "the window has this column more than once")
            continue
        col = window.iloc[:, position[f][0]]
        if kind == CONTINUOUS:
            dtype = col.dtype
            if (not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
                    or isinstance(dtype, pd.CategoricalDtype)):
                out[f] = final("schema changed", f"expected a numeric column, got {dtype}")
                continue
            x = col.to_numpy(dtype=np.float64, na_value=np.nan)
            x = np.sort(x[np.isfinite(x)])
            prepared: Any = x
            n = x.size
        else:
            vals = _clean_categorical(col, profile.category_types[f])
            prepared, n = vals, int(vals.size)
        need = profile.min_values[f]
        if n == 0:
            out[f] = final("insufficient data", f"all {rows} values are missing")
        elif n < need:
            out[f] = final("insufficient data", f"{n} non-missing values, at least {need} needed",
                           profile.threshold_for(f, n))
        else:
            out[f] = _Prepared(prepared, n)
            raw[f] = col
    return rows, added, missing, out, raw


def _verdict(profile: ReferenceProfile, f: str, stat: float, n: int, extra: str = "") -> FeatureResult:
    thr = profile.threshold_for(f, n)
    if profile.tests[f] == KS:
        drift = stat <= thr
        msg = f"KS p-value {stat:.4g} {'<=' if drift else '>'} threshold {thr:.4g} ({n} values{extra})"
    else:
        drift = stat >= thr
        msg = f"PSI {stat:.4g} {'>=' if drift else '<'} threshold {thr:.4g} ({n} values{extra})"
    return FeatureResult(f, profile.kinds[f], profile.tests[f], float(stat), float(thr), bool(drift),
                         "drift" if drift else "ok", msg)


def _window_result(profile: ReferenceProfile, rows: int, added: list[str], missing: list[str],
                   results: list[FeatureResult]) -> WindowResult:
    by = {s: [r.feature for r in results if r.status == s] for s in ("drift", "insufficient data", "schema changed")}
    parts = []
    if missing or added or by["schema changed"]:
        status = "schema changed"
        if missing:
            parts.append(f"missing columns: {', '.join(missing)}")
        if added:
            parts.append(f"columns not in the reference: {', '.join(added)}")
        other = [f for f in by["schema changed"] if f not in missing]
        if other:
            parts.append(f"changed columns: {', '.join(other)}")
    elif by["drift"]:
        status = "drift"
    elif by["insufficient data"] or not results:
        status = "insufficient data"
    else:
        status = "ok"
    if by["drift"]:
        parts.append(f"drift in {len(by['drift'])} of {len(results)} features: {', '.join(by['drift'])}")
    if by["insufficient data"]:
        parts.append(f"insufficient data for {len(by['insufficient data'])} of {len(results)} features"
                     + (" (empty window)" if rows == 0 else ""))
    if status == "ok":
        parts.append(f"no drift in {len(results)} features")
    return WindowResult(status, int(rows), results, added, missing, "; ".join(parts))


def check_window(profile: ReferenceProfile, window: pd.DataFrame) -> WindowResult:
    """Test every profiled feature of ``window`` against the reference (the fast path: cached sorted values and
    category counts; statistics equal to Evidently's)."""
    rows, added, missing, prepared, _ = _prepare(profile, window)
    results: list[FeatureResult] = []
    for f in profile.features:
        item = prepared[f]
        if isinstance(item, FeatureResult):
            results.append(item)
            continue
        if profile.tests[f] == KS:
            ref = profile.values[f]
            xs = item.values
            exact = max(ref.size, xs.size) <= KS_EXACT_MAX_N
            p = _ks_pvalue(ref, xs, None if exact else _ks_distance(ref, xs))
            results.append(_verdict(profile, f, p, item.n))
        else:
            results.append(_verdict(profile, f, _psi_window(profile, f, item.values), item.n))
    return _window_result(profile, rows, added, missing, results)


def _psi_window(profile: ReferenceProfile, f: str, vals: pd.Series) -> float:
    vc = vals.value_counts(sort=False)
    vc = vc[vc > 0]
    lookup = profile._lookup(f)
    ref_counts = profile.counts[f]
    cur = np.zeros(ref_counts.size, dtype=np.int64)
    new: list[int] = []
    for value, count in zip(vc.index.tolist(), vc.to_numpy().tolist()):
        i = lookup.get(value)
        if i is None:
            new.append(count)
        else:
            cur[i] += count
    if new:
        cur = np.concatenate([cur, np.array(new, dtype=np.int64)])
        ref_counts = np.concatenate([ref_counts, np.zeros(len(new), dtype=np.int64)])
    return _psi_counts(ref_counts, cur)


# --- Evidently -----------------------------------------------------------------------------------------------------

RULE = ("A window is drifted when any feature's own test finds drift (KS for continuous, PSI for categorical "
        "features, with thresholds calibrated for this model); one drifted feature is enough.")


def one_column_share(testable: int) -> float:
    """Evidently's `drift_share` under which its dataset-level verdict follows RULE: its dataset drifts when the
    share of drifted columns is >= drift_share, so 1/n makes one drifted column of n enough."""
    return 1.0 / max(1, testable)


def _evidently_inputs(profile: ReferenceProfile, window: pd.DataFrame):  # noqa: ANN202
    """The preset (per-column method and threshold from the profile) and both datasets, for the testable features;
    plus the shared per-feature outcome of the input checks."""
    from evidently import DataDefinition, Dataset
    from evidently.presets import DataDriftPreset

    rows, added, missing, prepared, raw = _prepare(profile, window)
    testable = [f for f in profile.features if isinstance(prepared[f], _Prepared)]
    if not testable:
        return rows, added, missing, prepared, testable, None
    cur = {}
    for f in testable:
        col = raw[f].reset_index(drop=True)
        if profile.category_types.get(f) == "mixed":
            col = col.where(col.isna(), col.astype(str))
        cur[f] = col
    cur_frame = pd.DataFrame(cur)
    ref_frame = profile.reference_frame(testable)
    definition = DataDefinition(numerical_columns=[f for f in testable if profile.kinds[f] == CONTINUOUS],
                                categorical_columns=[f for f in testable if profile.kinds[f] == CATEGORICAL])
    preset = DataDriftPreset(columns=testable, per_column_method={f: profile.tests[f] for f in testable},
                             per_column_threshold={f: profile.threshold_for(f, prepared[f].n) for f in testable},
                             drift_share=one_column_share(len(testable)))
    data = (Dataset.from_pandas(cur_frame, data_definition=definition),
            Dataset.from_pandas(ref_frame, data_definition=definition))
    return rows, added, missing, prepared, testable, (preset, data)


def evidently_check(profile: ReferenceProfile, window: pd.DataFrame) -> WindowResult:
    """The same tests run by Evidently (``DataDriftPreset`` with the profile's per-column method and threshold on
    ``profile.reference_frame()`` vs the window); its drift scores and verdicts read back into a WindowResult.
    Features that fail the input checks get the same statuses as in ``check_window`` (Evidently would raise)."""
    from evidently import Report

    rows, added, missing, prepared, testable, run = _evidently_inputs(profile, window)
    scores: dict[str, float] = {}
    verdicts: dict[str, bool] = {}
    if run is not None:
        preset, (cur, ref) = run
        snap = Report([preset], include_tests=True).run(cur, ref)
        d = snap.dict()
        for m in d["metrics"]:
            cfg = m.get("config", {})
            if cfg.get("type", "").endswith(":ValueDrift"):
                scores[cfg["column"]] = float(m["value"])
        for t in d["tests"]:
            params = (t.get("metric_config") or {}).get("params") or {}
            if t.get("id") == "drift" and params.get("type", "").endswith(":ValueDrift"):
                verdicts[params["column"]] = t["status"] == "FAIL"
    results: list[FeatureResult] = []
    for f in profile.features:
        item = prepared[f]
        if isinstance(item, FeatureResult):
            results.append(item)
            continue
        thr = profile.threshold_for(f, item.n)
        drift = verdicts[f]
        stat = scores[f]
        word = ("<=" if drift else ">") if profile.tests[f] == KS else (">=" if drift else "<")
        name = "KS p-value" if profile.tests[f] == KS else "PSI"
        results.append(FeatureResult(f, profile.kinds[f], profile.tests[f], stat, float(thr), drift,
                                     "drift" if drift else "ok",
                                     f"Evidently {name} {stat:.4g} {word} threshold {thr:.4g} ({item.n} values)"))
    return _window_result(profile, rows, added, missing, results)


def evidently_html(profile: ReferenceProfile, window: pd.DataFrame) -> str:
    """Evidently's HTML drift report for the window (same configuration as ``evidently_check``, its dataset-level
    verdict set to RULE), headed by the platform's verdict for the window in the words the panel and alerts use."""
    from evidently import Report

    _, _, _, prepared, testable, run = _evidently_inputs(profile, window)
    head = verdict_html(profile, check_window(profile, window), len(testable))
    if run is None:
        problems = "".join(f"<li>{_html_escape(f)}: {_html_escape(prepared[f].status)} — "
                           f"{_html_escape(prepared[f].message)}</li>" for f in profile.features)
        return (f"<!doctype html><html><body>{head}<p>No feature of this window can be tested.</p>"
                f"<ul>{problems}</ul></body></html>")
    preset, (cur, ref) = run
    html = Report([preset]).run(cur, ref).get_html_str(as_iframe=False)
    at = html.find("<body")
    at = html.find(">", at) + 1 if at >= 0 else 0
    return html[:at] + head + html[at:]


VERDICT_WORDS = {"ok": "No drift", "drift": "Drift", "schema changed": "Schema changed",
                 "insufficient data": "Insufficient data"}


def verdict_html(profile: ReferenceProfile, result: WindowResult, tested: int) -> str:
    """The banner on top of a window's report: the window's status and message (as stored and shown in the panel),
    the rule, and how Evidently's dataset-level verdict below was set to follow it."""
    colours = {"ok": ("#1a7f37", "#dafbe1"), "drift": ("#cf222e", "#ffebe9"),
               "schema changed": ("#cf222e", "#ffebe9")}
    fg, bg = colours.get(result.status, ("#9a6700", "#fff8c5"))
    untested = [f for f in result.features if f.statistic is None]
    note = (f" {len(untested)} feature(s) were not tested and are not in Evidently's tables: "
            + "; ".join(f"{f.feature} ({f.status}: {f.message})" for f in untested) + "." if untested else "")
    return (f'<div id="mlp-verdict" data-status="{_html_escape(result.status)}" style="font: 14px/1.45 system-ui, '
            f'sans-serif; margin: 8px; padding: 8px 12px; border-left: 4px solid {fg}; background: {bg}; '
            f'color: #1f2328"><strong style="color: {fg}">{_html_escape(VERDICT_WORDS.get(result.status, result.status))}'
            f'</strong> — {_html_escape(result.message)}.<br>{_html_escape(RULE)} Evidently\'s dataset verdict below '
            f'uses the same rule (drift share {one_column_share(tested):.4g}: 1 of {tested} tested column(s)).'
            f'{_html_escape(note)}</div>')


def _html_escape(s: str) -> str:
    import html

    return html.escape(str(s))


def _evidently_default(reference: pd.DataFrame, window: pd.DataFrame) -> tuple[bool, list[str]]:
    """Evidently's default DataDriftPreset (its own column types, tests and thresholds): dataset drift, and the
    columns it called drifted."""
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    preset = DataDriftPreset()
    snap = Report([preset], include_tests=True).run(Dataset.from_pandas(window), Dataset.from_pandas(reference))
    d = snap.dict()
    share = None
    for m in d["metrics"]:
        if m.get("config", {}).get("type", "").endswith(":DriftedColumnsCount"):
            share = float(m["value"]["share"])
    drifted = [((t.get("metric_config") or {}).get("params") or {}).get("column") for t in d["tests"]
               if t.get("id") == "drift" and t.get("status") == "FAIL"]
    return bool(share is not None and share >= preset.drift_share), [c for c in drifted if c]


def evidently_default_check(reference: pd.DataFrame, window: pd.DataFrame) -> bool:
    """Does Evidently's default DataDriftPreset (no per-column settings) call the dataset drifted?"""
    return _evidently_default(reference, window)[0]
