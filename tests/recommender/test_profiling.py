"""Dataset profiles (jupyter_mlp.profiling): defined on edge cases or refused in words, and never holding raw data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jupyter_mlp.profiling import FEATURES, from_json, profile, target_kind, to_json


def _frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n), "c": rng.choice(list("xyz"), n),
                       "d": rng.random(n) > 0.5, "t": pd.date_range("2024-01-01", periods=n, freq="h")})
    df["y"] = np.where(df.a + rng.normal(0, 0.5, n) > 0, "yes", "no")
    return df


def test_a_profile_has_every_feature_in_order_and_sensible_values():
    p = profile(_frame(), "y")
    assert list(p) == FEATURES
    assert all(isinstance(v, float) for v in p.values())
    assert p["n_rows"] == 300 and p["n_features"] == 5
    assert p["share_numeric"] == pytest.approx(0.4) and p["share_categorical"] == pytest.approx(0.2)
    assert p["share_boolean"] == pytest.approx(0.2) and p["share_datetime"] == pytest.approx(0.2)
    assert sum(p[f"share_{k}"] for k in ("numeric", "categorical", "text", "datetime", "boolean")) == pytest.approx(1)
    assert (p["target_binary"], p["target_multiclass"], p["target_regression"]) == (1.0, 0.0, 0.0)
    assert p["cat_card_max"] == 3 and p["class_entropy"] == pytest.approx(1, abs=0.05)
    assert p["skew_max"] > 1  # the exponential column
    assert p["landmark_stump"] > 0.7 and 0 <= p["landmark_1nn"] <= 1 and 0 <= p["landmark_nb"] <= 1
    assert p["corr_target_abs_max"] > 0.5
    assert profile(_frame(), "y") == p  # deterministic for a seed


def test_target_kinds():
    assert target_kind(pd.Series([0.1, 2.5, 3.3, 4.0], name="y")) == "regression"
    assert target_kind(pd.Series([1, 2, 3, 1], name="y")) == "multiclass"
    assert target_kind(pd.Series(["a", "b", None], name="y")) == "binary"
    rng = np.random.default_rng(0)
    p = profile(pd.DataFrame({"x": rng.normal(size=200), "y": rng.normal(size=200)}), "y")
    assert p["target_regression"] == 1 and math.isnan(p["n_classes"]) and math.isnan(p["landmark_nb"])
    assert -1 <= p["landmark_stump"] <= 1


def test_one_row_gives_a_defined_profile_without_landmarks():
    p = profile(pd.DataFrame({"x": [1.0], "z": ["a"], "y": [1]}).iloc[:1], None)
    assert p["n_rows"] == 1 and p["n_features"] == 3
    assert math.isnan(p["landmark_1nn"]) and math.isnan(p["corr_abs_mean"])
    with pytest.raises(ValueError, match="one value in every row"):
        profile(pd.DataFrame({"x": [1.0], "y": [1]}), "y")


def test_one_column():
    p = profile(pd.DataFrame({"x": np.arange(50.0)}))
    assert p["n_features"] == 1 and p["share_numeric"] == 1 and math.isnan(p["corr_abs_mean"])
    assert math.isnan(p["target_binary"])  # no target: the target's features do not apply
    with pytest.raises(ValueError, match="no feature columns besides the target"):
        profile(pd.DataFrame({"y": [0, 1, 0]}), "y")


def test_all_missing_features_give_a_defined_profile():
    df = pd.DataFrame({"a": [np.nan] * 30, "b": pd.Series([None] * 30, dtype=object), "y": [0, 1] * 15})
    p = profile(df, "y")
    assert p["missing_cells"] == 1 and p["missing_columns"] == 1
    assert math.isnan(p["skew_mean"]) and math.isnan(p["corr_abs_mean"])  # no numeric values at all
    assert p["cat_card_max"] == 0 and p["landmark_stump"] <= 0.6  # nothing to learn from: chance
    assert list(p) == FEATURES


def test_constant_or_empty_target_and_bad_frames_are_refused_in_words():
    df = _frame()
    df["y"] = "same"
    with pytest.raises(ValueError, match="one value in every row"):
        profile(df, "y")
    df["y"] = None
    with pytest.raises(ValueError, match="has no values"):
        profile(df, "y")
    with pytest.raises(ValueError, match="not in the frame"):
        profile(df, "nope")
    with pytest.raises(ValueError, match="no rows"):
        profile(df.iloc[:0], None)
    with pytest.raises(TypeError):
        profile([[1, 2]])


def test_text_columns_are_counted_as_text_and_left_out_of_the_landmarkers():
    rng = np.random.default_rng(1)
    words = ["the quick brown fox jumps over the lazy dog again and again", "a completely different sentence "
             "about something else entirely, quite long"]
    df = pd.DataFrame({"note": [words[i % 2] + f" {i}" for i in range(100)], "x": rng.normal(size=100),
                       "y": [i % 2 for i in range(100)]})
    p = profile(df, "y")
    assert p["share_text"] == 0.5 and p["share_categorical"] == 0
    only_text = profile(df[["note", "y"]], "y")
    assert only_text["share_text"] == 1 and math.isnan(only_text["landmark_1nn"])


def test_the_profile_holds_no_raw_value_of_the_data():
    df = _frame(500)
    df.loc[17, "a"] = 98765.4321
    df["c"] = df["c"].astype(object)
    df.loc[3, "c"] = "PLANTED-SECRET-zq81"
    df["id"] = [f"customer-{i:06d}" for i in range(len(df))]
    text = to_json(profile(df, "y"))
    for raw in ("98765", "PLANTED", "zq81", "customer-", "yes", "2024-01"):
        assert raw not in text
    back = from_json(text)
    assert back["version"] == 1 and list(back["features"]) == FEATURES


def test_a_large_frame_is_profiled_from_a_sample_in_bounded_time():
    import time

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(100_000, 30)), columns=[f"x{i}" for i in range(30)])
    df["y"] = (df.x0 > 0).astype(int)
    start = time.perf_counter()
    p = profile(df, "y")
    assert time.perf_counter() - start < 20  # ~1.4 s on a shared 2-core machine
    assert p["n_rows"] == 100_000 and p["landmark_stump"] > 0.95
