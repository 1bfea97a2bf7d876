"""Iceberg data files sealed at rest (docs/security.md#encryption-at-rest): a pyiceberg FileIO for the catalog.

pyiceberg opens every file of a table through the table's FileIO (`py-io-impl`): Parquet data files are written
through `new_output(path).create()` (a stream pyarrow's ParquetWriter writes to) and read through
`new_input(path).open()` (a random-access file pyarrow reads the footer and column chunks from). This FileIO is
pyarrow's own, except for the data files (`<warehouse>/p_<project>/<table>/data/*.parquet`) of a project whose
`keys` hook gives a data key: those are written sealed (jupyter_mlp/at_rest.py, segment by segment as pyarrow
writes) and read by decrypting the file into memory (a `pyarrow.BufferReader`, read without a Python call per
read). Reads open sealed and plain files alike (plain: written before encryption was turned on), and ask for a
key only when a file is sealed: a project without encryption pays a 8-byte read per data file, no key lookup.

Metadata files (JSON), manifest lists and manifests (Avro) stay plain: the catalog writes encrypted projects'
tables with column metrics `counts` (no lower/upper bounds, which are column values) and without a stored profile.

The hook is per catalog: `register(keys)` returns the id the catalog passes in its properties (`mlp.at-rest`);
pyiceberg builds a FileIO per table load from those properties.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from pyiceberg.io.pyarrow import PyArrowFile, PyArrowFileIO

from jupyter_mlp import at_rest

PROPERTY = "mlp.at-rest"
METRICS = "write.metadata.metrics.default"  # pyiceberg's TableProperties.DEFAULT_WRITE_METRICS_MODE
IMPL = f"{__name__}.SealingFileIO"
# The namespace's folder: `p_<slug>` (the SQL catalog) or `p_<slug>.db` (others); then the table, then `data/`.
DATA_FILE = re.compile(r"/(p_[a-z0-9_]+)(?:\.db)?/[^/]+/data/(?:.+/)?[^/]+\.parquet$")

# namespace -> (the data key new files are sealed with, or None when encryption is off; the lookup for reads)
Keys = Callable[[str], "tuple[at_rest.DataKey | None, at_rest.Lookup]"]
_HOOKS: dict[str, Keys] = {}


def no_bounds(table):  # noqa: ANN001, ANN201
    """The table, set to keep only counts in its manifests (no lower/upper bounds: they are column values, and
    manifests are not sealed); one commit, once per table."""
    if table.properties.get(METRICS) != "counts":
        with table.transaction() as tx:
            tx.set_properties({METRICS: "counts"})
    return table


def register(keys: Keys) -> str:
    hook_id = secrets.token_hex(8)
    _HOOKS[hook_id] = keys
    return hook_id


class _SealingStream:
    """What pyarrow's ParquetWriter writes to: plaintext in, sealed segments out to the file's own stream."""

    def __init__(self, raw: Any, dk: at_rest.DataKey):
        self._raw, self._sealer, self._pos, self.closed = raw, at_rest.Sealer(dk), 0, False

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._pos += len(data)
        if out := self._sealer.update(data):
            self._raw.write(out)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._raw.write(self._sealer.final())
            finally:
                self._raw.close()

    def __enter__(self) -> _SealingStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SealedFile(PyArrowFile):
    """A data file of a project's table: sealed on write when the project has a data key; opened sealed or plain."""

    def __init__(self, inner: PyArrowFile, namespace: str, keys: Keys):
        self.__dict__.update(inner.__dict__)
        self._namespace, self._keys = namespace, keys

    def open(self, seekable: bool = True) -> Any:
        f = super().open(seekable=True)
        try:
            if not at_rest.is_sealed(f.read(len(at_rest.MAGIC))):
                f.seek(0)
                return f
            f.seek(0)
            _, lookup = self._keys(self._namespace)
            data = b"".join(at_rest.open_chunks(f, lookup, name=f"'{self.location.rsplit('/', 1)[-1]}'"))
        except BaseException:
            f.close()
            raise
        f.close()
        import pyarrow as pa

        return pa.BufferReader(data)

    def create(self, overwrite: bool = False) -> Any:
        dk, _ = self._keys(self._namespace)
        raw = super().create(overwrite)
        return _SealingStream(raw, dk) if dk is not None else raw


class SealingFileIO(PyArrowFileIO):
    def __init__(self, properties: Any = None):
        properties = properties or {}
        super().__init__(properties)
        self._hook = _HOOKS.get(properties.get(PROPERTY, ""))

    def _wrap(self, f: PyArrowFile, location: str) -> PyArrowFile:
        m = DATA_FILE.search(location) if self._hook is not None else None
        return SealedFile(f, m.group(1), self._hook) if m else f

    def new_input(self, location: str) -> PyArrowFile:
        return self._wrap(super().new_input(location), location)

    def new_output(self, location: str) -> PyArrowFile:
        return self._wrap(super().new_output(location), location)
