"""Run search straight on MLflow's store, for the Experiments panel and `mlp runs`.

MLflow's own `search_runs` hydrates every run object it touches and sorts through CASE expressions that keep
databases from using an index; at 100k runs a sorted, filtered first page takes seconds. This module keeps
MLflow's semantics — its filter grammar and parser, its comparison functions, its ordering (missing and NaN
values last, then start time descending, then run id) — and changes only the plan: a narrow query for the page's
run ids, with indexes on what the panel sorts and filters by, then one query per table for those ids.
`tests/experiments/test_search.py` checks the results equal MLflow's on the same store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, and_, case, exists, false, func, or_, select, true
from sqlalchemy.orm import aliased

from ..errors import Invalid

MAX_FILTER_LENGTH = 4000
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


class InvalidSearch(Invalid):
    status = 400
    code = "invalid_filter"


def _models():
    # MLflow's ORM models of its own store: the schema stays MLflow's to define and migrate.
    from mlflow.store.tracking.dbmodels import models

    return models


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
            if sqlite:
                has_stats = conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first() is not None
                # A full ANALYZE once (seconds at 100k runs); afterwards SQLite refreshes only stale statistics.
                conn.exec_driver_sql("PRAGMA optimize" if has_stats else "ANALYZE")
            elif first:
                conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()


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


def parse_filter(text: str) -> list[dict[str, Any]]:
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidSearch(f"The filter is {len(text)} characters long; the limit is {MAX_FILTER_LENGTH}.")
    if not text.strip():
        return []
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    try:
        return SearchUtils.parse_search_filter(text)
    except MlflowException as e:
        raise InvalidSearch(f"Invalid filter: {e.message}", detail=[{"field": "filter"}]) from e
    except Exception as e:  # sqlparse raises its own errors on garbage
        raise InvalidSearch(f"Invalid filter: {e}", detail=[{"field": "filter"}]) from e


def parse_order_by(items: list[str]) -> list[tuple[str, str, bool]]:
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    out, seen = [], set()
    for item in items:
        if len(item) > 500:
            raise InvalidSearch("An order_by clause is longer than 500 characters.", detail=[{"field": "order_by"}])
        try:
            key_type, key, ascending = SearchUtils.parse_order_by_for_search_runs(item)
        except MlflowException as e:
            raise InvalidSearch(f"Invalid order_by: {e.message}", detail=[{"field": "order_by"}]) from e
        key = SearchUtils.translate_key_alias(key)
        if (key_type, key) in seen:
            raise InvalidSearch(f"order_by names {key_type} '{key}' twice", detail=[{"field": "order_by"}])
        seen.add((key_type, key))
        out.append((key_type, key, ascending))
    return out


class RunSearch:
    """Queries over MLflow's store for one set of experiments."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name

    def _filters(self, parsed: list[dict[str, Any]]):
        """WHERE clauses on runs, and inner joins (entity, on-clause) for param/metric/tag conditions.

        (key, run) is unique in params, latest_metrics and tags, so an inner join keeps one row per run, and it
        lets the database choose the most selective condition to start from.
        """
        from mlflow.utils.search_utils import SearchUtils

        m = _models()
        run = m.SqlRun
        clauses, joins = [], []
        for f in parsed:
            key_type, comparator = f["type"], f["comparator"].upper()
            key, value = SearchUtils.translate_key_alias(f["key"]), f["value"]
            compare = SearchUtils.get_sql_comparison_func
            if SearchUtils.is_string_attribute(key_type, key, comparator) or SearchUtils.is_numeric_attribute(
                key_type, key, comparator
            ):
                if key == "run_name":
                    t = m.SqlTag
                    clauses.append(exists().where(t.run_uuid == run.run_uuid, t.key == RUN_NAME_TAG,
                                                  compare(comparator, self.dialect)(t.value, value)))
                else:
                    col = getattr(run, run.get_attribute_name(key))
                    clauses.append(compare(comparator, self.dialect)(col, value))
                continue
            if SearchUtils.is_metric(key_type, comparator):
                entity, value = m.SqlLatestMetric, float(value) if comparator not in ("IS NULL", "IS NOT NULL") else value
            elif SearchUtils.is_param(key_type, comparator):
                entity = m.SqlParam
            elif SearchUtils.is_tag(key_type, comparator):
                entity = m.SqlTag
            else:
                raise InvalidSearch(f"Filtering on {key_type} '{key}' is not supported here",
                                    detail=[{"field": "filter"}])
            e = aliased(entity)
            if comparator in ("IS NULL", "IS NOT NULL"):
                present = exists().where(e.run_uuid == run.run_uuid, e.key == key)
                clauses.append(~present if comparator == "IS NULL" else present)
                continue
            val = compare(comparator, self.dialect)(e.value, value)
            if entity is m.SqlLatestMetric:
                val = or_(val, e.is_nan == true()) if comparator == "!=" else and_(val, e.is_nan == false())
            joins.append((e, and_(e.run_uuid == run.run_uuid, e.key == key, val)))
        return clauses, joins

    def _ordered(self, q, order: list[tuple[str, str, bool]]):
        from mlflow.utils.search_utils import SearchUtils

        m = _models()
        run = m.SqlRun
        clauses, by_start = [], False
        for i, (key_type, key, ascending) in enumerate(order):
            if SearchUtils.is_string_attribute(key_type, key, "=") or SearchUtils.is_numeric_attribute(
                key_type, key, "="
            ):
                value = getattr(run, run.get_attribute_name(key))
                by_start = by_start or key == "start_time"
                rank = case((value.is_(None), 1), else_=0)
            else:
                entity = {"metric": m.SqlLatestMetric, "parameter": m.SqlParam, "tag": m.SqlTag}.get(
                    "metric" if SearchUtils.is_metric(key_type, "=") else
                    "parameter" if SearchUtils.is_param(key_type, "=") else
                    "tag" if SearchUtils.is_tag(key_type, "=") else key_type
                )
                if entity is None:
                    raise InvalidSearch(f"Cannot order by {key_type} '{key}'", detail=[{"field": "order_by"}])
                e = aliased(entity, name=f"o{i}")
                q = q.outerjoin(e, and_(e.run_uuid == run.run_uuid, e.key == key))
                value = e.value
                if entity is m.SqlLatestMetric:
                    rank = case((e.is_nan == true(), 1), (value.is_(None), 2), else_=0)
                else:
                    rank = case((value.is_(None), 1), else_=0)
            clauses += [rank, value if ascending else value.desc()]
        if not by_start:
            clauses.append(run.start_time.desc())
        clauses.append(run.run_uuid)
        return q.order_by(*clauses)

    def page(self, query: RunQuery) -> tuple[list[RunRow], int]:
        """One page of runs and the number of runs that match."""
        parsed = parse_filter(query.filter)
        order = parse_order_by(query.order_by)
        if not query.experiment_ids:
            return [], 0
        m = _models()
        run = m.SqlRun
        from mlflow.exceptions import MlflowException

        try:
            clauses, joins = self._filters(parsed)
        except MlflowException as e:  # MLflow validates comparators as it builds clauses
            raise InvalidSearch(f"Invalid filter: {e.message}", detail=[{"field": "filter"}]) from e
        except ValueError as e:  # a metric compared with something that is not a number
            raise InvalidSearch(f"Invalid filter: {e}", detail=[{"field": "filter"}]) from e
        where = [run.experiment_id.in_([int(x) for x in query.experiment_ids]), run.lifecycle_stage == "active",
                 *clauses]
        ids_q, count_q = select(run.run_uuid), select(func.count()).select_from(run)
        for entity, on in joins:
            ids_q, count_q = ids_q.join(entity, on), count_q.join(entity, on)
        ids_q = self._ordered(ids_q.where(*where), order).limit(query.limit).offset(query.offset)
        count_q = count_q.where(*where)
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(ids_q)]
            total = conn.execute(count_q).scalar_one()
            rows = self._hydrate(conn, ids)
        return rows, total

    def get(self, run_ids: list[str]) -> list[RunRow]:
        with self.engine.connect() as conn:
            return self._hydrate(conn, run_ids)

    def _hydrate(self, conn: sa.Connection, ids: list[str]) -> list[RunRow]:
        if not ids:
            return []
        m = _models()
        run = m.SqlRun
        by_id: dict[str, RunRow] = {}
        for r in conn.execute(select(run).where(run.run_uuid.in_(ids))).mappings():
            by_id[r["run_uuid"]] = RunRow(
                run_id=r["run_uuid"], run_name=r["name"], experiment_id=str(r["experiment_id"]), status=r["status"],
                start_time=r["start_time"], end_time=r["end_time"], user=r["user_id"], artifact_uri=r["artifact_uri"],
                lifecycle_stage=r["lifecycle_stage"],
            )
        p, lm, t = m.SqlParam, m.SqlLatestMetric, m.SqlTag
        for rid, k, v in conn.execute(select(p.run_uuid, p.key, p.value).where(p.run_uuid.in_(ids))):
            by_id[rid].params[k] = v
        for rid, k, v, nan in conn.execute(
            select(lm.run_uuid, lm.key, lm.value, lm.is_nan).where(lm.run_uuid.in_(ids))
        ):
            by_id[rid].metrics[k] = None if nan or (isinstance(v, float) and math.isnan(v)) else v
        for rid, k, v in conn.execute(select(t.run_uuid, t.key, t.value).where(t.run_uuid.in_(ids))):
            by_id[rid].tags[k] = v
            if k == RUN_NAME_TAG and not by_id[rid].run_name:
                by_id[rid].run_name = v
        return [by_id[i] for i in ids if i in by_id]

    def columns(self, experiment_ids: list[str]) -> dict[str, list[str]]:
        m = _models()
        run = m.SqlRun
        in_exp = select(run.run_uuid).where(run.experiment_id.in_([int(x) for x in experiment_ids]),
                                            run.lifecycle_stage == "active")
        out = {}
        with self.engine.connect() as conn:
            for name, entity in (("params", m.SqlParam), ("metrics", m.SqlLatestMetric), ("tags", m.SqlTag)):
                keys = conn.execute(select(entity.key).where(entity.run_uuid.in_(in_exp)).distinct().order_by(entity.key))
                out[name] = [k for (k,) in keys]
        return out

    def metric_history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        m = _models()
        mt = m.SqlMetric
        q = (select(mt.step, mt.timestamp, mt.value, mt.is_nan)
             .where(mt.run_uuid == run_id, mt.key == key).order_by(mt.step, mt.timestamp))
        with self.engine.connect() as conn:
            return [{"step": s, "timestamp": ts, "value": None if nan else v} for s, ts, v, nan in conn.execute(q)]
