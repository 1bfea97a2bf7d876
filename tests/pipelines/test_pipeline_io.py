"""Values crossing stages keep their type: DataFrame as Parquet, arrays as .npy, the rest pickled."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from jupyter_mlp.pipeline_io import StageIOError, load_inputs, save_outputs


def test_round_trip_by_type(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_STAGE_IO", str(tmp_path))
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    arr = np.arange(6).reshape(2, 3)
    model = LinearRegression().fit([[0], [1]], [0, 2])
    kinds = save_outputs({"df": df, "arr": arr, "model": model, "cfg": {"k": [1, 2]}}, "prep")
    assert kinds == {"df": "parquet", "arr": "npy", "model": "pickle", "cfg": "pickle"}
    assert json.loads((tmp_path / "prep" / "manifest.json").read_text())["df"] == "parquet"
    back = load_inputs({"df": "prep", "arr": "prep", "model": "prep", "cfg": "prep"})
    pd.testing.assert_frame_equal(back["df"], df)
    np.testing.assert_array_equal(back["arr"], arr)
    assert back["model"].predict([[2]])[0] == pytest.approx(4.0)
    assert back["cfg"] == {"k": [1, 2]}


def test_errors_name_the_value(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_STAGE_IO", str(tmp_path))
    with pytest.raises(StageIOError, match="'lock'"):
        save_outputs({"lock": threading.Lock()}, "s")
    with pytest.raises(StageIOError, match="did not save 'missing'"):
        load_inputs({"missing": "s"})
    monkeypatch.delenv("MLP_STAGE_IO")
    with pytest.raises(StageIOError, match="MLP_STAGE_IO"):
        save_outputs({"x": 1}, "s")
