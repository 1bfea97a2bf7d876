"""The Experiments API the panel uses: paging, sorting, filters in words, compare, columns, live events."""

from __future__ import annotations

import json
import threading
import time

import httpx
import mlflow
import pytest


@pytest.fixture
def runs(backend, project, use_mlflow):
    use_mlflow(backend.kernel_env("sam", project))
    ids = []
    for i, (alpha, auc) in enumerate([("0.1", 0.70), ("0.5", 0.90), ("0.5", 0.80), ("1.0", 0.60)]):
        with mlflow.start_run(run_name=f"r{i}") as r:
            mlflow.log_params({"alpha": alpha, "solver": "lbfgs"})
            for step in range(3):
                mlflow.log_metric("auc", auc - 0.1 * (2 - step), step=step)
        ids.append(r.info.run_id)
    return ids


def test_sort_filter_and_page(backend, project, runs):
    c = backend.client("vic")
    page = c.get(f"/projects/{project}/runs", params={"filter": "params.alpha = '0.5'",
                                                       "order_by": "metrics.auc DESC"}).json()
    assert [r["run_name"] for r in page["items"]] == ["r1", "r2"] and page["total"] == 2
    page = c.get(f"/projects/{project}/runs", params={"order_by": "metrics.auc ASC", "limit": 2, "offset": 1}).json()
    assert [r["run_name"] for r in page["items"]] == ["r0", "r2"] and page["total"] == 4


def test_the_exact_count_follows_the_page_for_members_only(backend, project, runs):
    """GET .../runs/count: the exact number of runs a search matches (the page's `total` when `total_exact` is
    false: an estimate on PostgreSQL at many runs; tests/experiments/test_search.py covers that path), checked and
    scoped like the page: a member of another project, a stranger and a missing experiment get 404, no token 401."""
    c = backend.client("vic")
    page = c.get(f"/projects/{project}/runs", params={"filter": "params.alpha = '0.5'", "limit": 1}).json()
    assert (page["total"], page["total_exact"]) == (2, True)  # a few runs (and SQLite): counted, as before
    r = c.get(f"/projects/{project}/runs/count", params={"filter": "params.alpha = '0.5'"})
    assert r.status_code == 200 and r.json() == {"total": 2}
    assert c.get(f"/projects/{project}/runs/count").json() == {"total": 4}
    exp = c.get(f"/projects/{project}/experiments").json()["items"][0]["experiment_id"]
    assert c.get(f"/projects/{project}/runs/count", params={"experiment_id": exp}).json() == {"total": 4}
    bad = c.get(f"/projects/{project}/runs/count", params={"filter": "params.alpha = "})
    assert bad.status_code == 400 and "filter" in json.dumps(bad.json()["error"]["detail"])
    assert c.get(f"/projects/{project}/runs/count", params={"experiment_id": "999999"}).status_code == 404

    admin = backend.admin
    assert admin.post("/projects", json={"slug": "globex", "name": "Globex"}).status_code == 201
    assert admin.put("/projects/globex/members/gus", json={"role": "lead"}).status_code == 200
    for user in ("gus", "nobody"):
        r = backend.client(user).get(f"/projects/{project}/runs/count")
        assert r.status_code == 404, (user, r.text)
        assert "total" not in r.text
    assert httpx.get(f"{backend.url}/api/projects/{project}/runs/count").status_code == 401


@pytest.mark.parametrize("params, status, field", [
    ({"filter": "params.alpha = "}, 400, "filter"),
    ({"filter": "metrics.auc > 'high'"}, 400, "filter"),
    ({"filter": "x" * 4001}, 422, "filter"),
    ({"order_by": "metrics.auc UPWARDS"}, 400, "order_by"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": 1001}, 422, "limit"),
    ({"offset": -1}, 422, "offset"),
])
def test_bad_queries_are_named(backend, project, runs, params, status, field):
    r = backend.client("vic").get(f"/projects/{project}/runs", params=params)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["message"]
    assert field in json.dumps(err["detail"])


def test_compare_highlights_differing_params_and_overlays_histories(backend, project, runs):
    r = backend.client("vic").get(f"/projects/{project}/compare",
                                  params={"run_ids": ",".join(runs[:3]), "metrics": "auc"})
    assert r.status_code == 200
    cmp = r.json()
    assert cmp["differing_params"] == ["alpha"]  # solver is the same everywhere
    assert cmp["param_keys"] == ["alpha", "solver"]
    assert set(cmp["histories"]["auc"]) == set(runs[:3])
    assert [p["step"] for p in cmp["histories"]["auc"][runs[0]]] == [0, 1, 2]
    one = backend.client("vic").get(f"/projects/{project}/compare", params={"run_ids": runs[0]})
    assert one.status_code == 422 and "2 to 50" in one.json()["error"]["message"]
    many = ",".join(["a" * 32] * 51 + [f"{i:032d}" for i in range(51)])
    assert backend.client("vic").get(f"/projects/{project}/compare", params={"run_ids": many}).status_code == 422


def test_columns_list_keys_in_use(backend, project, runs):
    cols = backend.client("vic").get(f"/projects/{project}/runs/columns").json()
    assert cols["params"] == ["alpha", "solver"] and cols["metrics"] == ["auc"]
    assert "mlflow.runName" in cols["tags"]


def test_events_announce_a_new_run_within_two_seconds(backend, project, runs, use_mlflow):
    got: list[float] = []
    started = threading.Event()

    def listen():
        with httpx.stream("GET", f"{backend.url}/api/projects/{project}/runs/events",
                          headers={"Authorization": f"Bearer {backend.token('vic')}"}, timeout=20) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    if started.is_set():
                        got.append(time.monotonic())
                        return
                    started.set()

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert started.wait(10)
    t0 = time.monotonic()
    with mlflow.start_run():
        mlflow.log_metric("auc", 0.99)
    t.join(10)
    assert got and got[0] - t0 < 2.0
