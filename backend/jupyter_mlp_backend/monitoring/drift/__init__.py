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

By concern: `stats` (the tests' settings and statistics), `profile` (the reference profile), `calibrate` (building
a profile and its thresholds), `check` (a window against a profile), `report` (the same through Evidently, and its
HTML report). Callers use this package's names. Only numpy and pandas are imported at module level; scipy and
Evidently are imported inside the functions that need them.
"""

from __future__ import annotations

from .calibrate import build_profile
from .check import FeatureResult, WindowResult, check_window
from .profile import ReferenceProfile
from .report import (RULE, VERDICT_WORDS, _evidently_default, evidently_check, evidently_default_check, evidently_html,
                     one_column_share, verdict_html)
from .stats import (CALIBRATION_WINDOWS, CATEGORICAL, CONTINUOUS, DEFAULT_ALPHA, DEFAULT_WINDOW, KS, KS_EXACT_MAX_N,
                    MAX_CATEGORIES, MAX_DISCRETE_VALUES, MIN_VALUES, PSI, _ks_distance)

__all__ = ["CALIBRATION_WINDOWS", "CATEGORICAL", "CONTINUOUS", "DEFAULT_ALPHA", "DEFAULT_WINDOW", "KS",
           "KS_EXACT_MAX_N", "MAX_CATEGORIES", "MAX_DISCRETE_VALUES", "MIN_VALUES", "PSI", "RULE", "VERDICT_WORDS",
           "FeatureResult", "ReferenceProfile", "WindowResult", "_evidently_default", "_ks_distance", "build_profile",
           "check_window", "evidently_check", "evidently_default_check", "evidently_html", "one_column_share",
           "verdict_html"]
