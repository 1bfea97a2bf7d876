"""Encryption at rest (issue 20 item 3): what sealing costs the read paths of the files it covers.

A batch job's output (a Parquet file of scored rows, read whole by the download route and the runner's join) is
written plain and sealed (AES-256-GCM, 64 KiB segments, jupyter_mlp/at_rest.py) and read back as the platform reads
it: `at_rest.read_file` then `pandas.read_parquet` (`at_rest.source`: the path itself when plain, the decrypted bytes when sealed). Alternating repetitions in one run, medians; the floor is the
plain file read the way the platform read it before encryption existed (`pd.read_parquet(path)`), and the
encryption-off path (`at_rest.source` of a plain file: one 8-byte read more) is measured beside it. Raw
throughput of sealing and opening is printed too. No peer: the ratio is ours over the plain read.
A dataset read (an Iceberg table whose data files are sealed, datasets/sealed_io.py) is measured the same way.
Run: nice -n 10 .venv/bin/python -m tests.bench.bench_at_rest [--rows N] [--reps N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from jupyter_mlp import at_rest
from tests.bench._floor import print_ratios


def _median(fn, reps: int) -> float:  # noqa: ANN001
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--reps", type=int, default=9)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"f{i}": rng.normal(size=a.rows) for i in range(8)})
    frame["customer"] = [f"c{i:09d}" for i in range(a.rows)]
    frame["prediction"] = rng.integers(0, 2, size=a.rows)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    data = buf.getvalue()
    dk = at_rest.DataKey.generate()
    lookup = {dk.id: dk.key}.get
    with tempfile.TemporaryDirectory() as tmp:
        plain, sealed = Path(tmp, "plain.parquet"), Path(tmp, "sealed.parquet")
        at_rest.write_file(plain, data, None)
        at_rest.write_file(sealed, data, dk)
        mb = len(data) / 2**20
        t = {"before": [], "off": [], "on": [], "open": [], "seal": []}
        for _ in range(a.reps):  # alternating, so that load on the shared machine falls on all alike
            t["before"].append(_median(lambda: pd.read_parquet(plain), 1))
            t["off"].append(_median(lambda: pd.read_parquet(at_rest.source(plain, None)), 1))
            t["on"].append(_median(lambda: pd.read_parquet(at_rest.source(sealed, lookup)), 1))
            t["open"].append(_median(lambda: at_rest.read_file(sealed, lookup), 1))
            t["seal"].append(_median(lambda: at_rest.seal(data, dk), 1))
        m = {k: statistics.median(v) for k, v in t.items()}
    print(f"batch output: {a.rows} rows, {mb:.1f} MiB of Parquet; medians of {a.reps} alternating repetitions")
    print(f"  read as before (pd.read_parquet(path))          {m['before'] * 1e3:8.1f} ms")
    print(f"  encryption off (at_rest.source, plain file)     {m['off'] * 1e3:8.1f} ms  "
          f"({m['off'] / m['before']:.2f}x)")
    print(f"  encryption on  (at_rest.source, sealed file)    {m['on'] * 1e3:8.1f} ms  "
          f"({m['on'] / m['before']:.2f}x)")
    print(f"  open alone {mb / m['open']:.0f} MiB/s, seal alone {mb / m['seal']:.0f} MiB/s")
    print_ratios(None, "no peer", m["on"] / m["before"], "sealed read / plain read of a batch output")
    _dataset_read(frame, a.reps)


def _dataset_read(frame: pd.DataFrame, reps: int) -> None:
    """A dataset read (`Catalog.read`: the Iceberg scan the kernels' dataset route runs, then Parquet out) from a
    catalog without the at-rest hook (before), with it for a project without a key (off) and with one (on: the
    Iceberg data files sealed, datasets/sealed_io.py)."""
    from jupyter_mlp_backend.datasets.catalog import Catalog

    dk = at_rest.DataKey.generate()
    keys = {dk.id: dk.key}.get

    def hook(namespace: str):  # noqa: ANN202 - project "enc" has a data key, "plain" none
        return (dk if namespace == "p_enc" else None), keys

    body = io.BytesIO()
    frame.to_parquet(body, index=False)
    with tempfile.TemporaryDirectory() as tmp:
        before, hooked = Catalog(Path(tmp, "a")), Catalog(Path(tmp, "b"), keys=hook)
        before.write("plain", "t", body.getvalue(), "append")
        hooked.write("plain", "t", body.getvalue(), "append")
        hooked.write("enc", "t", body.getvalue(), "append")
        size = sum(p.stat().st_size for p in Path(tmp, "b").rglob("*.parquet") if "/p_enc/" in str(p))
        t = {"before": [], "off": [], "on": []}
        for _ in range(reps):
            t["before"].append(_median(lambda: before.read("plain", "t", None), 1))
            t["off"].append(_median(lambda: hooked.read("plain", "t", None), 1))
            t["on"].append(_median(lambda: hooked.read("enc", "t", None), 1))
        m = {k: statistics.median(v) for k, v in t.items()}
    print(f"dataset read (Catalog.read): {len(frame)} rows, {size / 2**20:.1f} MiB of sealed Parquet data files; "
          f"medians of {reps} alternating repetitions")
    print(f"  no at-rest hook (before)                        {m['before'] * 1e3:8.1f} ms")
    print(f"  encryption off (hook, project without a key)    {m['off'] * 1e3:8.1f} ms  "
          f"({m['off'] / m['before']:.2f}x)")
    print(f"  encryption on  (data files sealed)              {m['on'] * 1e3:8.1f} ms  "
          f"({m['on'] / m['before']:.2f}x)")
    print_ratios(None, "no peer", m["on"] / m["before"], "sealed read / plain read of a dataset")


if __name__ == "__main__":
    main()
