"""Serving's copy of a model version, sealed at rest (docs/security.md#encryption-at-rest).

For a project with encryption on, `ensure_folder` writes the version's files into
`$MLP_HOME/serving/<project>/<deployment>/v<N>/model` sealed with the project's data key, hashing the plaintext as
it arrives (the signed manifest is checked against those hashes). A worker — serving or batch — loads from paths
(MLflow's and scikit-learn's loaders), so before it starts the backend opens the sealed copy into a private folder
on tmpfs (`/dev/shm`, 0700: memory, never the disk), starts the worker on it, and removes it as soon as the worker
has verified and loaded the model (its READY line) or failed to. The worker never gets the data key; it verifies
the plaintext against the signed statement as before. A plain copy (encryption off, or fetched before it was on) is
used where it is, as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from jupyter_mlp import at_rest

log = logging.getLogger(__name__)

META = ("statement.json", "signature", "trusted.json")  # beside the model folder, written plain by write_meta


def is_sealed(folder: Path) -> bool:
    """Whether the model folder's files are sealed (all are, or none: `download_tree` writes them one way)."""
    try:
        with open(folder / "MLmodel", "rb") as f:
            return at_rest.is_sealed(f.read(len(at_rest.MAGIC)))
    except OSError:
        return False


def _tmpfs(need: int) -> str | None:
    """/dev/shm when it has room for the opened copy; else None (the system's temporary folder, which may be a
    disk: said in the log, docs/security.md)."""
    shm = "/dev/shm"  # noqa: S108 - a private 0700 folder inside it (mkdtemp)
    if os.path.isdir(shm) and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > need + (16 << 20):
        return shm
    log.warning("no room on %s for a %d-byte model: opening it under %s for the load", shm, need,
                tempfile.gettempdir())
    return None


def open_copy(folder: Path, lookup: at_rest.Lookup | None) -> Path:
    """The sealed model folder opened into a new private folder on tmpfs (with the signed statement beside it,
    as the worker expects); returns the opened model folder. AtRestError when a file does not open (its key was
    destroyed, or it was altered); nothing is left behind then."""
    need = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())  # sealed: a little over the plaintext
    root = Path(tempfile.mkdtemp(prefix="mlp-model-", dir=_tmpfs(need)))
    os.chmod(root, 0o700)
    try:
        for name in META:
            shutil.copyfile(folder.parent / name, root / name)
        dest = root / "model"
        dest.mkdir(mode=0o700)
        for src in sorted(folder.rglob("*")):
            target = dest / src.relative_to(folder)
            if src.is_dir():
                target.mkdir(mode=0o700, exist_ok=True)
                continue
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(target, "wb") as out:
                for piece in at_rest.iter_file(src, lookup):
                    out.write(piece)
        return dest
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


@contextlib.asynccontextmanager
async def opened(folder: Path, lookup: at_rest.Lookup | None) -> AsyncIterator[Path]:
    """The folder a worker loads from: `folder` itself when plain; else its opened copy on tmpfs, removed when the
    block ends (the worker has loaded the model by then, or failed)."""
    if not await run_in_threadpool(is_sealed, folder):
        yield folder
        return
    dest = await run_in_threadpool(open_copy, folder, lookup)
    try:
        yield dest
    finally:
        shutil.rmtree(dest.parent, ignore_errors=True)
