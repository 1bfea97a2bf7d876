"""MLflow's artifact store sealed at rest per project (docs/security.md#encryption-at-rest): an MLflow
artifact-repository plugin (entry point `mlflow.artifact_repository`, scheme `mlp-sealed`) the managed MLflow server
uses as its `--artifacts-destination` (`mlp-sealed:///<MLP_HOME>/mlflow/artifacts`).

It is MLflow's local repository, except that a file under an experiment of a project with encryption on is written
sealed with the project's data key (jupyter_mlp/at_rest.py, the batch files' format) as it streams in, and opened as
it is read: every client (`mlflow.log_artifact`, `log_model`, `load_model("models:/…")`, `download_artifacts`) and
every platform reader (registration's hashing, signing and verification, serving's copy, cards, Ship) goes through
MLflow's proxied artifact API and sees plaintext, while the disk holds ciphertext. Which project: an artifact's path
starts with its experiment's id (`<experiment>/<run>/artifacts/…`, `<experiment>/models/<model>/artifacts/…`), and
`project_experiments` names the owner. Keys: the MLflow server process opens the platform database itself (its URL
in its environment, as the prediction log's committer gets it) and unwraps the data key with the master key.

Projects without encryption, experiments no project owns, and files written before encryption was on stay plain and
are served as before (MLflow sends them straight from disk).
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any, BinaryIO

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_CONFLICT
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository
from mlflow.store.artifact.artifact_repo import ARTIFACT_STREAM_CHUNK_SIZE
from mlflow.utils.uri import validate_path_is_safe

from jupyter_mlp import at_rest

from ..mlflow_service import (SEALED_DATABASE_ENV as DATABASE_ENV, SEALED_HOME_ENV as HOME_ENV,
                              SEALED_MASTER_KEY_ENV as MASTER_KEY_ENV, SEALED_ROOT_ENV as ROOT_ENV,
                              SEALED_SCHEME as SCHEME)


class _Keys:
    """Experiment id -> the owning project's data key (to seal with, while on) and lookup (to open with)."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        from ..at_rest import Keyring
        from ..db import Database

        url, home = os.environ.get(DATABASE_ENV), os.environ.get(HOME_ENV)
        if not url or not home:
            raise MlflowException(f"the sealed artifact store needs {DATABASE_ENV} and {HOME_ENV} in MLflow's "
                                  "environment (the backend sets them when it starts MLflow)")
        settings = SimpleNamespace(home=Path(home), at_rest_master_key=os.environ.get(MASTER_KEY_ENV) or None)
        self.db = Database(url)
        self.ring = Keyring(SimpleNamespace(state=SimpleNamespace(settings=settings, db=self.db, at_rest=None)))
        self._owner: dict[str, int] = {}  # an experiment never changes project
        self._lock = threading.Lock()

    def project(self, experiment_id: str) -> int | None:
        from ..experiments.projects import owner_of

        with self._lock:
            hit = self._owner.get(experiment_id)
        if hit is not None:
            return hit
        with self.db.session() as s:
            pid = owner_of(s, experiment_id)
        if pid is not None:
            with self._lock:
                self._owner[experiment_id] = pid
        return pid

    def writer(self, experiment_id: str | None) -> at_rest.DataKey | None:
        pid = self.project(experiment_id) if experiment_id else None
        return self.ring.writer(pid) if pid is not None else None

    def reader(self, experiment_id: str | None) -> at_rest.Lookup | None:
        pid = self.project(experiment_id) if experiment_id else None
        return self.ring.reader(pid, fresh=True) if pid is not None else None


_KEYS: _Keys | None = None
_KEYS_LOCK = threading.Lock()


def _keys() -> _Keys:
    global _KEYS
    with _KEYS_LOCK:
        if _KEYS is None:
            _KEYS = _Keys()
        return _KEYS


def _refused(e: at_rest.AtRestError) -> MlflowException:
    """A sealed artifact that does not open (its key destroyed, or altered): 409 with the reason, no traceback."""
    return MlflowException(f"Encrypted artifact cannot be read: {e}", error_code=RESOURCE_CONFLICT)


def _sealed(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return at_rest.is_sealed(f.read(len(at_rest.MAGIC)))
    except (IsADirectoryError, FileNotFoundError):
        return False


def _pieces(stream: BinaryIO):  # noqa: ANN202
    """A stream's bytes in MLflow's chunk size, until it ends."""
    while piece := stream.read(ARTIFACT_STREAM_CHUNK_SIZE):
        yield piece


def plain_size(path: str) -> int:
    """A sealed file's plaintext size from its size alone (every segment but the last is full)."""
    body = os.path.getsize(path) - at_rest.HEADER
    segments = max(1, -(-body // (at_rest.SEGMENT + at_rest.TAG)))
    return body - segments * at_rest.TAG


class SealedArtifactRepository(LocalArtifactRepository):
    """MLflow's local artifact repository, sealing the files of encrypted projects' experiments."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        parsed = urllib.parse.urlparse(artifact_uri)
        if parsed.scheme != SCHEME:
            raise MlflowException(f"not a {SCHEME}:// URI: {artifact_uri}")
        path = Path(urllib.parse.unquote(parsed.netloc + parsed.path))
        super().__init__(path.as_uri(), tracking_uri, registry_uri)
        self._root = Path(os.environ.get(ROOT_ENV) or path)

    # --- which project ---------------------------------------------------------------------------------------

    def _experiment(self, full_path: str) -> str | None:
        try:
            rel = Path(full_path).resolve().relative_to(self._root.resolve())
        except ValueError:
            return None
        return rel.parts[0] if rel.parts else None

    def _writer(self, artifact_path: str | None) -> at_rest.DataKey | None:
        folder = os.path.join(self.artifact_dir, os.path.normpath(artifact_path)) if artifact_path \
            else self.artifact_dir
        return _keys().writer(self._experiment(os.path.join(folder, "_")))

    # --- writes ------------------------------------------------------------------------------------------------

    def _write_sealed(self, name: str, chunks, artifact_path: str | None, dk: at_rest.DataKey) -> None:  # noqa: ANN001
        def write(temp_file: BinaryIO) -> None:
            for piece in at_rest.seal_chunks(chunks, dk):
                temp_file.write(piece)

        self._write_to_destination_path(name, write, artifact_path,
                                        finalize_temp_path=lambda p: os.chmod(p, 0o600))

    def log_artifact(self, local_file, artifact_path=None):  # noqa: ANN001, ANN201
        dk = self._writer(artifact_path)
        if dk is None:
            return super().log_artifact(local_file, artifact_path)

        def chunks():  # noqa: ANN202
            with open(local_file, "rb") as f:
                while piece := f.read(ARTIFACT_STREAM_CHUNK_SIZE):
                    yield piece

        self._write_sealed(local_file, chunks(), artifact_path, dk)
        return None

    def log_artifacts(self, local_dir, artifact_path=None):  # noqa: ANN001, ANN201
        if self._writer(artifact_path) is None:
            return super().log_artifacts(local_dir, artifact_path)
        for dirpath, _, files in os.walk(local_dir):
            rel = os.path.relpath(dirpath, local_dir)
            sub = artifact_path if rel == "." else "/".join(p for p in (artifact_path, Path(rel).as_posix()) if p)
            for name in files:
                self.log_artifact(os.path.join(dirpath, name), sub or None)
        return None

    def log_artifact_from_stream(self, stream: BinaryIO, artifact_file_name: str,
                                 artifact_path: str | None = None) -> None:
        dk = self._writer(artifact_path)
        if dk is None:
            return super().log_artifact_from_stream(stream, artifact_file_name, artifact_path)
        self._write_sealed(artifact_file_name, _pieces(stream), artifact_path, dk)
        return None

    async def log_artifact_from_async_stream(self, chunks: AsyncIterable[bytes], artifact_file_name: str,
                                             artifact_path: str | None = None) -> None:
        """The FastAPI server's upload (a client's `log_artifact`, `log_model`): sealed segment by segment as the
        body arrives, into MLflow's staging file beside the destination — no plaintext on disk at any point."""
        import asyncio

        dk = await asyncio.to_thread(self._writer, artifact_path)
        if dk is None:
            return await super().log_artifact_from_async_stream(chunks, artifact_file_name, artifact_path)
        fd, temp_path, destination_path = await asyncio.to_thread(
            self._create_staging_artifact, artifact_file_name, artifact_path)
        published = False
        try:
            sealer = at_rest.Sealer(dk)
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    if out := sealer.update(chunk):
                        await asyncio.to_thread(f.write, out)
                await asyncio.to_thread(f.write, sealer.final())
            os.chmod(temp_path, 0o600)
            await asyncio.to_thread(self._publish_staged_artifact, temp_path, destination_path, None)
            published = True
        finally:
            if not published:
                await asyncio.to_thread(self._cleanup_staged_artifact, temp_path)
        return None

    # --- reads -------------------------------------------------------------------------------------------------

    def get_local_path(self, artifact_path: str) -> str | None:
        """The file itself when plain (MLflow sends it as it is); None when sealed, so MLflow's handler asks
        `download_artifacts`, which opens it."""
        path = super().get_local_path(artifact_path)
        return None if _sealed(path) else path

    def _download_file(self, remote_file_path, local_path):  # noqa: ANN001, ANN201
        full = os.path.join(self.artifact_dir, os.path.normpath(validate_path_is_safe(remote_file_path)))
        if not _sealed(full):
            return super()._download_file(remote_file_path, local_path)
        try:
            with open(local_path, "wb") as out:
                for piece in at_rest.iter_file(Path(full), _keys().reader(self._experiment(full))):
                    out.write(piece)
        except at_rest.AtRestError as e:
            Path(local_path).unlink(missing_ok=True)
            raise _refused(e) from None
        return None

    def list_artifacts(self, path=None):  # noqa: ANN001, ANN201
        from mlflow.entities import FileInfo

        out = []
        for info in super().list_artifacts(path):
            full = os.path.join(self.artifact_dir, os.path.normpath(info.path))
            if not info.is_dir and _sealed(full):
                info = FileInfo(info.path, False, plain_size(full))  # what a download gives
            out.append(info)
        return out

    def download_trace_data(self) -> dict[str, Any]:
        import json

        from mlflow.store.artifact.artifact_repo import TRACE_DATA_FILE_NAME

        full = os.path.join(self.artifact_dir, TRACE_DATA_FILE_NAME)
        if not _sealed(full):
            return super().download_trace_data()
        try:
            return json.loads(at_rest.read_file(Path(full), _keys().reader(self._experiment(full))))
        except at_rest.AtRestError as e:
            raise _refused(e) from None
