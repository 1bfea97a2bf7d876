"""A batch worker's chunk files (`worker.py --batch`): read and written whole, sealed with the project's data key
when the runner sends one (encryption at rest, docs/security.md), plain otherwise."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any


def chunk_key(job: dict[str, Any]) -> Any:
    """The project's data key when the runner sent one (its files are encrypted at rest), else None."""
    if not job.get("key"):
        return None
    from jupyter_mlp.at_rest import DataKey

    return DataKey(bytes.fromhex(job["key_id"]), bytes.fromhex(job["key"]))


def read_chunk(path: str, dk: Any) -> Any:
    import pandas as pd

    if dk is None:
        return pd.read_parquet(path)
    from jupyter_mlp.at_rest import source

    return pd.read_parquet(source(Path(path), lambda kid: dk.key if kid == dk.id else None))


def write_chunk(path: str, frame: Any, dk: Any) -> None:
    """Written to a temporary name and renamed: whole or not at all; sealed with the project's key when given."""
    from jupyter_mlp.at_rest import write_file

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    write_file(Path(path), buf.getvalue(), dk)
