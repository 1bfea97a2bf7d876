"""A plain file read through `jupyter_mlp.datasets.read_csv` is profiled (no target, aggregates only), the run that
follows carries the profile (`mlp.profiles`, jupyter_mlp/lineage.py) and counts as recommender evidence: cited in its
own project, anonymous in another (backend/jupyter_mlp_backend/recommender/history.py). A live backend with the
managed MLflow (tests/conftest.py `backend`) and real MLflow runs from this process, as a project kernel starts them."""

from __future__ import annotations

import json
import logging
import math

import mlflow
import numpy as np
import pandas as pd

from jupyter_mlp import datasets, lineage
from jupyter_mlp.profiling import FEATURES, profile

PLANTED = "zzplantedrawvaluezz"
PLANTED_NUMBER = "31415.9265"


def _csv(path, seed: int = 0, extra: str = "city"):
    rng = np.random.default_rng(seed)
    n = 300
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    df[extra] = rng.choice(["north", "south", PLANTED], size=n)
    df.loc[7, "a"] = float(PLANTED_NUMBER)
    df.loc[rng.choice(n, 15, replace=False), "b"] = np.nan
    df["label"] = (df["c"] > 0).astype(int)
    df.to_csv(path, index=False)
    return pd.read_csv(path)


def _kernel_run(backend, use_mlflow, monkeypatch, user: str, slug: str, path, run_name: str) -> str:
    use_mlflow(backend.kernel_env(user, slug))
    monkeypatch.setenv("MLP_PROJECT", slug)
    datasets.clear()
    datasets.read_csv(path)
    with mlflow.start_run(run_name=run_name, tags={"mlp.family": "random_forest", "mlp.target": "label"}) as run:
        mlflow.log_params({"n_estimators": 50, "max_depth": 4})
        mlflow.log_metric("accuracy", 0.87)
    datasets.clear()
    return run.info.run_id


def test_a_csv_read_in_a_run_is_profiled_logged_and_becomes_evidence(backend, project, use_mlflow, tmp_path,
                                                                      monkeypatch):
    data = tmp_path / "credit.csv"
    df = _csv(data)
    run_id = _kernel_run(backend, use_mlflow, monkeypatch, "sam", project, data, "read-a-csv")

    tags = mlflow.get_run(run_id).data.tags
    text = tags["mlp.profiles"]
    assert PLANTED not in text and PLANTED_NUMBER not in text and "city" not in text and str(data) not in text
    (logged,) = json.loads(text)
    assert logged["name"] == "credit.csv" and logged["snapshot_id"] is None and logged["version"] == 1
    want = profile(df)
    assert list(logged["features"]) == FEATURES
    for k in FEATURES:
        got = logged["features"][k]
        assert (got is None) if math.isnan(want[k]) else math.isclose(got, want[k], rel_tol=1e-5), k
    assert logged["features"]["n_rows"] == 300 and logged["features"]["missing_cells"] > 0

    h = backend.client("lena").get("/recommender/history")
    assert h.status_code == 200, h.text
    (item,) = [i for i in h.json()["items"] if i.get("run_id") == run_id]
    assert item["visible"] and item["project"] == project and item["dataset"] == "credit.csv"
    assert item["family"] == "random_forest" and item["metric"] == "accuracy" and item["score"] == 0.87
    assert item["meta"]["n_rows"] == 300 and item["params"]["n_estimators"] == 50
    assert PLANTED not in h.text and PLANTED_NUMBER not in h.text


def test_another_projects_read_counts_only_anonymously(backend, project, use_mlflow, tmp_path, monkeypatch):
    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    data = tmp_path / "globexsecretdata.csv"
    _csv(data, seed=1, extra="globexsecretcolumn")
    run_id = _kernel_run(backend, use_mlflow, monkeypatch, "gus", "globex", data, "globexsecretrun")

    h = backend.client("lena").get("/recommender/history")
    assert h.status_code == 200, h.text
    assert "globexsecret" not in h.text and run_id not in h.text and PLANTED not in h.text
    anon = [i for i in h.json()["items"] if not i["visible"]]
    assert len(anon) == 1 and anon[0]["meta"]["n_rows"] == 300 and anon[0]["params"] == {
        "n_estimators": 50, "max_depth": 4}


def test_a_frame_that_cannot_be_profiled_still_reads(tmp_path, caplog):
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")  # a header and no rows: profile() raises ValueError
    datasets.clear()
    with caplog.at_level(logging.WARNING, logger="jupyter_mlp.datasets"):
        df = datasets.read_csv(empty)
    assert df.shape == (0, 2)
    assert [r["name"] for r in datasets.reads()] == ["empty.csv"] and datasets.profiles() == []
    assert "could not profile empty.csv" in caplog.text and "no rows" in caplog.text
    assert lineage._profiles_tag() is None
    datasets.clear()


def test_the_profiles_tag_keeps_the_newest_that_fit(tmp_path):
    datasets.clear()
    for i in range(12):
        p = tmp_path / f"part{i}.csv"
        _csv(p, seed=i)
        datasets.read_csv(p)
    text = lineage._profiles_tag()
    names = [p["name"] for p in json.loads(text)]
    assert len(text) <= lineage.MAX_TAG and names and names == [f"part{i}.csv" for i in range(12 - len(names), 12)]
    datasets.clear()
