"""Signed model manifests: what was registered is provably what is loaded.

At registration the platform hashes every file of a model's artifact and signs a statement — the project, the
model and version, each file's path, sha256 and size, and the lineage digests — with ed25519
(`cryptography`). Before anything deserialises a model (serving workers, batch scoring, gate evaluation), the
loader re-hashes the files it is about to load and checks them against the statement and the statement against
a trusted public key. A flipped byte, an added or removed file, another key, a statement for another project or
version, or no signature at all is refused, with the reason in words, and nothing is unpickled.

Only the standard library is imported at module load; `cryptography` when a key is used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .digest import file_digest
from .secret_file import create_secret_file

FORMAT = "jupyter-mlp/model-manifest/1"


class VerificationError(Exception):
    """The model must not be loaded; the message says why."""


def canonical(statement: dict[str, Any]) -> bytes:
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def hash_tree(root: Path) -> list[dict[str, Any]]:
    """[{path, sha256, size}] of every regular file under root, sorted; symbolic links are refused."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in list(dirnames) + filenames:
            p = Path(dirpath, name)
            if p.is_symlink():
                raise VerificationError(f"'{p.relative_to(root).as_posix()}' is a symbolic link")
        for name in filenames:
            p = Path(dirpath, name)
            out.append({"path": p.relative_to(root).as_posix(), "sha256": file_digest(p), "size": p.stat().st_size})
    return sorted(out, key=lambda f: f["path"])


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


class Signer(Protocol):
    """What signs manifests. The default keeps an ed25519 key under MLP_HOME; a KMS- or HSM-backed signer
    implements the same three members and is named by `MLP_SIGNER` (`module:Class`, built with the settings)."""

    key_id: str

    def sign(self, data: bytes) -> bytes: ...

    def public_keys(self) -> dict[str, bytes]:
        """key id -> raw ed25519 public key, for every key whose signatures are trusted."""
        ...


class FileSigner:
    """An ed25519 key in `<home>/keys/model-signing.key` (0600), created on first use; its public key beside it.
    Public keys of earlier keys dropped into `<home>/keys/trusted/*.pub` stay trusted (key rotation)."""

    def __init__(self, home: Path):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        folder = home / "keys"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / "model-signing.key"
        if not path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            create_secret_file(path, pem)  # another process made it first: use theirs
        self._key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = key_id(raw)
        pub = folder / "model-signing.pub"
        if not pub.exists():
            pub.write_text(base64.b64encode(raw).decode() + "\n")
        self._trusted = {self.key_id: raw}
        for extra in sorted((folder / "trusted").glob("*.pub")):
            r = base64.b64decode(extra.read_text().strip())
            self._trusted[key_id(r)] = r

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def public_keys(self) -> dict[str, bytes]:
        return dict(self._trusted)


def make_signer(home: Path, spec: str | None = None) -> Signer:
    if not spec or spec == "file":
        return FileSigner(home)
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)(home)


@dataclass(frozen=True)
class Signed:
    statement: dict[str, Any]
    signature: str  # base64
    key_id: str


def sign_statement(signer: Signer, statement: dict[str, Any]) -> Signed:
    body = {**statement, "format": FORMAT, "key_id": signer.key_id}
    return Signed(body, base64.b64encode(signer.sign(canonical(body))).decode(), signer.key_id)


def verify_statement(statement: dict[str, Any] | None, signature: str | None, trusted: dict[str, bytes], *,
                     project: str, model: str, version: int) -> None:
    """Check the signature and what the statement is about; raise VerificationError naming the problem."""
    if not statement or not signature:
        raise VerificationError("the model version is not signed")
    if statement.get("format") != FORMAT:
        raise VerificationError(f"unknown manifest format {statement.get('format')!r}")
    raw = trusted.get(str(statement.get("key_id")))
    if raw is None:
        raise VerificationError(f"signed by key {statement.get('key_id')!r}, which this platform does not trust")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(base64.b64decode(signature), canonical(statement))
    except (InvalidSignature, ValueError):
        raise VerificationError("the signature does not match the manifest (altered, or signed by another key)"
                                ) from None
    if statement.get("project") != project:
        raise VerificationError(f"signed for project '{statement.get('project')}', not '{project}'")
    if statement.get("model") != model or statement.get("version") != version:
        raise VerificationError(f"signed for {statement.get('model')} version {statement.get('version')}, "
                                f"not {model} version {version}")


def verify_tree(root: Path, statement: dict[str, Any]) -> None:
    """Re-hash the files under root and compare them with the signed manifest, exactly."""
    verify_files(hash_tree(root), statement)


def verify_files(files: list[dict[str, Any]], statement: dict[str, Any]) -> None:
    """Compare a manifest (path, sha256), hashed elsewhere — e.g. over a sealed copy's plaintext as it was
    written — with the signed manifest, exactly."""
    expected = {f["path"]: f for f in statement.get("files", [])}
    found = {f["path"]: f for f in files}
    added = sorted(set(found) - set(expected))
    removed = sorted(set(expected) - set(found))
    changed = sorted(p for p in set(found) & set(expected) if found[p]["sha256"] != expected[p]["sha256"])
    problems = ([f"file '{p}' was changed" for p in changed] + [f"file '{p}' was added" for p in added]
                + [f"file '{p}' is missing" for p in removed])
    if problems:
        raise VerificationError("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5
                                                             else ""))


def verify_model_dir(root: Path, statement: dict[str, Any] | None, signature: str | None,
                     trusted: dict[str, bytes], *, project: str, model: str, version: int) -> None:
    """Everything the loader checks before it deserialises anything."""
    verify_statement(statement, signature, trusted, project=project, model=model, version=version)
    verify_tree(root, statement)  # type: ignore[arg-type]
