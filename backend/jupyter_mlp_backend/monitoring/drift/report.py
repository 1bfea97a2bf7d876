"""The same tests run by Evidently (a parity check and the HTML report of a window, headed by the platform's
verdict), and Evidently's default preset for comparison."""

from __future__ import annotations

import pandas as pd

from .check import FeatureResult, WindowResult, _Prepared, _prepare, _window_result, check_window
from .profile import ReferenceProfile
from .stats import CATEGORICAL, CONTINUOUS, KS


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
