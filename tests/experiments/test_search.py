"""Our run search returns what MLflow's own `search_runs` returns, in the same order, on the same store."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from jupyter_mlp_backend.experiments.search import InvalidSearch, RunQuery, RunSearch, prepare_store
from tests.bench.runs_store import create_store, fill
from tests.conftest import fresh_postgres_database

QUERIES = [
    ("", []),
    ("", ["metrics.m0 DESC"]),
    ("", ["metrics.m1 ASC"]),  # m1 is missing on every 5th run: those come last
    ("", ["params.p2 DESC"]),  # p2 is missing on every 7th run
    ("params.p0 = 'v3'", ["metrics.m0 DESC"]),
    ("params.p0 != 'v3'", ["metrics.m2"]),
    ("metrics.m3 > 0.5 and params.p1 = 'v7'", ["params.p4"]),
    ("metrics.m0 >= 0.25", ["start_time ASC"]),
    ("metrics.m0 != 0.5", []),
    ("params.p1 LIKE 'v1%'", ["metrics.m5 DESC", "params.p0"]),
    ("params.p1 ILIKE 'V2%'", []),
    ("params.p0 = 'v1' and params.p1 != 'v5'", ["run_name"]),
    ("tags.mlflow.runName LIKE 'run-1%'", ["metrics.m0 DESC"]),
    ("attributes.status = 'FINISHED' and run_name = 'run-42'", []),
    ("attributes.start_time > 1700000500000", ["attributes.start_time DESC"]),
    ("params.p2 = 'v10'", []),
]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path_factory):
    """The same 1,500 runs in an MLflow store on SQLite, and on PostgreSQL (MLflow's team setting)."""
    d = tmp_path_factory.mktemp("store")
    if request.param == "sqlite":
        url = f"sqlite:///{d / 'mlflow.db'}"
        cleanup = None
    else:
        url, cleanup = fresh_postgres_database("mlp_search")
    exp = create_store(url if request.param == "postgres" else d / "mlflow.db", d / "artifacts")
    fill(url if request.param == "postgres" else d / "mlflow.db", exp, 1500, nan_every=11)
    prepare_store(url)
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    ours, theirs = create_engine(url), SqlAlchemyStore(url, str(d / "artifacts"))
    yield exp, RunSearch(ours), theirs
    ours.dispose()
    theirs.engine.dispose()
    if cleanup:
        cleanup()


def _mlflow_ids(mlstore, exp, flt, order, n):
    from mlflow.entities import ViewType

    out, token = [], None
    while len(out) < n:
        page = mlstore.search_runs([exp], flt, ViewType.ACTIVE_ONLY, min(1000, n - len(out)), order, token)
        out += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    return out


@pytest.mark.parametrize("flt, order", QUERIES)
def test_same_runs_same_order_as_mlflow(store, flt, order):
    exp, ours, mlstore = store
    expected = _mlflow_ids(mlstore, exp, flt, order, 1500)
    rows, total = ours.page(RunQuery([exp], flt, order, limit=1500, offset=0))
    assert [r.run_id for r in rows] == expected
    assert total == len(expected)
    # and paging slices the same list
    page, _ = ours.page(RunQuery([exp], flt, order, limit=25, offset=50))
    assert [r.run_id for r in page] == expected[50:75]


def test_page_carries_params_metrics_and_tags(store):
    exp, ours, mlstore = store
    rows, _ = ours.page(RunQuery([exp], "params.p0 = 'v3'", ["metrics.m0 DESC"], limit=3))
    from mlflow.entities import ViewType

    ref = mlstore.search_runs([exp], "params.p0 = 'v3'", ViewType.ACTIVE_ONLY, 3, ["metrics.m0 DESC"])
    for ours_row, theirs in zip(rows, ref):
        assert ours_row.params == theirs.data.params
        assert ours_row.metrics == pytest.approx(theirs.data.metrics)
        assert ours_row.tags == theirs.data.tags


@pytest.mark.parametrize("bad, words", [
    ("params.alpha = ", "Invalid filter"),
    ("metrics.auc >> 1", "Invalid filter"),
    ("drop table runs", "Invalid filter"),
    ("x" * 5000, "limit is 4000"),
])
def test_bad_filters_are_explained(store, bad, words):
    exp, ours, _ = store
    with pytest.raises(InvalidSearch, match=words):
        ours.page(RunQuery([exp], bad, []))


def test_bad_order_by_is_explained(store):
    exp, ours, _ = store
    with pytest.raises(InvalidSearch, match="order_by"):
        ours.page(RunQuery([exp], "", ["metrics.m0 SIDEWAYS"]))
    with pytest.raises(InvalidSearch, match="twice"):
        ours.page(RunQuery([exp], "", ["metrics.m0", "metrics.m0 DESC"]))
