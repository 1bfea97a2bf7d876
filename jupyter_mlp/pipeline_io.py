"""How values cross pipeline stages: each stage saves what later stages read, typed by what the value is.

DataFrame → Parquet, numpy array → .npy, anything else → cloudpickle. A manifest names each file and its kind,
so the reader needs no guessing. Generated stage notebooks call `load_inputs` and `save_outputs`; the folder
comes from `MLP_STAGE_IO` (set by the pipeline runner), so a notebook carries no paths.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StageIOError(RuntimeError):
    pass


def _folder(stage: str | None = None) -> Path:
    root = os.environ.get("MLP_STAGE_IO")
    if not root:
        raise StageIOError("MLP_STAGE_IO is not set: this notebook is meant to run as a pipeline stage")
    return Path(root) / stage if stage else Path(root)


def save_outputs(values: dict[str, Any], stage: str | None = None) -> dict[str, str]:
    """Write each value to `<MLP_STAGE_IO>/<stage>/` with the serializer its type calls for; return name -> kind."""
    stage = stage or os.environ.get("MLP_STAGE", "")
    folder = _folder(stage)
    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, str] = {}
    for name, value in values.items():
        if not _NAME.match(name):
            raise StageIOError(f"'{name}' is not a variable name")
        kinds[name] = _write(folder, name, value)
    manifest = folder / MANIFEST
    existing = json.loads(manifest.read_text()) if manifest.exists() else {}
    manifest.write_text(json.dumps({**existing, **kinds}, indent=1, sort_keys=True))
    return kinds


def _write(folder: Path, name: str, value: Any) -> str:
    try:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            value.to_parquet(folder / f"{name}.parquet")
            return "parquet"
    except ImportError:
        pass
    try:
        import numpy as np

        if isinstance(value, np.ndarray) and value.dtype != object:
            np.save(folder / f"{name}.npy", value, allow_pickle=False)
            return "npy"
    except ImportError:
        pass
    import cloudpickle

    try:
        data = cloudpickle.dumps(value)
    except Exception as e:  # noqa: BLE001 - say which value, in words
        raise StageIOError(f"'{name}' ({type(value).__name__}) cannot be passed to a later stage: {e}") from e
    (folder / f"{name}.pkl").write_bytes(data)
    return "pickle"


def load_inputs(sources: dict[str, str]) -> dict[str, Any]:
    """Read each input from the stage that produced it: `{name: producing_stage}` → `{name: value}`."""
    out: dict[str, Any] = {}
    for name, stage in sources.items():
        folder = _folder(stage)
        try:
            kind = json.loads((folder / MANIFEST).read_text())[name]
        except (OSError, ValueError, KeyError) as e:
            raise StageIOError(f"stage '{stage}' did not save '{name}'") from e
        if kind == "parquet":
            import pandas as pd

            out[name] = pd.read_parquet(folder / f"{name}.parquet")
        elif kind == "npy":
            import numpy as np

            out[name] = np.load(folder / f"{name}.npy", allow_pickle=False)
        else:
            import cloudpickle

            # Written by an earlier stage of the same run, in a folder only this run's stages use.
            out[name] = cloudpickle.loads((folder / f"{name}.pkl").read_bytes())
    return out
