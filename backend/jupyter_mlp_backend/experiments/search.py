"""Run search straight on MLflow's store, for the Experiments panel and `mlp runs`.

MLflow's own `search_runs` hydrates every run object it touches and sorts through CASE expressions that keep
databases from using an index; at 100k runs a sorted, filtered first page takes seconds. This module keeps
MLflow's semantics — its filter grammar and parser, its comparison functions, its ordering (missing and NaN
values last, then start time descending, then run id) — and changes only the plan: a narrow query for the page's
run ids, with indexes on what the panel sorts and filters by, then one query per table for those ids.
`tests/experiments/test_search.py` checks the results equal MLflow's on the same store.

A page needs no MLflow import (issue 17: `import mlflow` costs seconds, and a fresh backend's first page waited for
it): MLflow's tables are read through the few columns declared below, and the filters and sort keys the panel sends
(`params.p0 = 'v3'`, `metrics.auc > 0.9`, `metrics.auc DESC`, ...) are parsed by a strict fast path that returns
exactly what MLflow's parser returns (`test_search.py` holds it to that; the grammar is search_grammar.py); anything
else goes to MLflow's parser.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, and_, bindparam, case, exists, false, func, or_, select, text, true

from .search_grammar import (  # noqa: F401 - MAX_FILTER_LENGTH, fast_filter, fast_order_by: this module's API
    ATTRIBUTE,
    MAX_FILTER_LENGTH,
    METRIC,
    PARAM,
    TAG,
    InvalidSearch,
    fast_filter,
    fast_order_by,
    is_fast,
    parse_filter,
    parse_order_by,
    search_utils,
    translate_key_alias,
)

RUN_NAME_TAG = "mlflow.runName"

# Indexes the panel's queries need on MLflow's tables (prefixed `mlp_` so they never clash with MLflow's own).
# They cover the columns a filtered, sorted page touches, so the database answers from indexes alone.
INDEXES = [
    "CREATE INDEX IF NOT EXISTS mlp_runs_experiment_start ON runs (experiment_id, lifecycle_stage, start_time)",
    "CREATE INDEX IF NOT EXISTS mlp_runs_cover ON runs (run_uuid, experiment_id, lifecycle_stage, start_time)",
    "CREATE INDEX IF NOT EXISTS mlp_params_cover ON params (key, value, run_uuid)",
    "CREATE INDEX IF NOT EXISTS mlp_latest_metrics_cover ON latest_metrics (key, run_uuid, is_nan, value)",
    "CREATE INDEX IF NOT EXISTS mlp_latest_metrics_key_value ON latest_metrics (key, is_nan, value)",
    "CREATE INDEX IF NOT EXISTS mlp_tags_cover ON tags (key, value, run_uuid)",
]


# Pages sorted by a metric are read from the metric's index in order up to this depth (offset + limit); deeper, the
# index walk visits more rows than sorting the matches does (1M runs, a 10% filter, offset 5,000: 3.0 s against 1.9 s).
KEYSET_DEPTH = 1000

# PostgreSQL: a page whose kept total cannot be reused answers with the planner's estimate of its total when that is
# above this many runs (RunSearch.page_estimated; the exact count is RunSearch.count, which the panel asks next).
# Below it, counting costs about as much as planning it (tests lower it to reach the estimate with a small store).
ESTIMATE_ABOVE = 10_000


# The columns of MLflow's tables that the search reads (the schema stays MLflow's to define and migrate; these are
# declared here so that a page does not import MLflow's ORM models, which import all of MLflow).
_META = sa.MetaData()
RUNS = sa.Table("runs", _META, sa.Column("run_uuid", sa.String(32), primary_key=True), sa.Column("name", sa.String),
                sa.Column("experiment_id", sa.Integer), sa.Column("status", sa.String),
                sa.Column("start_time", sa.BigInteger), sa.Column("end_time", sa.BigInteger),
                sa.Column("user_id", sa.String), sa.Column("artifact_uri", sa.String),
                sa.Column("lifecycle_stage", sa.String))
PARAMS = sa.Table("params", _META, sa.Column("run_uuid", sa.String(32)), sa.Column("key", sa.String),
                  sa.Column("value", sa.String))
TAGS = sa.Table("tags", _META, sa.Column("run_uuid", sa.String(32)), sa.Column("key", sa.String),
                sa.Column("value", sa.String))
LATEST_METRICS = sa.Table("latest_metrics", _META, sa.Column("run_uuid", sa.String(32)), sa.Column("key", sa.String),
                          sa.Column("value", sa.Float(precision=53)), sa.Column("is_nan", sa.Boolean))
METRICS = sa.Table("metrics", _META, sa.Column("run_uuid", sa.String(32)), sa.Column("key", sa.String),
                   sa.Column("value", sa.Float(precision=53)), sa.Column("is_nan", sa.Boolean),
                   sa.Column("step", sa.BigInteger), sa.Column("timestamp", sa.BigInteger))
LOGGED_MODELS = sa.Table("logged_models", _META, sa.Column("model_id", sa.String), sa.Column("experiment_id", sa.Integer))
_RUN_COLUMNS = ("run_uuid", "name", "experiment_id", "status", "start_time", "end_time", "user_id", "artifact_uri",
                "lifecycle_stage")

_ENTITY = {METRIC: LATEST_METRICS, PARAM: PARAMS, TAG: TAGS}

def _run_column(key: str) -> sa.Column:  # SqlRun.get_attribute_name, on our table
    return RUNS.c[{"run_name": "name", "run_id": "run_uuid"}.get(key, key)]


def prepare_store(url: str, first: bool = True) -> None:
    """Add our indexes and planner statistics (and WAL on SQLite, so our reads never block MLflow's writes).

    `first`: at start-up, full statistics; later calls only refresh what went stale.
    """
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            sqlite = engine.dialect.name == "sqlite"
            if sqlite and first:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            for ddl in INDEXES:
                if not sqlite and "(key, value, run_uuid)" in ddl:
                    # Param and tag values reach 8000 characters, past what a PostgreSQL btree entry holds.
                    ddl = ddl.replace("(key, value, run_uuid)", "(key, left(value, 200), run_uuid)")
                conn.exec_driver_sql(ddl)
            if not sqlite:
                _pg_statistics(conn)
            if sqlite:
                has_stats = conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first() is not None
                # A full ANALYZE once (seconds at 100k runs); afterwards SQLite refreshes only stale statistics.
                conn.exec_driver_sql("PRAGMA optimize" if has_stats else "ANALYZE")
            elif first:
                conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


# PostgreSQL: which values go with which key in params and tags (the same expression as the mlp_ index). Without them
# the planner takes a key and a value as independent: at 200k runs it expected 4,477 runs for `params.p0 = 'v3'`
# (19,776 match), and that estimate is what a page shows as its total (RunSearch.page_estimated); with them, 19-21k.
STATISTICS = [f"CREATE STATISTICS IF NOT EXISTS mlp_{t}_key_value (mcv) ON key, left(value, 200) FROM {t}"
              for t in ("params", "tags")]


def _pg_statistics(conn: sa.Connection) -> None:
    for ddl in STATISTICS:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(ddl)
        except sa.exc.DBAPIError:  # before PostgreSQL 14 statistics take no expressions: the estimates stay rough
            pass


@dataclass
class RunQuery:
    experiment_ids: list[str]
    filter: str = ""
    order_by: list[str] = field(default_factory=list)
    limit: int = 50
    offset: int = 0


@dataclass
class RunRow:
    run_id: str
    run_name: str | None
    experiment_id: str
    status: str
    start_time: int | None
    end_time: int | None
    user: str | None
    artifact_uri: str | None
    lifecycle_stage: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


_COMPARE = {"=": lambda c, v: c == v, "!=": lambda c, v: c != v, "<": lambda c, v: c < v,
            "<=": lambda c, v: c <= v, ">": lambda c, v: c > v, ">=": lambda c, v: c >= v}


class RunSearch:
    """Queries over MLflow's store for one set of experiments."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        # The page's count runs beside its ids and rows, on a second connection (the database works on both at once).
        self._count_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mlp-run-count")
        # PostgreSQL: (experiments, filter) -> (snapshot, count), the most recent 256 (see _count).
        self._totals: OrderedDict[tuple, tuple[str, int]] = OrderedDict()
        self._totals_lock = threading.Lock()
        self._keep_totals = True

    def _filters(self, parsed: list[dict[str, Any]]):
        """WHERE clauses on runs, and inner joins (table, on-clause) for param/metric/tag conditions.

        (key, run) is unique in params, latest_metrics and tags, so an inner join keeps one row per run, and it
        lets the database choose the most selective condition to start from.
        """
        run = RUNS
        clauses, joins = [], []
        for f in parsed:
            comparator = f["comparator"].upper()
            key, value = translate_key_alias(f["key"]), f["value"]
            if is_fast(f):  # what the fast path parses: MLflow's comparison is plain SQL here
                kind, compare = f["type"], _COMPARE[comparator]
            else:
                SearchUtils = search_utils()  # noqa: N806
                key_type = f["type"]
                compare = SearchUtils.get_sql_comparison_func(comparator, self.dialect)
                if SearchUtils.is_string_attribute(key_type, key, comparator) or SearchUtils.is_numeric_attribute(
                    key_type, key, comparator
                ):
                    if key == "run_name":
                        t = TAGS.alias()
                        clauses.append(exists().where(t.c.run_uuid == run.c.run_uuid, t.c.key == RUN_NAME_TAG,
                                                      compare(t.c.value, value)))
                    else:
                        clauses.append(compare(_run_column(key), value))
                    continue
                if SearchUtils.is_metric(key_type, comparator):
                    kind = METRIC
                elif SearchUtils.is_param(key_type, comparator):
                    kind = PARAM
                elif SearchUtils.is_tag(key_type, comparator):
                    kind = TAG
                else:
                    raise InvalidSearch(f"Filtering on {key_type} '{key}' is not supported here",
                                        detail=[{"field": "filter"}])
            if kind == METRIC and comparator not in ("IS NULL", "IS NOT NULL"):
                value = float(value)
            e = _ENTITY[kind].alias()
            if comparator in ("IS NULL", "IS NOT NULL"):
                present = exists().where(e.c.run_uuid == run.c.run_uuid, e.c.key == key)
                clauses.append(~present if comparator == "IS NULL" else present)
                continue
            val = compare(e.c.value, value)
            if kind == METRIC:
                val = or_(val, e.c.is_nan == true()) if comparator == "!=" else and_(val, e.c.is_nan == false())
            elif comparator == "=" and self.dialect == "postgresql" and isinstance(value, str):
                # PostgreSQL's mlp_ index holds left(value, 200) (prepare_store): the same condition on that
                # expression lets the planner use it (at 1M runs it scanned all of params instead; issue 17). For a
                # value under 200 characters the expression alone is the same condition, and the planner then takes
                # its selectivity from the index's statistics (with both, it multiplied two guesses: 103 rows
                # expected for 19,776, and sorted them all rather than read the page's metric index in order).
                val = (func.left(e.c.value, 200) == value if len(value) < 200
                       else and_(val, func.left(e.c.value, 200) == value[:200]))
            joins.append((e, and_(e.c.run_uuid == run.c.run_uuid, e.c.key == key, val)))
        return clauses, joins

    def _ordered(self, q, order: list[tuple[str, str, bool]], lead: list | None = None, first: int = 0):
        """q ordered as MLflow orders: for each key its rank (missing, and for metrics NaN, last), then its value;
        then start time (newest first) unless a key is it, then run id. `lead`: clauses that replace the keys before
        `order` (the keyset segments' first key, whose rank the segment fixes); `first`: the index of order[0]."""
        run = RUNS
        clauses, by_start = list(lead or []), False
        for i, (key_type, key, ascending) in enumerate(order, start=first):
            if key_type == ATTRIBUTE:
                value = _run_column(key)
                by_start = by_start or key == "start_time"
                rank = case((value.is_(None), 1), else_=0)
            else:
                entity = _ENTITY.get(key_type)
                if entity is None:
                    raise InvalidSearch(f"Cannot order by {key_type} '{key}'", detail=[{"field": "order_by"}])
                e = entity.alias(f"o{i}")
                q = q.outerjoin(e, and_(e.c.run_uuid == run.c.run_uuid, e.c.key == key))
                value = e.c.value
                if entity is LATEST_METRICS:
                    rank = case((e.c.is_nan == true(), 1), (value.is_(None), 2), else_=0)
                else:
                    rank = case((value.is_(None), 1), else_=0)
            clauses += [rank, value if ascending else value.desc()]
        if not by_start:
            clauses.append(run.c.start_time.desc())
        clauses.append(run.c.run_uuid)
        return q.order_by(*clauses)

    def page(self, query: RunQuery) -> tuple[list[RunRow], int]:
        """One page of runs and the number of runs that match (exact)."""
        rows, total, _ = self.page_estimated(query, estimate=False)
        return rows, total

    def page_estimated(self, query: RunQuery, estimate: bool = True) -> tuple[list[RunRow], int, bool]:
        """One page of runs, the number of runs that match, and whether that number is exact.

        With `estimate` on PostgreSQL, when the kept total cannot be reused and the planner expects more than
        ESTIMATE_ABOVE matching runs, the number is the planner's estimate (exact counting of 100k matching runs of
        1M took 0.7 s of a 0.7 s page; issue 17); `count` gives the exact one. A page that ends before its limit
        knows its total exactly (offset + its runs)."""
        if not query.experiment_ids:
            parse_filter(query.filter)
            parse_order_by(query.order_by)
            return [], 0, True
        order = parse_order_by(query.order_by)
        ids_q, count_q = self._statements(query)
        postgres = self.dialect == "postgresql"
        total = self._count_pool.submit(self._count, count_q, self._total_key(query),
                                        ids_q if postgres and estimate else None)
        with self.engine.connect() as conn:
            if postgres and order and order[0][0] == METRIC and query.offset + query.limit <= KEYSET_DEPTH:
                ids = self._keyset_ids(conn, ids_q, order, query.limit, query.offset)
            else:
                ids = list(conn.execute(self._ordered(ids_q, order).limit(query.limit).offset(query.offset))
                           .scalars().all())
            rows = self._hydrate(conn, ids)
        count, exact = total.result()
        if not exact:
            seen = query.offset + len(ids)
            if len(ids) < query.limit and (ids or not query.offset):
                count, exact = seen, True  # the page ended before its limit: this is every matching run
            else:
                count = max(count, seen)
        return rows, count, exact

    def count(self, query: RunQuery) -> int:
        """The exact number of runs the filter matches (kept as the page's total is: see _count)."""
        if not query.experiment_ids:
            parse_filter(query.filter)
            return 0
        _, count_q = self._statements(query)
        return self._count(count_q, self._total_key(query))[0]

    def _total_key(self, query: RunQuery) -> tuple | None:
        return (tuple(query.experiment_ids), query.filter) if self.dialect == "postgresql" else None

    def _statements(self, query: RunQuery):
        """The statements of the matching runs' ids (unordered) and of their count."""
        parsed = parse_filter(query.filter)
        run = RUNS
        try:
            clauses, joins = self._filters(parsed)
        except ValueError as e:  # a metric compared with something that is not a number
            raise InvalidSearch(f"Invalid filter: {e}", detail=[{"field": "filter"}]) from e
        except Exception as e:
            from mlflow.exceptions import MlflowException  # only MLflow's path raises it: imported by then

            if not isinstance(e, MlflowException):  # MLflow validates comparators as it builds clauses
                raise
            raise InvalidSearch(f"Invalid filter: {e.message}", detail=[{"field": "filter"}]) from e
        where = [run.c.experiment_id.in_([int(x) for x in query.experiment_ids]), run.c.lifecycle_stage == "active",
                 *clauses]
        ids_q, count_q = select(run.c.run_uuid), select(func.count()).select_from(run)
        for entity, on in joins:
            ids_q, count_q = ids_q.join(entity, on), count_q.join(entity, on)
        return ids_q.where(*where), count_q.where(*where)

    def _keyset_ids(self, conn: sa.Connection, ids_q, order: list[tuple[str, str, bool]], limit: int,
                    offset: int) -> list[str]:
        """A page sorted by a metric first, read segment by segment in MLflow's order: the runs with a value (from
        the (key, is_nan, value) index in order, so the database stops after the page's runs instead of sorting
        every matching run by MLflow's rank CASE, which no index serves: 1.5 s at 1M runs on PostgreSQL), then
        those whose value is NaN, then those without the metric; a later segment is read only when the page
        reaches it, and its offset is what the earlier segments left of the page's offset."""
        run, e = RUNS, LATEST_METRICS.alias("o0")
        _, key, ascending = order[0]
        ids: list[str] = []
        skip = offset
        # Parallel workers read ahead of the page (each its own share of the index) and take a while to start on a
        # busy machine: 98-176 ms against 21-39 ms without, for the same 50 runs of 200k (EXPLAIN ANALYZE).
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        for segment in range(3):
            if segment < 2:  # a value (is_nan false), then NaN; within each, by value as MLflow does
                q = ids_q.join(e, and_(e.c.run_uuid == run.c.run_uuid, e.c.key == key,
                                       e.c.is_nan == (true() if segment else false())))
                lead = [e.c.value if ascending else e.c.value.desc()]
            else:  # no such metric: start time and run id decide
                q, lead = ids_q.where(~exists().where(e.c.run_uuid == run.c.run_uuid, e.c.key == key)), []
            want = limit - len(ids)
            got = conn.execute(self._ordered(q, order[1:], lead, first=1).limit(want).offset(skip)).scalars().all()
            ids += got
            if len(got) >= want or segment == 2:
                break
            # This segment ends before the page does: how many of its runs the page's offset skipped.
            if got or not skip:
                skipped = skip
            else:
                skipped = conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            skip -= skipped
        return ids

    def _count(self, count_q, key: tuple | None, estimate_q=None) -> tuple[int, bool]:
        """The number of runs the filter matches, and whether it is exact. On PostgreSQL the count is kept with the
        snapshot it was taken in and reused while the database's snapshot is the same one (no transaction has
        committed since, anywhere in the cluster: then the same rows are visible, so the same count, exactly);
        counting 100k matching runs of 1M took 0.7 s per page. `estimate_q` (the matching ids' statement): when the
        kept count is not reusable and the planner expects more than ESTIMATE_ABOVE runs, its estimate instead."""
        with self.engine.connect() as conn:
            if key is not None and self._keep_totals:
                with self._totals_lock:
                    kept = self._totals.get(key)
                if kept is not None and conn.execute(_SNAPSHOT).scalar_one() == kept[0]:
                    return kept[1], True
            if estimate_q is not None:
                guess = _planner_rows(conn, estimate_q)
                if guess > ESTIMATE_ABOVE:
                    return guess, False
            if key is None or not self._keep_totals:
                return conn.execute(count_q).scalar_one(), True
            try:
                total, snapshot = conn.execute(count_q.add_columns(_SNAPSHOT_COLUMN)).one()
            except sa.exc.ProgrammingError:  # PostgreSQL before 13 has no pg_current_snapshot: count every time
                conn.rollback()
                self._keep_totals = False
                return conn.execute(count_q).scalar_one(), True
        with self._totals_lock:
            self._totals[key] = (snapshot, total)
            self._totals.move_to_end(key)
            while len(self._totals) > 256:
                self._totals.popitem(last=False)
        return total, True

    def get(self, run_ids: list[str]) -> list[RunRow]:
        with self.engine.connect() as conn:
            return self._hydrate(conn, run_ids)

    def _hydrate(self, conn: sa.Connection, ids: list[str]) -> list[RunRow]:
        """The runs' rows, then their params, latest metrics and tags in one statement: two round trips to the
        database whatever the page size (on a loaded machine each trip waits for the database process to be
        scheduled), fetched whole (row by row through SQLAlchemy's iterator took 8x as long at 50 runs x 40 values)."""
        if not ids:
            return []
        by_id: dict[str, RunRow] = {}
        q = _HYDRATE
        for (rid, name, exp, status, start, end, user, uri, stage) in conn.execute(q["runs"], {"ids": ids}).all():
            by_id[rid] = RunRow(run_id=rid, run_name=name, experiment_id=str(exp), status=status, start_time=start,
                                end_time=end, user=user, artifact_uri=uri, lifecycle_stage=stage)
        for kind, rid, k, text_value, number, nan in conn.execute(q["values"], {"ids": ids}).all():
            row = by_id[rid]
            if kind == 0:
                row.params[k] = text_value
            elif kind == 1:
                row.metrics[k] = None if nan or number is None or math.isnan(number) else float(number)
            else:
                row.tags[k] = text_value
                if k == RUN_NAME_TAG and not row.run_name:
                    row.run_name = text_value
        return [by_id[i] for i in ids if i in by_id]

    def columns(self, experiment_ids: list[str]) -> dict[str, list[str]]:
        run = RUNS
        in_exp = select(run.c.run_uuid).where(run.c.experiment_id.in_([int(x) for x in experiment_ids]),
                                              run.c.lifecycle_stage == "active")
        out = {}
        with self.engine.connect() as conn:
            for name, entity in (("params", PARAMS), ("metrics", LATEST_METRICS), ("tags", TAGS)):
                keys = conn.execute(select(entity.c.key).where(entity.c.run_uuid.in_(in_exp)).distinct()
                                    .order_by(entity.c.key))
                out[name] = [k for (k,) in keys]
        return out

    def metric_history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        mt = METRICS
        q = (select(mt.c.step, mt.c.timestamp, mt.c.value, mt.c.is_nan)
             .where(mt.c.run_uuid == run_id, mt.c.key == key).order_by(mt.c.step, mt.c.timestamp))
        with self.engine.connect() as conn:
            return [{"step": s, "timestamp": ts, "value": None if nan else v} for s, ts, v, nan in conn.execute(q)]

    def experiment_of_run(self, run_id: str) -> str | None:
        with self.engine.connect() as conn:
            exp = conn.execute(select(RUNS.c.experiment_id).where(RUNS.c.run_uuid == run_id)).scalar_one_or_none()
        return None if exp is None else str(exp)

    def experiment_of_model(self, model_id: str) -> str | None:
        with self.engine.connect() as conn:
            exp = conn.execute(select(LOGGED_MODELS.c.experiment_id).where(LOGGED_MODELS.c.model_id == model_id)
                               ).scalar_one_or_none()
        return None if exp is None else str(exp)


_SNAPSHOT_COLUMN = sa.cast(func.pg_current_snapshot(), sa.Text)
_SNAPSHOT = select(_SNAPSHOT_COLUMN)


def _planner_rows(conn: sa.Connection, q) -> int:
    """PostgreSQL's estimate of the rows `q` returns: EXPLAIN (FORMAT JSON) plans it without running it (a few ms;
    its values stay bound parameters)."""
    compiled = q.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _in_ids(sql: str) -> sa.TextClause:
    return text(sql).bindparams(bindparam("ids", expanding=True))


# Plain text statements: no ORM entities to build and no result types to process per row.
_HYDRATE = {
    "runs": _in_ids(f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE run_uuid IN :ids"),
    # (kind, run, key, text value, number, is_nan): 0 param, 1 latest metric, 2 tag
    "values": _in_ids(
        "SELECT 0, run_uuid, key, value, CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BOOLEAN) FROM params"
        " WHERE run_uuid IN :ids"
        " UNION ALL SELECT 1, run_uuid, key, NULL, value, is_nan FROM latest_metrics WHERE run_uuid IN :ids"
        " UNION ALL SELECT 2, run_uuid, key, value, NULL, NULL FROM tags WHERE run_uuid IN :ids"),
}
