"""Lineage of every MLflow run started in a project kernel, captured without the user asking.

An MLflow run-context provider (entry point `mlflow.run_context_provider`): MLflow calls `tags()` whenever a run
starts through its fluent API (`start_run`, autolog), in any process where jupyter-mlp is installed. In a kernel
the server extension started for a project notebook (it sets `MLP_PROJECT`), it adds:

- the notebook's path, sha256 of its saved content, and a copy (uploaded once per content, by digest);
- the git commit of the notebook's repository and whether the tree had uncommitted changes;
- the Python version, and sha256 of the package freeze with the freeze itself (uploaded once per kernel);
- the datasets read so far through `jupyter_mlp.datasets`, and the profiles of those reads that have one
  (`mlp.profiles`: `[{"name", "sha256", "snapshot_id", "version", "features"}]`, meta-features to 6 significant
  digits, NaN as null, the newest that fit in one tag; aggregates only, never a row);
- in a pipeline stage, the stage's run as parent of what starts with no run active (see `_stage`).

Nothing here may break a user's run: any failure leaves the tag out and logs a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

MAX_TAG = 5000


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=1)
def package_freeze() -> str:
    """`name==version` of every installed distribution, sorted: what `pip freeze` would say, without pip."""
    from importlib.metadata import distributions

    pins = {f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata and d.metadata["Name"]}
    return "\n".join(sorted(pins, key=str.lower)) + "\n"


def git_state(folder: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository holding `folder`, or (None, None) outside one."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                                capture_output=True, text=True, timeout=10)
        return commit.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


class _Uploader:
    """Content-addressed uploads to the project's gateway, each digest at most once per gateway and process."""

    def __init__(self) -> None:
        self.done: set[tuple[str, str]] = set()

    def put(self, data: bytes) -> str:
        digest = _sha256(data)
        base = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
        if (base, digest) in self.done:
            return digest
        import requests  # MLflow's own HTTP client library, present wherever MLflow is

        headers = {"Authorization": f"Bearer {os.environ.get('MLFLOW_TRACKING_TOKEN', '')}"}
        url = f"{base}/mlp/blobs/{digest}"
        if requests.head(url, headers=headers, timeout=10).status_code != 200:
            r = requests.put(url, data=data, headers=headers, timeout=60)
            r.raise_for_status()
        self.done.add((base, digest))
        return digest


_uploader = _Uploader()


class NotebookLineageContext:
    """MLflow RunContextProvider (duck-typed: MLflow calls `in_context` and `tags`)."""

    def in_context(self) -> bool:
        return bool(os.environ.get("MLP_PROJECT")) and bool(os.environ.get("MLFLOW_TRACKING_URI"))

    def tags(self) -> dict[str, str]:
        tags: dict[str, str] = {"mlp.python.version": platform.python_version()}
        for name, fn in (("notebook", self._notebook), ("environment", self._environment), ("datasets", self._datasets),
                         ("pipeline stage", self._stage)):
            try:
                tags.update(fn())
            except Exception as e:  # noqa: BLE001 - lineage must never stop a run
                log.warning("jupyter-mlp could not record the %s of this run: %s", name, e)
        return tags

    def _notebook(self) -> dict[str, str]:
        rel, file = os.environ.get("MLP_NOTEBOOK_PATH"), os.environ.get("MLP_NOTEBOOK_FILE")
        out: dict[str, str] = {}
        if rel:
            out["mlp.notebook.path"] = rel
            out["mlflow.source.name"] = rel
        if file and Path(file).is_file():
            content = Path(file).read_bytes()
            out["mlp.notebook.sha256"] = _uploader.put(content)
            commit, dirty = git_state(Path(file).parent)
            if commit:
                out["mlp.git.commit"] = commit
                out["mlp.git.dirty"] = "true" if dirty else "false"
        return out

    def _environment(self) -> dict[str, str]:
        return {"mlp.env.freeze_sha256": _uploader.put(package_freeze().encode())}

    def _stage(self) -> dict[str, str]:
        """In a pipeline stage, what starts with no run active belongs to the stage's run.

        MLflow resumes the stage's run (MLFLOW_RUN_ID) only at the first `start_run()`; a run started after that one
        ended would be a top-level run outside the pipeline, and MLflow 3's `log_model` outside any run makes a
        model linked to no run. MLflow asks these providers for tags of both, and its own tags (`nested=True`'s
        parent) override ours, so runs nest under the stage's run and models name it."""
        stage_run = os.environ.get("MLP_STAGE_RUN_ID")
        if not stage_run:
            return {}
        import mlflow

        if mlflow.active_run() is not None:
            return {}
        return {"mlflow.parentRunId": stage_run, "mlp.pipeline.stage_run": stage_run}

    def _datasets(self) -> dict[str, str]:
        from .datasets import reads

        items = reads()
        if not items:
            return {}
        text = json.dumps(items, separators=(",", ":"))
        while len(text) > MAX_TAG and items:  # keep the newest reads that fit in one tag
            items = items[1:]
            text = json.dumps(items, separators=(",", ":"))
        out = {"mlp.datasets": text}
        profiles = _profiles_tag()
        if profiles:
            out["mlp.profiles"] = profiles
        return out


def _profiles_tag() -> str | None:
    from .datasets import profiles
    from .profiling import VERSION

    def short(v: float) -> float | None:
        return None if v != v else float(f"{v:.6g}")  # NaN -> null

    items = [{"name": p["name"], "sha256": p["sha256"], "snapshot_id": p["snapshot_id"], "version": VERSION,
              "features": {k: short(v) for k, v in p["features"].items()}} for p in profiles()]
    text = json.dumps(items, separators=(",", ":"))
    while len(text) > MAX_TAG and items:  # keep the newest profiles that fit in one tag
        items = items[1:]
        text = json.dumps(items, separators=(",", ":"))
    return text if items else None
