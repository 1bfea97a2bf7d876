"""The project's dataset helper: read data through it and every run records exactly which data it saw.

Today: files (CSV, Parquet) identified by the sha256 of their content. Iceberg tables with snapshot ids arrive
with the pipelines work; the record format (`name`, `path`, `sha256`, `snapshot_id`, `rows`) already has room.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_reads: list[dict[str, Any]] = []


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record(name: str, *, path: str | None = None, sha256: str | None = None, snapshot_id: str | None = None,
           rows: int | None = None) -> None:
    """Note that the current process read a dataset version; runs started afterwards carry it."""
    entry = {"name": name, "path": path, "sha256": sha256, "snapshot_id": snapshot_id, "rows": rows}
    with _lock:
        if entry not in _reads:
            _reads.append(entry)


def reads() -> list[dict[str, Any]]:
    with _lock:
        return list(_reads)


def clear() -> None:
    """Forget earlier reads (e.g. between independent experiments in one kernel)."""
    with _lock:
        _reads.clear()


def _read(path: str | os.PathLike, reader: str, name: str | None, **kwargs: Any):  # noqa: ANN202
    import pandas as pd

    p = Path(path)
    digest = _digest(p)  # hash before reading: what was hashed is what was read, even if the file changes later
    df = getattr(pd, reader)(p, **kwargs)
    record(name or p.name, path=str(p), sha256=digest, rows=len(df))
    return df


def read_csv(path: str | os.PathLike, name: str | None = None, **kwargs: Any):  # noqa: ANN201
    """`pandas.read_csv`, recorded with the file's sha256."""
    return _read(path, "read_csv", name, **kwargs)


def read_parquet(path: str | os.PathLike, name: str | None = None, **kwargs: Any):  # noqa: ANN201
    """`pandas.read_parquet`, recorded with the file's sha256."""
    return _read(path, "read_parquet", name, **kwargs)
