"""How the prediction log is cut into windows: by count (full windows only) or by time (ended slices only)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

from jupyter_mlp_backend.monitoring.service import cut, window_features


def _log(times: list[datetime]) -> pd.DataFrame:
    return pd.DataFrame({"x": range(len(times)), "__ts": pd.to_datetime(times, utc=True),
                         "__keys": ["x"] * len(times)})


def test_count_windows_are_full_and_the_rest_waits():
    t0 = datetime(2026, 11, 30, tzinfo=timezone.utc)
    part = _log([t0 + timedelta(seconds=i) for i in range(250)])
    windows = cut(part, 100, None)
    assert [(seq, len(rows), rows.x.iloc[0]) for seq, rows in windows] == [(0, 100, 0), (1, 100, 100)]


def test_time_windows_are_clock_slices_that_have_ended():
    t0 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
    times = [t0 + timedelta(seconds=s) for s in (5, 30, 59, 61, 119, 130)]
    windows = cut(_log(times), 1000, 60, now=t0 + timedelta(seconds=125))
    # 10:00 and 10:01 have ended; 10:02 (the row at 130 s) is still open and waits.
    assert [len(rows) for _, rows in windows] == [3, 2]
    assert windows[1][0] - windows[0][0] == 1 and windows[0][0] == int(t0.timestamp()) // 60
    assert cut(_log([]), 1000, 60, now=t0) == []


def test_a_column_no_request_sent_is_absent_not_null():
    rows = pd.DataFrame({"a": [1.0, 2.0], "b": [None, None], "c": [None, None], "__keys": ["a\x1fb", "a\x1fb"],
                         "__ts": pd.to_datetime(["2026-11-30", "2026-11-30"], utc=True)})
    assert list(window_features(rows).columns) == ["a", "b"]  # b was sent as null; c was never sent
