"""The drift engine against Evidently itself (no mocks): the cached fast path computes the same KS p-values and PSI
values and reaches the same verdicts as Evidently's DataDriftPreset configured with the same per-column tests and
thresholds; calibrated thresholds keep a null stream quiet and catch a 1 sd shift; bad input gets a status, never a
silent "no drift"; a saved profile gives identical results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from jupyter_mlp_backend.monitoring import drift


def mixed(n: int, rng: np.random.Generator, *, shift: float = 0.0, cats: tuple[str, ...] = ("a", "b", "c", "d"),
          nan_share: float = 0.15) -> pd.DataFrame:
    """Normal, heavy-tailed, integer-valued with ties, NaN/inf-laden, text/bool/int categorical columns."""
    heavy = rng.standard_cauchy(n) + shift
    miss = rng.normal(shift, 1, n)
    miss[rng.random(n) < nan_share] = np.nan
    miss[rng.random(n) < 0.01] = np.inf
    p = np.array([0.4, 0.3, 0.2, 0.1][:len(cats)])
    return pd.DataFrame({
        "normal": rng.normal(shift, 1, n),
        "heavy": heavy,
        "ties": rng.poisson(6 + 2 * shift, n),  # ~15 distinct integers: continuous, many ties
        "missing": miss,
        "text": np.array(cats, dtype=object)[rng.choice(len(cats), n, p=p / p.sum())],
        "flag": rng.random(n) < 0.3 + 0.1 * shift,
        "level": rng.integers(0, 5, n),
    })


def assert_parity(profile: drift.ReferenceProfile, window: pd.DataFrame) -> drift.WindowResult:
    ours = drift.check_window(profile, window)
    theirs = drift.evidently_check(profile, window)
    assert ours.status == theirs.status
    assert [f.feature for f in ours.features] == [f.feature for f in theirs.features]
    tested = 0
    for a, b in zip(ours.features, theirs.features):
        assert (a.status, a.drift, a.threshold) == (b.status, b.drift, b.threshold), (a, b)
        if a.statistic is None:
            assert b.statistic is None
            continue
        tested += 1
        if a.test == drift.KS:
            assert a.statistic == b.statistic, (a, b)  # same float: same counts, same formula
        else:
            assert a.statistic == pytest.approx(b.statistic, rel=1e-12, abs=1e-15), (a, b)
    assert tested
    return ours


def test_ks_distance_is_scipys_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for i in range(200):
        n1, n2 = int(rng.integers(1, 4000)), int(rng.integers(1, 600))
        if i % 2:
            a, b = rng.integers(0, 15, n1).astype(float), rng.integers(0, 17, n2).astype(float)
        else:
            a, b = rng.standard_t(2, n1), rng.standard_t(2, n2) + rng.normal(0, 0.3)
        a, b = np.sort(a), np.sort(b)
        assert drift._ks_distance(a, b) == ks_2samp(a, b, method="asymp").statistic


@pytest.mark.parametrize("rows, window_size, window_rows, mode", [
    (30_000, 1000, 1000, "asymp"),  # reference ~24,000 > 10,000: scipy's asymptotic p-value
    (30_000, 1000, 15_000, "asymp"),  # a window larger than the calibrated size (PSI threshold scaled down)
    (5_000, 200, 200, "exact"),  # both samples <= 10,000: scipy's exact p-value
])
def test_statistics_and_verdicts_equal_evidentlys(rows: int, window_size: int, window_rows: int, mode: str) -> None:
    rng = np.random.default_rng(rows + window_rows)
    profile = drift.build_profile(mixed(rows, rng), window_size=window_size, seed=1)
    assert profile.kinds == {"normal": "continuous", "heavy": "continuous", "ties": "continuous",
                             "missing": "continuous", "text": "categorical", "flag": "categorical",
                             "level": "categorical"}
    n_ref = profile.values["normal"].size
    assert (max(n_ref, window_rows) <= drift.KS_EXACT_MAX_N) == (mode == "exact")
    # no drift; then drift everywhere, with a category gone ("d") and a new one ("e"), NaN and inf in the window
    quiet = assert_parity(profile, mixed(window_rows, rng))
    moved = assert_parity(profile, mixed(window_rows, rng, shift=0.6, cats=("a", "b", "c", "e"), nan_share=0.4))
    assert moved.status == "drift"
    assert {f.feature for f in moved.features if f.drift} >= {"normal", "ties", "missing", "text"}
    assert sum(f.drift for f in quiet.features) <= 1


def test_threshold_comparison_matches_evidentlys_at_equality() -> None:
    """Evidently: KS drift when p <= threshold, PSI drift when psi >= threshold; a statistic exactly at the
    threshold is drift on both sides."""
    rng = np.random.default_rng(11)
    profile = drift.build_profile(mixed(4000, rng), window_size=300, seed=2)
    window = mixed(300, rng, shift=0.1)
    first = drift.check_window(profile, window)
    for r in first.features:
        if r.feature in ("normal", "flag"):  # a binary PSI sums two terms: the same float in any order
            profile.thresholds[r.feature] = r.statistic
            if r.test == drift.PSI:
                profile.expected_values[r.feature] = float(window[r.feature].notna().sum())  # scale factor 1
    ours = assert_parity(profile, window)
    at = {r.feature: r for r in ours.features}
    assert at["normal"].drift and at["flag"].drift
    assert at["normal"].statistic == at["normal"].threshold and at["flag"].statistic == at["flag"].threshold


def test_calibrated_thresholds_keep_a_null_stream_quiet_and_catch_a_shift() -> None:
    rng = np.random.default_rng(5)

    def frame(n: int, shift: float = 0.0) -> pd.DataFrame:
        d = {f"n{i}": rng.normal(0, 1 + i, n) for i in range(4)}
        d["n0"] = d["n0"] + shift
        d["skew"] = rng.lognormal(0, 0.7, n)
        d["ties"] = rng.poisson(12, n)
        d["unif"] = rng.uniform(0, 1, n)
        d["color"] = np.array(["r", "g", "b"], dtype=object)[rng.choice(3, n, p=[0.5, 0.3, 0.2])]
        d["rare"] = np.array(["x", "y", "z"], dtype=object)[rng.choice(3, n, p=[0.89, 0.1, 0.01])]
        d["flag"] = rng.random(n) < 0.2
        return pd.DataFrame(d)

    profile = drift.build_profile(frame(60_000), seed=0)
    assert profile.window_size == drift.DEFAULT_WINDOW
    m = profile.method
    assert m["alpha"] == drift.DEFAULT_ALPHA and m["features_tested"] == 10
    assert m["per_feature_level"] == pytest.approx(drift.DEFAULT_ALPHA / 10)
    assert m["held_out_rows"] == 12_000 and m["held_out_windows"] == drift.CALIBRATION_WINDOWS
    alarms = sum(drift.check_window(profile, frame(profile.window_size)).status == "drift" for _ in range(300))
    assert alarms <= 6, f"{alarms} of 300 null windows alarmed"
    shifted = [drift.check_window(profile, frame(profile.window_size, shift=1.0)) for _ in range(10)]
    assert all(r.status == "drift" and [f.feature for f in r.features if f.drift] == ["n0"] for r in shifted)


@pytest.fixture(scope="module")
def small_profile() -> drift.ReferenceProfile:
    rng = np.random.default_rng(8)
    frame = mixed(4000, rng)
    frame["single"] = "only"  # one category in the reference
    return drift.build_profile(frame, window_size=300, seed=4)


def test_bad_input_gets_a_status_never_a_silent_no_drift(small_profile: drift.ReferenceProfile) -> None:
    rng = np.random.default_rng(9)
    profile = small_profile
    assert profile.kinds["single"] == "categorical" and profile.categories["single"].tolist() == ["only"]

    def window(n: int = 300) -> pd.DataFrame:
        return mixed(n, rng).assign(single="only")

    def status(result: drift.WindowResult) -> dict[str, str]:
        return {f.feature: f.status for f in result.features}

    empty = drift.check_window(profile, window().iloc[:0])
    assert empty.status == "insufficient data" and empty.rows == 0
    assert set(status(empty).values()) == {"insufficient data"}
    assert all(f.drift is None and f.statistic is None for f in empty.features)
    assert drift.check_window(profile, pd.DataFrame()).status == "insufficient data"

    w = window()
    w["normal"] = np.nan
    r = drift.check_window(profile, w)
    assert status(r)["normal"] == "insufficient data" and "missing" in r.features[0].message
    assert r.status in ("insufficient data", "drift")
    assert {f.status for f in r.features if f.feature != "normal"} <= {"ok", "drift"}

    w = window(25)  # fewer non-missing values than the minimum
    assert drift.check_window(profile, w).status == "insufficient data"

    w = window()
    w["normal"] = 0.0  # constant column: a real change
    w["text"] = "a"  # a single category
    r = drift.check_window(profile, w)
    assert r.status == "drift" and status(r)["normal"] == status(r)["text"] == "drift"
    assert status(r)["single"] == "ok"  # one category in both: PSI 0

    w = window().assign(extra=1.0)
    r = drift.check_window(profile, w)
    assert r.status == "schema changed" and r.added_columns == ["extra"] and r.missing_columns == []
    assert all(f.statistic is not None for f in r.features)  # the others are still tested

    w = window().rename(columns={"heavy": "heavy_tail"})
    r = drift.check_window(profile, w)
    assert r.status == "schema changed" and r.missing_columns == ["heavy"] and r.added_columns == ["heavy_tail"]
    assert status(r)["heavy"] == "schema changed" and r.features[1].drift is None

    w = window().assign(normal="text")
    r = drift.check_window(profile, w)
    assert r.status == "schema changed" and status(r)["normal"] == "schema changed"

    # Evidently sees the same statuses for the untestable features and agrees on the rest
    w = window().rename(columns={"heavy": "heavy_tail"})
    w["missing"] = np.nan
    w["text"] = "b"
    r = assert_parity(profile, w)
    assert status(r)["heavy"] == "schema changed" and status(r)["missing"] == "insufficient data"
    assert r.to_dict()["features"][0]["feature"] == "normal"


def test_profile_roundtrip_and_html(small_profile: drift.ReferenceProfile, tmp_path) -> None:  # noqa: ANN001
    rng = np.random.default_rng(10)
    small_profile.save(tmp_path / "p")
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["profile.json", "profile.npz"]
    loaded = drift.ReferenceProfile.load(tmp_path / "p")
    assert loaded.thresholds == small_profile.thresholds and loaded.method == small_profile.method
    assert loaded.describe() == small_profile.describe()
    pd.testing.assert_frame_equal(loaded.reference_frame(), small_profile.reference_frame())
    for shift in (0.0, 0.5):
        w = mixed(300, rng, shift=shift).assign(single="only")
        assert drift.check_window(loaded, w).to_dict() == drift.check_window(small_profile, w).to_dict()
    html = drift.evidently_html(loaded, mixed(300, rng, shift=0.5).assign(single="only"))
    assert "<html" in html.lower() and "normal" in html


def test_one_verdict_evidentlys_dataset_drift_follows_the_per_feature_rule() -> None:
    """The report's dataset-level verdict agrees with the window's: one drifted feature of three is drift (Evidently's
    default share-of-columns rule, 0.5, said "Dataset Drift is NOT detected" under the panel's red Drift badge), and
    the report opens with the window's verdict in the panel's words and the rule."""
    import html as html_lib

    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000), "c": rng.normal(size=3000)})
    profile = drift.build_profile(ref, window_size=300, seed=1)
    calm = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "c": rng.normal(size=300)})
    for window, status in ((calm, "ok"), (calm.assign(a=calm.a + 1.0), "drift")):
        result = drift.check_window(profile, window)
        assert result.status == status and sum(f.status == "drift" for f in result.features) == (status == "drift")
        page = drift.evidently_html(profile, window)
        assert ("Dataset Drift is detected" in page) == (status == "drift"), status
        assert ("Dataset Drift is NOT detected" in page) == (status == "ok"), status
        assert f'id="mlp-verdict" data-status="{status}"' in page
        banner = html_lib.unescape(page[page.index('id="mlp-verdict"'):page.index("</div>", page.index("mlp-verdict"))])
        assert result.message in banner and drift.RULE in banner
