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


# The fast path (issue 17: a page without `import mlflow`) must parse exactly as MLflow does, or not at all.
FAST = [
    "params.p0 = 'v3'", "params.p0='v3'", "metrics.m0 > 0.5", "metrics.m0>=1", "metrics.m0 < 0.25",
    "metrics.m0 <= 3", "metrics.m0 = 0.5", "metrics.m0 != 0.5", "params.p0 != 'v3'", "tags.mlflow.runName = 'run-1'",
    "param.p0 = 'v3'", "parameter.p0 = 'v3'", "parameters.p0 = 'v3'", "metric.m0 > 1", "tag.t = 'x'",
    "params.p0 = 'v3' and metrics.m3 > 0.5", "params.p0 = 'v3' AND params.p1 != 'v5' And metrics.m0 <= 0.9",
    "  params.p0   =   'v3'  ", "params.p0 = ''", "params.p0 = 'a b%_'", "params.p0 = 'é'",
    "params.p0 = 'v3'\n and\tmetrics.m1 > 2",
]
SLOW = [  # valid, but the fast path hands them to MLflow
    "params.p0 LIKE 'v1%'", "params.p0 ILIKE 'V1%'", "params.p0 IS NULL", "attributes.status = 'FINISHED'",
    "run_name = 'x'", "metrics.m0 > -1", "metrics.m0 > 1e3", 'params.p0 = "v3"', "params.`my key` = 'x'",
    "metrics.m0 > 0.5 and attributes.start_time > 5", "datasets.name = 'x'", "params.p0 = 'it''s'",
]
BAD = ["params.p0 = ", "metrics.m0 >> 1", "params.p0 > 'v3'", "metrics.m0 = 'x'", "params.p0 = 3",
       "params.p0 = 'v3' and", "params.p0 = 'v3' or params.p1 = 'v1'", "params.p0 = 'v3'and params.p1 = 'v1'",
       "foo.p0 = 'v3'", "Params.p0 = 'v3'", "params.p0 = 'v3' params.p1 = 'v1'"]
ORDERS = ["metrics.m0 DESC", "metrics.m0", "metrics.m0 asc", "params.p4", "params.p4 Desc", "tags.mlflow.runName",
          "start_time", "start_time ASC", "attributes.start_time DESC", "attribute.end_time", "run_name", "status",
          "run_id", "user_id", "artifact_uri", "attr.run_name DESC", "run.status", "param.a", "parameter.a",
          "metric.m0  DESC", "created", "attributes.created DESC", "`metrics.m0` DESC", "metrics.`m 0`",
          "lifecycle_stage", "foo.bar", "metrics.m0 SIDEWAYS", "metrics.m0 DESC ASC", "datasets.name"]


def test_fast_filter_parses_as_mlflow_or_not_at_all():
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    from jupyter_mlp_backend.experiments.search import fast_filter

    for text in FAST:
        assert fast_filter(text) is not None, text
    for text in SLOW:
        assert fast_filter(text) is None, text
        SearchUtils.parse_search_filter(text)
    for text in FAST + SLOW + BAD:
        fast = fast_filter(text)
        if fast is None:
            continue
        try:
            theirs = SearchUtils.parse_search_filter(text)
        except MlflowException:
            raise AssertionError(f"fast path accepted {text!r}, which MLflow rejects") from None
        assert fast == theirs, text


def test_fast_order_by_parses_as_mlflow_or_not_at_all():
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    from jupyter_mlp_backend.experiments.search import fast_order_by

    for item in ORDERS:
        fast = fast_order_by(item)
        try:
            theirs = SearchUtils.parse_order_by_for_search_runs(item)
        except MlflowException:
            assert fast is None, item
            continue
        assert fast is None or fast == theirs, item
    assert all(fast_order_by(i) for i in ["metrics.m0 DESC", "params.p4", "start_time ASC", "run_name"])


def test_a_page_with_the_panels_filter_and_sort_imports_no_mlflow(store):
    """A fresh process's first page does not wait for `import mlflow` (seconds): the page reads MLflow's tables
    through the search's own column declarations and parses plain filters itself."""
    import subprocess
    import sys

    exp, ours, _ = store
    code = (
        "import sys, sqlalchemy as sa\n"
        "from jupyter_mlp_backend.experiments.search import RunSearch, RunQuery\n"
        f"s = RunSearch(sa.create_engine({ours.engine.url.render_as_string(hide_password=False)!r}))\n"
        f"rows, total = s.page(RunQuery([{exp!r}], \"params.p0 = 'v3' and metrics.m3 > 0.5\", "
        "['metrics.m0 DESC'], limit=5))\n"
        "s.columns([" + repr(exp) + "]); s.get([rows[0].run_id]); s.metric_history(rows[0].run_id, 'm0')\n"
        "print(len(rows), total, sorted(m for m in sys.modules if m.split('.')[0] == 'mlflow'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    n, total, imported = out.stdout.split(" ", 2)
    assert int(n) == 5 and int(total) > 5
    assert imported.strip() == "[]"


@pytest.fixture(scope="module")
def edges(store):
    """A second experiment in the same store, written by MLflow itself: 45 runs whose metric x has ties, NaN and
    missing values, and whose start times tie in threes (so the run id decides), for pages across each boundary."""
    import math

    from mlflow.entities import Metric, Param

    exp, ours, mlstore = store
    edge_exp = mlstore.create_experiment("edges")
    for i in range(45):
        run = mlstore.create_run(edge_exp, "u", 1_700_000_000_000 + i // 3, [], f"e{i}")
        value = None if i % 9 == 4 else math.nan if i % 7 == 2 else [0.5, 0.25, 0.75, 0.5, 1.0][i % 5]
        mlstore.log_batch(run.info.run_id, [] if value is None else [Metric("x", value, 0, 0)],
                          [Param("g", "a" if i % 2 else "b")], [])
    return edge_exp, ours, mlstore


@pytest.mark.parametrize("flt, order", [
    ("", ["metrics.x DESC"]), ("", ["metrics.x"]), ("params.g = 'a'", ["metrics.x DESC"]),
    ("", ["metrics.x DESC", "params.g"]), ("metrics.x >= 0.5", ["metrics.x"]),
])
def test_pages_across_nan_and_missing_metrics_are_mlflows(edges, flt, order):
    """Runs with a value come first, then NaN, then missing (MLflow's order); every page slices that one list, pages
    that start or end on either boundary included, and so does a page past the end."""
    exp, ours, mlstore = edges
    expected = _mlflow_ids(mlstore, exp, flt, order, 100)
    rows, total = ours.page(RunQuery([exp], flt, order, limit=100))
    assert [r.run_id for r in rows] == expected and total == len(expected)
    for limit in (3, 7):
        for offset in range(len(expected) + 2):
            page, total = ours.page(RunQuery([exp], flt, order, limit=limit, offset=offset))
            assert [r.run_id for r in page] == expected[offset:offset + limit], (limit, offset)
            assert total == len(expected)


def test_the_total_is_counted_again_only_after_a_write(store):
    """PostgreSQL: the page's total (counting 100k matching runs of 1M took 0.7 s) is kept with the snapshot it was
    counted in and reused while no transaction has committed since; any write, here MLflow's own, counts again."""
    from sqlalchemy import event

    exp, ours, mlstore = store
    if ours.dialect != "postgresql":
        pytest.skip("the total is kept on PostgreSQL only")
    counted = mlstore.create_experiment("counted")
    runs = [mlstore.create_run(counted, "u", 1_700_000_000_000 + i, [], f"c{i}").info.run_id for i in range(3)]
    q = RunQuery([counted], "", ["metrics.m0 DESC"], limit=2)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement.lower())

    event.listen(ours.engine, "before_cursor_execute", seen)
    try:
        assert ours.page(q)[1] == 3
        # Other tests may write to the same PostgreSQL cluster meanwhile: judge only pairs of pages between which
        # the database's snapshot stayed the same.
        def snapshot() -> str:
            with ours.engine.connect() as conn:
                return conn.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar_one()

        quiet = 0
        for _ in range(50):
            before = snapshot()
            assert ours.page(q)[1] == 3
            statements.clear()
            assert ours.page(q)[1] == 3
            if snapshot() == before:  # nothing committed since before the first page: the second one reuses
                quiet += 1
                assert not any("count(" in s for s in statements), statements
        if not quiet:
            pytest.skip("something wrote to the PostgreSQL cluster between every two pages")
        mlstore.create_run(counted, "u", 1_700_000_000_100, [], "c3")
        assert ours.page(q)[1] == 4
        mlstore.delete_run(runs[0])
        assert ours.page(q)[1] == 3
        assert ours.page(RunQuery([counted], "params.p0 = 'v3'", [], limit=2))[1] == 0
    finally:
        event.remove(ours.engine, "before_cursor_execute", seen)


def test_a_page_over_many_runs_estimates_its_total_and_the_count_is_exact(store, monkeypatch):
    """PostgreSQL: when the kept total cannot be reused and the planner expects more than ESTIMATE_ABOVE matching
    runs (10,000; lowered here so 1,500 runs reach it), the page answers with the planner's estimate, flagged as
    one, and `count` gives the exact number, MLflow's. SQLite and small counts: exact, as before."""
    from jupyter_mlp_backend.experiments import search

    exp, ours, mlstore = store
    order = ["metrics.m0 DESC"]
    everything = _mlflow_ids(mlstore, exp, "", order, 1500)
    some = _mlflow_ids(mlstore, exp, "params.p0 = 'v3'", order, 1500)
    q = RunQuery([exp], "", order, limit=50)
    rows, total, exact = RunSearch(ours.engine).page_estimated(q)  # default threshold: 1,500 runs are counted
    assert (total, exact) == (len(everything), True)
    assert [r.run_id for r in rows] == everything[:50]

    monkeypatch.setattr(search, "ESTIMATE_ABOVE", 50)
    fresh = RunSearch(ours.engine)  # nothing kept yet
    rows, total, exact = fresh.page_estimated(q)
    assert [r.run_id for r in rows] == everything[:50]  # the page itself is the same
    if ours.dialect == "postgresql":
        assert exact is False, total  # the planner's guess, not a count
        with ours.engine.connect() as conn:
            ids_q, _ = fresh._statements(q)
            assert total == max(search._planner_rows(conn, ids_q), 50) > 50
    else:
        assert (total, exact) == (len(everything), True)
    assert fresh.count(q) == len(everything)
    filtered = RunQuery([exp], "params.p0 = 'v3'", order, limit=50)
    rows, total, exact = fresh.page_estimated(filtered)
    assert [r.run_id for r in rows] == some[:50]
    if ours.dialect == "postgresql":  # prepare_store's statistics tie a param's value to its key: close, not 10
        assert exact is False and len(some) / 2 <= total <= len(some) * 2, (total, len(some))
    assert fresh.count(filtered) == len(some)
    assert fresh.page(q)[1] == len(everything)  # `page` is always exact
    # A page that ends before its limit knows its total, whatever the planner guessed.
    rows, total, exact = RunSearch(ours.engine).page_estimated(RunQuery([exp], "", order, limit=50, offset=1490))
    assert (len(rows), total, exact) == (10, len(everything), True)
    assert fresh.count(RunQuery([exp], "params.p0 = 'no such value'")) == 0
    with pytest.raises(InvalidSearch):
        fresh.count(RunQuery([exp], "params.p0 = "))
