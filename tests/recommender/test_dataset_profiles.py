"""A dataset snapshot's profile is kept with the snapshot when it is registered and served, project-scoped, at
GET /projects/{slug}/datasets/{name}/snapshots/{id}/profile (live backend, real Iceberg catalog)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd

from jupyter_mlp.profiling import FEATURES


def _frame(n=400):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"age": rng.integers(18, 90, n).astype(float), "plan": rng.choice(["basic", "pro"], n),
                       "spend": rng.exponential(50, n)})
    df["churned"] = (df.spend + rng.normal(0, 20, n) > 60).astype(int)
    df.loc[5, "plan"] = "PLANTED-zq81"
    df.loc[9, "spend"] = 987654.321
    return df


def test_a_registered_snapshot_keeps_its_profile_and_serves_it(backend, project, use_mlflow, monkeypatch):
    from jupyter_mlp import datasets

    use_mlflow(backend.kernel_env("sam", project))
    snap = datasets.register("customers", _frame(), target="churned")
    vic = backend.client("vic")  # a viewer may read the project's data descriptions
    r = vic.get(f"/projects/{project}/datasets/customers/snapshots/{snap}/profile")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "stored" and body["target"] == "churned" and body["snapshot_id"] == snap
    assert list(body["features"]) == FEATURES
    assert body["features"]["n_rows"] == 400 and body["features"]["target_binary"] == 1
    assert "PLANTED" not in r.text and "987654" not in r.text and "basic" not in r.text

    # the kept profile lives in the Iceberg snapshot's summary, not recomputed per request
    from jupyter_mlp_backend.datasets.catalog import Catalog

    table = Catalog(backend.settings.home)._open().load_table("p_acme.customers")
    assert json.loads(table.snapshot_by_id(snap).summary["mlp.profile"])["target"] == "churned"

    # another target, or an append's snapshot (rows of earlier writes too), is computed from the snapshot's rows
    r = vic.get(f"/projects/{project}/datasets/customers/snapshots/{snap}/profile", params={"target": "plan"})
    assert r.status_code == 200 and r.json()["source"] == "computed" and r.json()["features"]["n_features"] == 3
    appended = datasets.register("customers", _frame(100), mode="append")
    r = vic.get(f"/projects/{project}/datasets/customers/snapshots/{appended}/profile")
    assert r.json()["source"] == "computed" and r.json()["features"]["n_rows"] == 500
    assert r.json()["target"] is None and r.json()["features"]["target_binary"] is None


def test_unknown_ids_other_projects_and_bad_targets_answer_in_words(backend, project, use_mlflow):
    from jupyter_mlp import datasets

    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    use_mlflow(backend.kernel_env("gus", "globex"))
    theirs = datasets.register("secret", _frame(50))
    use_mlflow(backend.kernel_env("sam", project))
    ours = datasets.register("customers", _frame(50))
    sam, gus = backend.client("sam"), backend.client("gus")

    r = sam.get(f"/projects/{project}/datasets/customers/snapshots/{theirs}/profile")  # their id, our path
    assert r.status_code == 404 and f"no snapshot {theirs}" in r.json()["error"]["message"]
    r = sam.get(f"/projects/{project}/datasets/secret/snapshots/{theirs}/profile")  # their name, our path
    assert r.status_code == 404
    r = sam.get(f"/projects/globex/datasets/secret/snapshots/{theirs}/profile")  # their project
    assert r.status_code in (403, 404) and "n_rows" not in r.text
    r = gus.get(f"/projects/{project}/datasets/customers/snapshots/{ours}/profile")
    assert r.status_code in (403, 404) and "n_rows" not in r.text
    anonymous = httpx.get(f"{backend.url}/api/projects/{project}/datasets/customers/snapshots/{ours}/profile")
    assert anonymous.status_code == 401

    r = sam.get(f"/projects/{project}/datasets/customers/snapshots/{ours}/profile", params={"target": "nope"})
    assert r.status_code == 422 and "'nope' is not in" in r.json()["error"]["message"]
    r = sam.get(f"/projects/{project}/datasets/customers/snapshots/{2**62}/profile")
    assert r.status_code == 404
    try:
        datasets.register("customers", _frame(50), target="nope")
    except RuntimeError as e:
        assert "(400)" in str(e) and "'nope' is not in the data" in str(e)
    else:
        raise AssertionError("a target that is not a column was accepted")
