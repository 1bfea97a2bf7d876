"""Checking a window against a reference profile: the input checks (schema, values), then per feature its test
against the calibrated threshold, and the window's verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .calibrate import _clean_categorical
from .profile import ReferenceProfile
from .stats import CONTINUOUS, KS, KS_EXACT_MAX_N, _ks_distance, _ks_pvalue, _psi_counts


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
