"""A version's reference profile: per feature its kind, test and calibrated threshold, and the reference values
(sorted finite values, or categories and counts) a window is tested against; saved to and loaded from a folder."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .stats import _FORMAT, CONTINUOUS, KS


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
