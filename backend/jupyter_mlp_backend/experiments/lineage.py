"""Lineage artifacts: the notebook copy and package freeze a kernel uploads by digest, attached to its runs.

A kernel uploads each blob once (content-addressed, per project) and names its digest in the run's `mlp.*` tags;
when the run is created the gateway copies the blobs into the run's artifacts under `lineage/`. Nothing the run
carries depends on the client behaving after `start_run` returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gateway import Call

MAX_BLOB = 64 * 2**20
# tag naming the digest -> file name under the run's `lineage/` artifacts
BLOBS = {
    "mlp.notebook.sha256": "notebook.ipynb",
    "mlp.env.freeze_sha256": "requirements-freeze.txt",
}


def blob_path(call: Call, digest: str) -> Path:
    return call.exp.settings.home / "blobs" / call.slug / digest[:2] / digest


async def attach(call: Call, run: dict[str, Any], tags: dict[str, Any]) -> None:
    info = run["info"]
    uri = info.get("artifact_uri", "")
    if not uri.startswith("mlflow-artifacts:/"):
        return
    base = uri[len("mlflow-artifacts:/"):].strip("/")
    for tag, filename in BLOBS.items():
        digest = str(tags.get(tag) or "")
        if len(digest) != 64:
            continue
        path = blob_path(call, digest)
        if not path.is_file():
            continue
        await call.exp.mlflow.client.put(
            f"/api/2.0/mlflow-artifacts/artifacts/{base}/lineage/{filename}",
            content=path.read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
