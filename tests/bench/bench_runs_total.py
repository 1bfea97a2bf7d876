"""The runs page's total on PostgreSQL at many runs: the page answering with the planner's estimate against the page
counting exactly, alternated in-process on one store (issue 17, "1M runs on PostgreSQL < 300 ms").

    .venv/bin/python -m tests.bench.bench_runs_total --runs 200000 --rounds 7

The store is filled by the PostgreSQL server (runs_store.fill_postgres, 5 params and 5 metrics per run), our indexes
made by prepare_store. Each round commits a transaction first (as any write anywhere in the cluster does), so the
total kept from the previous round cannot be reused; then, in turn: the page as the panel gets it (estimate),
the follow-up exact count the panel asks next, the page counting exactly (RunSearch.page), and the floor (FLOOR_SQL of
bench_run_search: the page as one SQL on the indexes). The pages are checked to return the same runs, and the count
to equal the counting page's total.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from jupyter_mlp_backend.experiments.search import RunQuery, RunSearch, prepare_store
from tests.bench._floor import print_ratios
from tests.bench.bench_run_search import FILTER, FLOOR_SQL, ORDER, postgres_store
from tests.bench.runs_store import create_store, fill_postgres


def timed(fn):  # noqa: ANN001, ANN201
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    url, drop = postgres_store()
    try:
        t0 = time.perf_counter()
        exp = create_store(url, Path(tempfile.mkdtemp(prefix="mlp-bench-total-")) / "artifacts")
        fill_postgres(url, exp, args.runs, n_params=5, n_metrics=5, log=lambda m: print(m, flush=True))
        prepare_store(url)
        print(f"store: {args.runs} runs x 5 params x 5 metrics, indexed, in {time.perf_counter() - t0:.0f} s",
              flush=True)
        _bench(url, exp, args.rounds)
    finally:
        drop()


def _bench(url: str, exp: str, rounds: int) -> None:
    engine = sa.create_engine(url)
    search = RunSearch(engine)
    q = RunQuery([exp], FILTER, [ORDER], limit=50)
    times: dict[str, list[float]] = {"estimate": [], "count": [], "counting": [], "floor": []}
    with engine.connect() as floor_conn:
        for r in range(rounds + 1):  # round 0 warms up
            with engine.begin() as conn:  # a commit: the kept total is stale
                conn.exec_driver_sql("SELECT pg_current_xact_id()")
            t_est, (rows, guess, exact) = timed(lambda: search.page_estimated(q))
            t_count, total = timed(lambda: search.count(q))
            with engine.begin() as conn:
                conn.exec_driver_sql("SELECT pg_current_xact_id()")
            t_exact, (rows2, total2) = timed(lambda: search.page(q))
            t_floor, floor_ids = timed(lambda: floor_conn.execute(
                sa.text(FLOOR_SQL), {"exp": int(exp), "nan": False}).scalars().all())
            ids = [x.run_id for x in rows]
            assert ids == [x.run_id for x in rows2] == floor_ids, "the pages differ"
            assert total == total2, (total, total2)
            print(f"round {r}: estimate page {t_est:.1f} ms (total {guess}, exact {exact}), then exact count "
                  f"{t_count:.1f} ms ({total}); counting page {t_exact:.1f} ms; floor {t_floor:.1f} ms", flush=True)
            if r:
                for k, v in zip(times, (t_est, t_count, t_exact, t_floor), strict=True):
                    times[k].append(v)
    engine.dispose()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"median of {rounds}: page with the estimate {med['estimate']:.1f} ms (estimate {guess} for {total}), "
          f"follow-up count {med['count']:.1f} ms, page counting {med['counting']:.1f} ms, floor {med['floor']:.1f} ms")
    print_ratios(med["counting"] / med["estimate"], "page counting / page with the estimate",
                 med["estimate"] / med["floor"], "page with the estimate / one SQL on the indexes")


if __name__ == "__main__":
    main()
