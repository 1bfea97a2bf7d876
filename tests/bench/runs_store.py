"""Fill an MLflow store with many runs quickly: MLflow creates its schema, rows go in by bulk insert.

Used by the search benchmark (100,000 runs × 20 params × 20 metrics) and, at a smaller size, by the test that
checks our search returns exactly what MLflow's does.
"""

from __future__ import annotations

import io
import random
import uuid
from pathlib import Path

import sqlalchemy as sa

N_PARAMS = 20
N_METRICS = 20


def _url(db: Path | str) -> str:
    return f"sqlite:///{db}" if isinstance(db, Path) else db


def create_store(db: Path | str, artifacts: Path) -> str:
    """An empty MLflow store (MLflow's own migrations) with one experiment; returns the experiment id.

    `db`: a SQLite file path, or an SQLAlchemy URL (PostgreSQL).
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(_url(db), str(artifacts))
    exp_id = store.create_experiment("bench")
    store.engine.dispose()
    return exp_id


def fill(db: Path | str, experiment_id: str, n_runs: int, seed: int = 7, nan_every: int = 0,
         chunk: int = 20_000) -> None:
    """Add `n_runs` finished runs: params p0..p19 (p0 takes 10 values, p1 100, the rest 1000), metrics m0..m19.

    Some runs lack metric m1 and param p2, so ordering and filtering meet missing values too; with `nan_every`,
    every n-th run's m0 is NaN. Rows go in `chunk` runs at a time (1M runs do not fit in memory at once), by COPY
    on PostgreSQL; the rows are the same whatever the chunk.
    """
    rng = random.Random(seed)
    engine = sa.create_engine(_url(db))
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA synchronous=OFF")
            for first in range(0, n_runs, chunk):
                _insert(conn, _rows(rng, experiment_id, range(first, min(n_runs, first + chunk)), nan_every))
    finally:
        engine.dispose()


_COLS = {
    "runs": ("run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id", "status",
             "start_time", "end_time", "source_version", "lifecycle_stage", "artifact_uri", "experiment_id"),
    "params": ("key", "value", "run_uuid"),
    "latest_metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "run_uuid", "step", "is_nan"),
    "tags": ("key", "value", "run_uuid"),
}


def _rows(rng: random.Random, experiment_id: str, indexes: range, nan_every: int) -> dict[str, list[tuple]]:
    runs, params, latest, metrics, tags = [], [], [], [], []
    t0 = 1_700_000_000_000
    for i in indexes:
        rid = uuid.UUID(int=rng.getrandbits(128)).hex
        start = t0 + i * 1000 + rng.randint(0, 500)
        runs.append((rid, f"run-{i}", "LOCAL", "bench", "", "bench-user", "FINISHED", start, start + 5000, "",
                     "active", f"mlflow-artifacts:/{experiment_id}/{rid}/artifacts", int(experiment_id)))
        for p in range(N_PARAMS):
            if p == 2 and i % 7 == 0:
                continue
            cardinality = 10 if p == 0 else 100 if p == 1 else 1000
            params.append((f"p{p}", f"v{rng.randrange(cardinality)}", rid))
        for m in range(N_METRICS):
            if m == 1 and i % 5 == 0:
                continue
            value = round(rng.random(), 6)
            is_nan = bool(nan_every and m == 0 and i % nan_every == 0)
            if is_nan:
                value = 0.0  # MLflow stores NaN as 0 with is_nan set
            latest.append((f"m{m}", value, start + 4000, 9, is_nan, rid))
            metrics.append((f"m{m}", value, start + 4000, rid, 9, is_nan))
        tags += [("mlflow.runName", f"run-{i}", rid), ("mlflow.user", "bench-user", rid)]
    return {"runs": runs, "params": params, "latest_metrics": latest, "metrics": metrics, "tags": tags}


def _insert(conn, rows: dict[str, list[tuple]]) -> None:  # noqa: ANN001
    if conn.dialect.name == "postgresql":
        cur = conn.connection.dbapi_connection.cursor()
        for table, names in _COLS.items():
            sql = f"COPY {table} ({', '.join(names)}) FROM STDIN"
            if hasattr(cur, "copy"):  # psycopg 3
                with cur.copy(sql) as copy:
                    for r in rows[table]:
                        copy.write_row(r)
            else:  # psycopg2: the rows as text (no tabs, backslashes or newlines in them)
                cur.copy_expert(sql, io.StringIO("".join("\t".join(map(str, r)) + "\n" for r in rows[table])))
        return
    for table, names in _COLS.items():
        stmt = sa.text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})")
        data = [dict(zip(names, r)) for r in rows[table]]
        for i in range(0, len(data), 50_000):
            conn.execute(stmt, data[i:i + 50_000])
