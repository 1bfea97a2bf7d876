"""A batch worker's chunk files (`worker.py --batch`): read and written whole, sealed with the project's data key
when the runner sends one (encryption at rest, docs/security.md), plain otherwise."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ChunkKey:
    key: Any  # jupyter_mlp.at_rest.DataKey: reads sealed chunks
    seal: bool  # whether written chunks are sealed with it (encryption on now)


def chunk_key(job: dict[str, Any]) -> ChunkKey | None:
    """The project's data key when the runner sent one (`BatchRunner.chunk_key`), else None."""
    if not job.get("key"):
        return None
    from jupyter_mlp.at_rest import DataKey

    return ChunkKey(DataKey(bytes.fromhex(job["key_id"]), bytes.fromhex(job["key"])), bool(job.get("seal", True)))


def read_chunk(path: str, ck: ChunkKey | None) -> Any:
    import pandas as pd

    if ck is None:
        return pd.read_parquet(path)
    from jupyter_mlp.at_rest import source

    return pd.read_parquet(source(Path(path), lambda kid: ck.key.key if kid == ck.key.id else None))


def write_chunk(path: str, frame: Any, ck: ChunkKey | None) -> None:
    """Written to a temporary name and renamed: whole or not at all; sealed with the project's key when on."""
    from jupyter_mlp.at_rest import write_file

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    write_file(Path(path), buf.getvalue(), ck.key if ck is not None and ck.seal else None)
