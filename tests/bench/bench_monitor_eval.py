"""Monitor evaluation time against the length of the prediction log: incremental (the monitor's cursor) vs the
full read it replaced (peer) vs the floor, at 10k and 1M logged rows.

A real Iceberg prediction log (local warehouse) holds `--rows` logged predictions (one-row MLflow
`dataframe_split` requests of 3 features, answers with probabilities; appended 10,000 rows a commit by the
committer's own call, `Catalog.append_recorded` with a spool file's name recorded and the log trimmed as the
committer trims it; `--no-trim`: plain appends, every snapshot kept, as before issue 17). A monitor with windows of
`--new` rows has evaluated it all once. Each timed round appends `--new` more rows (one new window, one commit;
not timed), then evaluates:
- incremental: load the cursor from disk, read what was appended since its snapshots (`Catalog.appended`), take it
  in (`cursor.advance`), compute the new window's drift and the newest windows' performance, save the cursor;
- full read (the path before): read and parse the whole log (`log_frame`), cut every version into windows, compute
  the same verdicts;
- floor: read only the new rows (the same incremental scan), parse them and compute the new window's drift test.
The verdicts of the three are checked equal each round. Storing the windows in the platform DB (the same for all)
is not timed. Also counted per evaluation (not timed): the manifests and manifest entries its read opened, and the
log's snapshots and manifest list at the end.

The logs of every length are built first, then their timed rounds alternate (round 1 of each, round 2 of each,
...), so the N / 10k ratio is measured side by side under the same load.

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


OPENED = {"manifests": 0, "entries": 0}


def count_manifests() -> None:
    """Count the manifests (and their entries) every read opens: pyiceberg's own read, wrapped."""
    import pyiceberg.manifest as manifest

    fetch = manifest.ManifestFile.fetch_manifest_entry

    def counted(self, io, discard_deleted=True):  # noqa: ANN001, ANN202
        entries = fetch(self, io, discard_deleted)
        OPENED["manifests"] += 1
        OPENED["entries"] += len(entries)
        return entries

    manifest.ManifestFile.fetch_manifest_entry = counted


def commit(catalog, table: str, data: pa.Table, trim: bool) -> None:  # noqa: ANN001
    """Append as the log's committer does (its record of a spool file's name, the log trimmed), or plainly."""
    from jupyter_mlp_backend.serving import predlog

    if not trim:
        catalog.append_arrow(SLUG, table, data)
        return
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}.parquet"
    args = (SLUG, table, [name], lambda fresh: data, data.schema, predlog.RECORD,
            predlog._name_ms(name) - predlog.CLOCK_SLACK_MS)
    try:
        catalog.append_recorded(*args, keep_last=predlog.LOG_SNAPSHOTS, live=lambda recorded: set())
    except TypeError:  # a tree before the record was a table property (for a before/after run)
        catalog.append_recorded(*args, keep_last=predlog.LOG_SNAPSHOTS)


def run(rows: int, new: int, rounds: int, peer_rounds: int, profile, trim: bool = True):  # noqa: ANN001, ANN201
    """A generator: yields once the log is built and evaluated once, then after each round, then the results
    (`main` alternates the rounds of the log lengths, so their ratio is measured side by side)."""
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
            commit(catalog, table, batch(min(10_000, rows - start), start, rng), trim)
        build_s = time.perf_counter() - t
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
        yield None
        logged = rows
        inc, peer, floor, opened = [], [], [], []
        for r in range(rounds):
            before = catalog.appended(SLUG, table, None, ("prediction_id",))[1]
            commit(catalog, table, batch(new, logged, rng), trim)
            logged += new
            OPENED.update(manifests=0, entries=0)
            t = time.perf_counter()
            ours = incremental()
            inc.append(time.perf_counter() - t)
            opened.append((OPENED["manifests"], OPENED["entries"]))
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
            yield None
        ice = catalog._open().load_table(f"p_{SLUG}.{table}")
        shape = {"snapshots": len(ice.snapshots()), "manifests": len(ice.current_snapshot().manifests(ice.io)),
                 "opened_manifests": max(m for m, _ in opened), "opened_entries": max(e for _, e in opened)}
        yield {"rows": rows, "build_s": build_s, "first_s": first_s, "incremental_s": statistics.median(inc),
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
    count_manifests()
    rng = np.random.default_rng(0)
    profile = drift.build_profile(pd.DataFrame(rng.normal(size=(20_000, 3)), columns=["x1", "x2", "x3"]),
                                  window_size=args.new)
    runs = [run(n, args.new, args.rounds, args.peer_rounds, profile, not args.no_trim) for n in args.rows]
    for r in runs:  # every log built and evaluated once, then their rounds alternate
        next(r)
    for _ in range(args.rounds):
        for r in runs:
            next(r)
    results = [next(r) for r in runs]
    print(f"{'logged rows':>12} {'incremental':>12} {'full read':>10} {'floor':>9} {'full/incr':>9} "
          f"{'incr/floor':>10} {'first eval':>10} {'snapshots':>9} {'manifests':>9} {'opened (most)':>14}")
    for r in results:
        full = f"{r['full_s'] * 1000:8.0f}ms" if r["full_s"] else "       -"
        ratio = f"{r['full_s'] / r['incremental_s']:8.1f}x" if r["full_s"] else "       -"
        print(f"{r['rows']:>12,} {r['incremental_s'] * 1000:10.1f}ms {full:>10} {r['floor_s'] * 1000:7.1f}ms "
              f"{ratio:>9} {r['incremental_s'] / r['floor_s']:9.2f}x {r['first_s']:9.1f}s {r['snapshots']:>9} "
              f"{r['manifests']:>9} {r['opened_manifests']:>5} / {r['opened_entries']:<6}")
    if len(results) > 1:
        print(f"incremental {results[-1]['rows']:,} rows / {results[0]['rows']:,} rows: "
              f"{results[-1]['incremental_s'] / results[0]['incremental_s']:.2f}x; floor: "
              f"{results[-1]['floor_s'] / results[0]['floor_s']:.2f}x")
    for r in results:  # per log length: the full read (the path before) over ours; ours over the floor
        print_ratios(r["full_s"] / r["incremental_s"] if r["full_s"] else None, f"full read / ours, {r['rows']:,} rows",
                     r["incremental_s"] / r["floor_s"], f"ours / new rows only, {r['rows']:,} rows")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
