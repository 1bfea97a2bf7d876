"""Monitor evaluation time against the length of the prediction log: incremental (the monitor's cursor) vs the
full read it replaced (peer) vs the floor, at 10k and 1M logged rows.

A real Iceberg prediction log (local warehouse) holds `--rows` logged predictions (one-row MLflow
`dataframe_split` requests of 3 features, answers with probabilities; appended 10,000 rows a commit, as the log's
committer does with its spool files), then trimmed as the committer trims it (`Catalog.trim`: snapshots beyond the
newest `LOG_SNAPSHOTS` expired, manifests merged from then on; the committer expires only snapshots older than its
10-minute record window, which this log, written in seconds, stands for: `--no-trim` keeps every snapshot). A monitor with windows of `--new` rows has evaluated it all once. Each
timed round appends `--new` more rows (one new window; not timed), then evaluates:
- incremental: load the cursor from disk, read what was appended since its snapshots (`Catalog.appended`), take it
  in (`cursor.advance`), compute the new window's drift and the newest windows' performance, save the cursor;
- full read (the path before): read and parse the whole log (`log_frame`), cut every version into windows, compute
  the same verdicts;
- floor: read only the new rows (the same incremental scan), parse them and compute the new window's drift test.
The verdicts of the three are checked equal each round. Storing the windows in the platform DB (the same for all)
is not timed.

Run: nice -n 10 .venv/bin/python -m tests.bench.bench_monitor_eval [--rows 10000 1000000 --new 500 --rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa

SLUG, DEP = "bench", "risk-api"
SCHEMA = pa.schema([("prediction_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("model", pa.string()),
                    ("version", pa.int64()), ("protocol", pa.string()), ("latency_ms", pa.float64()),
                    ("request", pa.string()), ("response", pa.string())])
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def batch(n: int, start: int, rng: np.random.Generator) -> pa.Table:
    x = rng.normal(size=(n, 3))
    p = 1 / (1 + np.exp(-(x[:, 0] + 0.5 * x[:, 1])))
    requests = [json.dumps({"dataframe_split": {"columns": ["x1", "x2", "x3"], "data": [row]}})
                for row in x.round(6).tolist()]
    responses = [json.dumps({"predictions": [int(q > 0.5)], "classes": [0, 1], "probabilities": [[1 - q, q]]})
                 for q in p.round(6).tolist()]
    ts = [T0 + timedelta(milliseconds=10 * (start + i)) for i in range(n)]
    cols = [[uuid.uuid4().hex for _ in range(n)], ts, ["risk"] * n, [1] * n, ["mlflow"] * n, [1.0] * n, requests,
            responses]
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, SCHEMA)], schema=SCHEMA)


def verdict_of(parts, profile) -> dict:  # noqa: ANN001
    """What an evaluation stores when one window is new and no labels came: its drift and performance (the
    newest windows' stored performance stands, their labels unchanged)."""
    from jupyter_mlp_backend.monitoring.windows import window_drift, window_performance

    out = {}
    for part in parts:
        seq, rows = part.windows[-1]
        out[seq] = (window_drift(profile, rows), window_performance(rows, {"roc_auc": 0.9}, {}))
    return out


def run(rows: int, new: int, rounds: int, peer_rounds: int, profile, trim: bool = True) -> dict:  # noqa: ANN001
    from jupyter_mlp_backend.datasets.catalog import Catalog
    from jupyter_mlp_backend.serving import predlog
    from jupyter_mlp_backend.monitoring import cursor
    from jupyter_mlp_backend.monitoring.windows import full_parts, log_frame, parse_rows, window_drift

    rng = np.random.default_rng(rows)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        catalog = Catalog(home)
        table = f"predictions_{DEP.replace('-', '_')}"
        t = time.perf_counter()
        for start in range(0, rows, 10_000):
            catalog.append_arrow(SLUG, table, batch(min(10_000, rows - start), start, rng))
        if trim:
            catalog.trim(SLUG, table, predlog.LOG_SNAPSHOTS, int(time.time() * 1000))
        build_s = time.perf_counter() - t
        ice = catalog._open().load_table(f"p_{SLUG}.{table}")
        shape = {"snapshots": len(ice.snapshots()), "manifests": len(ice.current_snapshot().manifests(ice.io))}
        key = (1, new, None, "bench")

        def incremental() -> dict:
            c = cursor.load(home, 1, key)
            preds, fb, c = cursor.read_new(catalog, SLUG, DEP, c)
            parts = cursor.advance(c, preds, fb, new, None, cursor.known_ids(catalog, SLUG, DEP, c.pred_position))
            out = verdict_of(parts, profile)
            cursor.save(home, 1, c)
            return out

        t = time.perf_counter()
        incremental()  # the monitor's first evaluation: the whole log, once
        first_s = time.perf_counter() - t
        logged = rows
        inc, peer, floor = [], [], []
        for r in range(rounds):
            before = catalog.appended(SLUG, table, None, ("prediction_id",))[1]
            catalog.append_arrow(SLUG, table, batch(new, logged, rng))
            logged += new
            t = time.perf_counter()
            ours = incremental()
            inc.append(time.perf_counter() - t)
            t = time.perf_counter()
            data, _ = catalog.appended(SLUG, table, before)
            got, _ = parse_rows(sorted(data.to_pylist(), key=lambda x: x["ts"]))
            least = window_drift(profile, got.frame())
            floor.append(time.perf_counter() - t)
            assert least == next(iter(ours.values()))[0]
            if r < peer_rounds:
                t = time.perf_counter()
                frame = log_frame(SimpleNamespace(state=SimpleNamespace(datasets=catalog)), SLUG, DEP)
                theirs = verdict_of(full_parts(frame, new, None), profile)
                peer.append(time.perf_counter() - t)
                assert theirs == ours, "incremental and full read disagree"
        return {"rows": rows, "build_s": build_s, "first_s": first_s, "incremental_s": statistics.median(inc),
                "full_s": statistics.median(peer) if peer else None, "floor_s": statistics.median(floor),
                "rounds": rounds, "peer_rounds": len(peer), **shape}


def main() -> None:
    from jupyter_mlp_backend.monitoring import drift
    from tests.bench._floor import print_ratios

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--new", type=int, default=500, help="rows per evaluation (= the window size)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--peer-rounds", type=int, default=1, help="rounds that also time the full read")
    ap.add_argument("--no-trim", action="store_true", help="keep every snapshot of the log (as before issue 17)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    profile = drift.build_profile(pd.DataFrame(rng.normal(size=(20_000, 3)), columns=["x1", "x2", "x3"]),
                                  window_size=args.new)
    results = [run(n, args.new, args.rounds, args.peer_rounds, profile, not args.no_trim) for n in args.rows]
    print(f"{'logged rows':>12} {'incremental':>12} {'full read':>10} {'floor':>9} {'full/incr':>9} "
          f"{'incr/floor':>10} {'first eval':>10} {'snapshots':>9} {'manifests':>9}")
    for r in results:
        full = f"{r['full_s'] * 1000:8.0f}ms" if r["full_s"] else "       -"
        ratio = f"{r['full_s'] / r['incremental_s']:8.1f}x" if r["full_s"] else "       -"
        print(f"{r['rows']:>12,} {r['incremental_s'] * 1000:10.1f}ms {full:>10} {r['floor_s'] * 1000:7.1f}ms "
              f"{ratio:>9} {r['incremental_s'] / r['floor_s']:9.2f}x {r['first_s']:9.1f}s {r['snapshots']:>9} "
              f"{r['manifests']:>9}")
    for r in results:  # per log length: the full read (the path before) over ours; ours over the floor
        print_ratios(r["full_s"] / r["incremental_s"] if r["full_s"] else None, f"full read / ours, {r['rows']:,} rows",
                     r["incremental_s"] / r["floor_s"], f"ours / new rows only, {r['rows']:,} rows")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
