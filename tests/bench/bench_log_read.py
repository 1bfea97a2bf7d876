"""The part of a monitor evaluation that grew with the log's commits, side by side in one process, alternating:
the Iceberg read of the 500 rows appended since the cursor, on a log of 1 commit and of N commits, read as before
issue 17 (pyiceberg's incremental append scan from the cursor's snapshot id, every snapshot kept) and as now
(`Catalog.appended` from the cursor's sequence number, every commit made by the committer's own call,
`Catalog.append_recorded`, which records the spool file and trims the log). Commits of 1,000 rows: the metadata
grows per commit, not per row. Prints medians, the N-commit / 1-commit ratio of each way, and
each table's snapshots and manifests at the end.

Run: nice -n 10 .venv/bin/python -m tests.bench.bench_log_read [COMMITS=100] [ROUNDS=15]
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.bench.bench_monitor_eval import batch, commit, SLUG
from jupyter_mlp_backend.datasets.catalog import Catalog, _namespace
from pyiceberg.expressions import AlwaysTrue
rng = np.random.default_rng(0)
tmp = Path(tempfile.mkdtemp())
one = batch(1000, 0, rng); small = batch(500, 0, rng)  # metadata grows per commit, not per row
commits = int(sys.argv[1]) if len(sys.argv) > 1 else 100
logs = {}
for n in (1, commits):
    for trimmed in (False, True):
        cat = Catalog(tmp / f"{n}-{trimmed}")
        for _ in range(n):
            commit(cat, "t", one, trimmed)
        logs[(n, trimmed)] = cat

def before(cat):
    c = cat._open(); tb = c.load_table(f"{_namespace(SLUG)}.t"); since = tb.current_snapshot().snapshot_id
    cat.append_arrow(SLUG, "t", small)
    t = time.perf_counter()
    tb = c.load_table(f"{_namespace(SLUG)}.t")
    cur = tb.current_snapshot()
    data = tb.incremental_append_scan(from_snapshot_id_exclusive=since, to_snapshot_id_inclusive=cur.snapshot_id,
                                      row_filter=AlwaysTrue()).to_arrow()
    dt = time.perf_counter() - t
    assert data.num_rows == 500
    return dt

def after(cat):
    _, pos = cat.appended(SLUG, "t", None, ("prediction_id",))
    commit(cat, "t", small, True)
    t = time.perf_counter()
    data, _ = cat.appended(SLUG, "t", pos)
    dt = time.perf_counter() - t
    assert data.num_rows == 500
    return dt

res = {k: [] for k in [("before", 1), ("before", commits), ("after", 1), ("after", commits)]}
for r in range(int(sys.argv[2]) if len(sys.argv) > 2 else 15):
    res[("before", 1)].append(before(logs[(1, False)]))
    res[("before", commits)].append(before(logs[(commits, False)]))
    res[("after", 1)].append(after(logs[(1, True)]))
    res[("after", commits)].append(after(logs[(commits, True)]))
for k, v in res.items():
    print(k, f"{statistics.median(v)*1000:.1f} ms")
from tests.bench._floor import print_ratios  # noqa: E402

med = {k: statistics.median(v) for k, v in res.items()}
for way in ("before", "after"):
    print(way, f"{commits + 1}-commit log / 1-commit log: {statistics.median(res[(way, commits)]) / statistics.median(res[(way, 1)]):.2f}x")
for k, cat in logs.items():
    tb = cat._open().load_table(f"{_namespace(SLUG)}.t")
    print(k, "snapshots", len(tb.snapshots()), "manifests", len(tb.current_snapshot().manifests(tb.io)))
print_ratios(med[("before", commits)] / med[("after", commits)], f"before / now, {commits + 1}-commit log",
             med[("after", commits)] / med[("after", 1)], f"now, {commits + 1}-commit log / 1-commit log")
