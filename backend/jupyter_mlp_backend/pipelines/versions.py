"""Immutable, content-hashed pipeline versions: stage notebooks, a description, and the environment lock.

The version id is sha256 over a canonical form of all three, so promoting an unchanged notebook yields the
same version, and any change to code, tags, parameters or environment yields a new one. Outputs, execution
counts and cell ids never enter the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .analysis import Analysis

FORMAT = 1


def _cell(source: str, tags: list[str] | None = None, number: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"tags": tags or []}
    if number is not None:
        meta["mlp_source_cell"] = number  # where a failing cell came from, for error messages
    return {"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [], "source": source}


def _src(cell: dict[str, Any]) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else str(s)


def stage_notebooks(nb: dict[str, Any], a: Analysis) -> dict[str, dict[str, Any]]:
    """One runnable notebook per stage: shared cells, the parameters cell, input loading, its cells, output saving."""
    cells = nb.get("cells", [])
    by_number = {i: c for i, c in enumerate(cells, start=1)}
    producers: dict[str, dict[str, str]] = {}
    for s in a.stages:
        for name in s.inputs:
            producers.setdefault(s.name, {})[name] = next(p.name for p in a.stages if name in p.outputs)
    kernelspec = nb.get("metadata", {}).get("kernelspec") or {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}
    out = {}
    for s in a.stages:
        body = [_cell(_src(by_number[n]), number=n) for n in a.shared_cells]
        body.append(_cell(_src(by_number[a.parameters_cell]) if a.parameters_cell else "", ["parameters"],
                          a.parameters_cell))
        if s.inputs:
            body.append(_cell("from jupyter_mlp.pipeline_io import load_inputs as _mlp_load\n"
                              f"globals().update(_mlp_load({json.dumps(producers[s.name], sort_keys=True)}))",
                              ["mlp-inputs"]))
        body += [_cell(_src(by_number[n]), number=n) for n in s.cells]
        if s.outputs:
            values = ", ".join(f'"{n}": {n}' for n in sorted(s.outputs))
            body.append(_cell("from jupyter_mlp.pipeline_io import save_outputs as _mlp_save\n"
                              f"_mlp_save({{{values}}}, {json.dumps(s.name)})", ["mlp-outputs"]))
        out[s.name] = {"cells": body, "metadata": {"kernelspec": kernelspec}, "nbformat": 4, "nbformat_minor": 5}
    return out


def description(a: Analysis, source_path: str, container: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the version is; `container` (from the notebook's metadata `mlp.container`) only when it asks for
    something, so versions promoted before it existed keep their digest."""
    from .analysis import topological

    desc = {
        "format": FORMAT,
        "source_path": source_path,
        "stages": [asdict(s) for s in a.stages],
        "order": topological(a.stages),
        "parameters": [asdict(p) for p in a.parameters],
    }
    if container:
        desc["container"] = container
    return desc


def digest(desc: dict[str, Any], notebooks: dict[str, dict[str, Any]], environment: str) -> str:
    canonical = {
        "description": {k: v for k, v in desc.items() if k != "source_path"},
        "notebooks": {name: [(c["source"], c["metadata"].get("tags", [])) for c in nb["cells"]]
                      for name, nb in notebooks.items()},
        "environment": environment,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def store(root: Path, version: str, desc: dict[str, Any], notebooks: dict[str, dict[str, Any]],
          environment: str) -> Path:
    """Write the version's files once; a version that exists is never rewritten."""
    final = root / version
    if final.exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{version[:12]}-"))
    try:
        (tmp / "stages").mkdir()
        for name, nb in notebooks.items():
            (tmp / "stages" / f"{name}.ipynb").write_text(json.dumps(nb, indent=1))
        (tmp / "pipeline.json").write_text(json.dumps({**desc, "version": version}, indent=1, sort_keys=True))
        (tmp / "environment.txt").write_text(environment)
        os.rename(tmp, final)  # atomic: a reader sees a whole version or none
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not final.exists():
            raise
        return final  # a concurrent promotion of the same content stored it first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for p in final.rglob("*"):
        os.chmod(p, 0o444 if p.is_file() else 0o555)
    return final
