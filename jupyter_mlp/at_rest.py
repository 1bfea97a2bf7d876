"""Encryption at rest: files under MLP_HOME sealed with a project's data key (AES-256-GCM), data keys wrapped by a
master key.

File format (`docs/security.md`): a 40-byte header — `MAGIC` (8 bytes), the data key's id (16), a random salt (16)
— then the plaintext in segments of `SEGMENT` bytes, each sealed with AES-256-GCM under a per-file key derived from
the data key and the salt (HKDF-SHA256), nonce = the segment's index (11 bytes, big-endian) || 1 for the last
segment and 0 otherwise, the header as associated data (Tink's streaming AEAD shape). So a flipped byte, a
reordered, dropped or added segment, a cut-off file (no segment marked last), or a header moved to another file
fails authentication; a reader streams a file segment by segment in constant memory.

Master keys follow the model signer's shape (`jupyter_mlp/signing.py`): the default keeps 32 random bytes in
`<home>/keys/at-rest/<id>.key` (0600); a KMS-backed provider implements the same members and is named by the
`at_rest_master_key` setting (`module:Class`, built with the home folder).

Only the standard library is imported at module load; `cryptography` when a key is used.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from .secret_file import create_secret_file

MAGIC = b"MLPAR01\n"
KEY_ID_BYTES = 16
SALT_BYTES = 16
HEADER = len(MAGIC) + KEY_ID_BYTES + SALT_BYTES
SEGMENT = 64 * 1024
TAG = 16


class AtRestError(Exception):
    """A sealed file cannot be opened: tampered with, cut off, or its data key is gone; the message says which."""


@dataclass(frozen=True)
class DataKey:
    id: bytes  # KEY_ID_BYTES, random; written in every file's header
    key: bytes  # 32 bytes, AES-256

    @staticmethod
    def generate() -> DataKey:
        return DataKey(secrets.token_bytes(KEY_ID_BYTES), secrets.token_bytes(32))


Lookup = Callable[[bytes], "bytes | None"]  # data key id -> the key, or None (destroyed, or another project's)


def _aead(key: bytes, salt: bytes, key_id: bytes):  # noqa: ANN202
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    sub = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
               info=b"jupyter-mlp/at-rest/segment-key/1" + key_id).derive(key)
    return AESGCM(sub)


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class Sealer:
    """Seals a stream piece by piece: `update` returns the sealed bytes ready so far, `final` the rest."""

    def __init__(self, dk: DataKey):
        salt = secrets.token_bytes(SALT_BYTES)
        self.header = MAGIC + dk.id + salt
        self._aead = _aead(dk.key, salt, dk.id)
        self._buf = bytearray()
        self._index = 0
        self._started = False

    def update(self, data: bytes) -> bytes:
        out = [] if self._started else [self.header]
        self._started = True
        self._buf += data
        while len(self._buf) > SEGMENT:  # keep at least one byte back: the last segment must be marked as such
            out.append(self._aead.encrypt(_nonce(self._index, False), bytes(self._buf[:SEGMENT]), self.header))
            del self._buf[:SEGMENT]
            self._index += 1
        return b"".join(out)

    def final(self) -> bytes:
        head = self.update(b"")
        return head + self._aead.encrypt(_nonce(self._index, True), bytes(self._buf), self.header)


def seal_chunks(chunks: Iterable[bytes], dk: DataKey) -> Iterator[bytes]:
    """The sealed file, piece by piece, from the plaintext's pieces (any sizes)."""
    s = Sealer(dk)
    for c in chunks:
        if out := s.update(c):
            yield out
    yield s.final()


def seal(data: bytes, dk: DataKey) -> bytes:
    return b"".join(seal_chunks([data], dk))


def is_sealed(head: bytes) -> bool:
    return head[:len(MAGIC)] == MAGIC


def _header_aead(header: bytes, lookup: Lookup, name: str):  # noqa: ANN202
    if len(header) < HEADER or not is_sealed(header):
        raise AtRestError(f"{name} is not an encrypted file (or its header was cut off)")
    key_id = header[len(MAGIC):len(MAGIC) + KEY_ID_BYTES]
    key = lookup(key_id)
    if key is None:
        raise AtRestError(f"{name} was encrypted with data key {key_id.hex()}, which no longer exists (destroyed "
                          "with its project) or belongs to another project: it cannot be decrypted")
    return _aead(key, header[len(MAGIC) + KEY_ID_BYTES:], key_id)


def open_chunks(f: BinaryIO, lookup: Lookup, *, name: str = "the file") -> Iterator[bytes]:
    """The plaintext of a sealed stream, segment by segment; AtRestError when it does not authenticate."""
    from cryptography.exceptions import InvalidTag

    header = f.read(HEADER)
    aead = _header_aead(header, lookup, name)
    index = 0
    seg = f.read(SEGMENT + TAG)
    while True:
        nxt = f.read(SEGMENT + TAG) if len(seg) == SEGMENT + TAG else b""
        last = not nxt
        try:
            yield aead.decrypt(_nonce(index, last), seg, header)
        except InvalidTag:
            raise AtRestError(f"{name} fails authentication at segment {index}: it was altered, reordered or cut "
                              "off") from None
        if last:
            return
        seg, index = nxt, index + 1


class SealedReader(io.RawIOBase):
    """A sealed file opened for random access (seek, read): the segments a read touches are decrypted then and the
    last one kept, so a Parquet reader reads it row group by row group without the file held whole. The segment
    count comes from the file's size; the last one must carry the last-segment flag, so a file cut at a segment
    boundary fails like any other tampering (AtRestError naming the segment)."""

    def __init__(self, path: Path, lookup: Lookup):
        super().__init__()
        self._name = f"'{Path(path).name}'"
        self._f = open(path, "rb")  # noqa: SIM115 - closed with the reader
        try:
            self._header = self._f.read(HEADER)
            self._aead = _header_aead(self._header, lookup, self._name)
            body = os.fstat(self._f.fileno()).st_size - HEADER
            self._count = max(1, -(-body // (SEGMENT + TAG)))
            self.size = body - self._count * TAG
        except BaseException:
            self._f.close()
            raise
        self._pos, self._cached = 0, (-1, b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _segment(self, index: int) -> bytes:
        from cryptography.exceptions import InvalidTag

        if self._cached[0] != index:
            self._f.seek(HEADER + index * (SEGMENT + TAG))
            sealed = self._f.read(SEGMENT + TAG)
            try:
                plain = self._aead.decrypt(_nonce(index, index == self._count - 1), sealed, self._header)
            except InvalidTag:
                raise AtRestError(f"{self._name} fails authentication at segment {index}: it was altered, "
                                  "reordered or cut off") from None
            self._cached = (index, plain)
        return self._cached[1]

    def readinto(self, buffer) -> int:  # noqa: ANN001
        want = min(len(buffer), self.size - self._pos)
        if want <= 0:
            return 0
        index, start = divmod(self._pos, SEGMENT)
        piece = self._segment(index)[start:start + want]
        buffer[:len(piece)] = piece
        self._pos += len(piece)
        return len(piece)

    def close(self) -> None:
        self._f.close()
        super().close()


class SealingWriter(io.RawIOBase):
    """A file written sealed as it goes (Sealer): what a Parquet writer writes to where the bytes must not reach
    the disk in the clear."""

    def __init__(self, path: Path, dk: DataKey):
        super().__init__()
        self._f = open(path, "wb")  # noqa: SIM115 - closed with the writer
        self._sealer, self._pos = Sealer(dk), 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def write(self, data) -> int:  # noqa: ANN001
        data = bytes(data)
        self._f.write(self._sealer.update(data))
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._f.write(self._sealer.final())
            self._f.close()
        super().close()


# --- files -----------------------------------------------------------------------------------------------------

def write_file(path: Path, data: bytes | Iterable[bytes], dk: DataKey | None) -> None:
    """Write `data` to `path` whole or not at all (a temporary name, then a rename), sealed when `dk` is given."""
    chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            for piece in (seal_chunks(chunks, dk) if dk is not None else chunks):
                f.write(piece)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def iter_file(path: Path, lookup: Lookup | None) -> Iterator[bytes]:
    """A file's plaintext in pieces: decrypted when sealed, as it is when not (written before encryption was on)."""
    with open(path, "rb") as f:
        if not is_sealed(f.read(len(MAGIC))):
            f.seek(0)
            while piece := f.read(1 << 20):
                yield piece
            return
        if lookup is None:
            raise AtRestError(f"'{path.name}' is encrypted and no data key was given to read it")
        f.seek(0)
        yield from open_chunks(f, lookup, name=f"'{path.name}'")


def verify_file(path: Path, lookup: Lookup | None) -> int:
    """The size of a file's plaintext; for a sealed file, only once every segment has authenticated (AtRestError
    naming the first bad one), in constant memory: so a reader can announce the length and then stream the file
    with `iter_file`, refusing a tampered one before it sends anything."""
    with open(path, "rb") as f:
        if not is_sealed(f.read(len(MAGIC))):
            return os.fstat(f.fileno()).st_size
    return sum(len(piece) for piece in iter_file(path, lookup))


def read_file(path: Path, lookup: Lookup | None) -> bytes:
    return b"".join(iter_file(path, lookup))


def open_random(path: Path, lookup: Lookup | None) -> BinaryIO:
    """A file opened for random access as plaintext: decrypted segment by segment as it is read when sealed."""
    with open(path, "rb") as f:
        if not is_sealed(f.read(len(MAGIC))):
            return open(path, "rb")  # noqa: SIM115 - the caller closes it
    if lookup is None:
        raise AtRestError(f"'{path.name}' is encrypted and no data key was given to read it")
    return io.BufferedReader(SealedReader(path, lookup), buffer_size=SEGMENT)


def source(path: Path, lookup: Lookup | None) -> Any:
    """What a Parquet or CSV reader (pyarrow, pandas) opens: the path itself when the file is plain (no copy:
    encryption off costs one 8-byte read), its decrypted bytes when sealed — in a `pyarrow.BufferReader`, which
    pyarrow reads without a Python call per read (a BytesIO cost more than the decryption)."""
    with open(path, "rb") as f:
        if not is_sealed(f.read(len(MAGIC))):
            return path
    data = read_file(path, lookup)
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency of every reader of these files
        return io.BytesIO(data)
    return pa.BufferReader(data)


# --- master keys -----------------------------------------------------------------------------------------------

class MasterKey(Protocol):
    """What wraps data keys. The default keeps keys under MLP_HOME; a KMS-backed provider implements the same
    members and is named by `MLP_AT_REST_MASTER_KEY` (`module:Class`, built with the home folder)."""

    def current(self) -> str:
        """The id of the key new wraps use."""
        ...

    def wrap(self, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        """(master key id, wrapped data key), bound to `context` (which project, which data key)."""
        ...

    def unwrap(self, key_id: str, wrapped: bytes, context: bytes) -> bytes: ...

    def rotate(self) -> str:
        """Make a new key current; earlier ones still unwrap until retired. Returns the new id."""
        ...

    def retire(self, key_id: str) -> None:
        """Destroy an earlier key (nothing is wrapped by it any more)."""
        ...


class FileMasterKey:
    """32 random bytes per key in `<home>/keys/at-rest/<id>.key` (0600); `current` names the one in use."""

    def __init__(self, home: Path):
        self.folder = home / "keys" / "at-rest"
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, key_id: str) -> Path:
        if not key_id.isalnum():
            raise AtRestError(f"bad master key id {key_id!r}")
        return self.folder / f"{key_id}.key"

    def current(self) -> str:
        cur = self.folder / "current"
        if cur.exists():
            return cur.read_text().strip()
        return self.rotate()

    def rotate(self) -> str:
        key = secrets.token_bytes(32)
        key_id = hashlib.sha256(key).hexdigest()[:16]
        if not create_secret_file(self._path(key_id), key):
            raise AtRestError(f"master key {key_id} exists already")  # 32 random bytes: never happens
        tmp = self.folder / f".current.{secrets.token_hex(4)}"
        tmp.write_text(key_id + "\n")
        os.replace(tmp, self.folder / "current")
        return key_id

    def _key(self, key_id: str) -> bytes:
        try:
            return self._path(key_id).read_bytes()
        except FileNotFoundError:
            raise AtRestError(f"master key {key_id} is not in {self.folder}: the data keys it wrapped cannot be "
                              "unwrapped") from None

    def wrap(self, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key_id = self.current()
        nonce = secrets.token_bytes(12)
        return key_id, nonce + AESGCM(self._key(key_id)).encrypt(nonce, data_key, context)

    def unwrap(self, key_id: str, wrapped: bytes, context: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            return AESGCM(self._key(key_id)).decrypt(wrapped[:12], wrapped[12:], context)
        except InvalidTag:
            raise AtRestError(f"a data key wrapped by master key {key_id} does not unwrap (altered, or moved to "
                              "another project)") from None

    def retire(self, key_id: str) -> None:
        if key_id != self.current():
            self._path(key_id).unlink(missing_ok=True)


def make_master_key(home: Path, spec: str | None = None) -> MasterKey:
    if not spec or spec == "file":
        return FileMasterKey(home)
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)(home)
