"""Drift statistics: the tests' settings, and the two-sample KS and PSI computations shared by calibration and the
window check (the numbers equal scipy's and Evidently's; see the package's docstring)."""

from __future__ import annotations

import numpy as np


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
