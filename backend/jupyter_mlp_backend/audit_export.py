"""Exporting the audit log with its signed checkpoints (issue 20 item 4): to an `s3://bucket/prefix` by the backend,
or streamed to the caller, who writes the folder (`mlp audit export --to DIR`).

The format is jupyter_mlp/auditlog.py's; `mlp audit verify --from EXPORT` checks it offline. An export first signs
a checkpoint at the current head (its own `audit.export` entry included), so a fresh export ends on a signed
checkpoint and nothing in it rests on the chain alone. The backend writes no local folder on request: a path on
the backend's host chosen by a caller would be a write anywhere the backend can write.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from jupyter_mlp.auditlog import (
    CHECKPOINT_FORMAT,
    CHECKPOINTS,
    ENTRIES,
    ENTRY_FIELDS,
    EXPORT_FORMAT,
    KEYS,
    MANIFEST,
    entry_line,
    keys_document,
    s3_filesystem,
)

from . import audit
from .db import Database
from .errors import Invalid, MLPError
from .orm import AuditCheckpoint, AuditEntry

# Where credentials for AWS S3 can come from when no S3-compatible endpoint is set (boto's and pyarrow's chain).
_AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


class ExportFailed(MLPError):
    status = 502
    code = "export_failed"


def app_signer(app: Any) -> Any:
    """The platform's signer (`signer` setting), one per app; the registry's model signing uses the same one."""
    if getattr(app.state, "signer", None) is None:
        from jupyter_mlp.signing import make_signer

        app.state.signer = make_signer(app.state.settings.home, app.state.settings.signer)
    return app.state.signer


def checkpoint_out(cp: AuditCheckpoint) -> dict[str, Any]:
    """A checkpoint as exported and published: the signed statement plus its signature."""
    return {"format": CHECKPOINT_FORMAT, "entries": cp.entries, "head": cp.head, "ts": cp.ts, "key_id": cp.key_id,
            "signature": cp.signature}


@dataclass
class Prepared:
    entries: int
    head: str
    key_id: str
    checkpoints: list[dict[str, Any]]
    keys: dict[str, Any]
    manifest: dict[str, Any]


def _bucket_path(to: str, endpoint: str | None) -> str:
    try:
        u = urlparse(to)
    except ValueError:  # "s3://[" and the like
        u = urlparse("")
    if u.scheme != "s3" or not u.netloc:
        raise Invalid(f"'{to}' is not an s3://bucket/prefix (a folder is written by `mlp audit export --to DIR`)")
    if not endpoint and not any(os.environ.get(v) for v in _AWS_CREDENTIALS) \
            and not (Path.home() / ".aws").is_dir():
        raise Invalid("no object store is configured: set `s3_endpoint_url` (MinIO, Ceph, ...) or AWS credentials")
    return f"{u.netloc}{u.path.rstrip('/')}"


def prepare(app: Any, who: Any, target: str) -> Prepared:
    """Record the export (platform admins), sign a checkpoint at the head; what the files but entries.jsonl hold."""
    from .access import require_platform_admin

    db: Database = app.state.db
    with db.session() as s:
        require_platform_admin(s, who, "audit.export", target)  # a refusal is recorded and committed on its own
        if target != "download":
            _bucket_path(target, app.state.settings.s3_endpoint_url)
        signer = app_signer(app)
        last = audit.checkpoint(s, signer)
        s.commit()
        assert last is not None  # the export's own entry is there
        checkpoints = [checkpoint_out(c) for c in s.execute(
            select(AuditCheckpoint).where(AuditCheckpoint.entries <= last.entries).order_by(AuditCheckpoint.entries)
        ).scalars()]
        keys = keys_document(signer.public_keys())
    manifest = {"format": EXPORT_FORMAT, "exported_at": datetime.now(timezone.utc).isoformat(),
                "entries": last.entries, "head": last.head, "checkpoints": len(checkpoints),
                "files": {"entries": ENTRIES, "checkpoints": CHECKPOINTS, "public_keys": KEYS}}
    return Prepared(last.entries, last.head, last.key_id, checkpoints, keys, manifest)


def entry_chunks(db: Database, upto: int, batch: int = 5000) -> Iterator[str]:
    """entries.jsonl's text for entries 1..upto, a batch at a time (each read in its own short transaction)."""
    after = 0
    while after < upto:
        with db.session() as s:
            rows = s.execute(select(AuditEntry).where(AuditEntry.seq > after, AuditEntry.seq <= upto)
                             .order_by(AuditEntry.seq).limit(batch)).scalars().all()
            if not rows:
                return
            chunk = "".join(entry_line({f: getattr(e, f) for f in ENTRY_FIELDS}) for e in rows)
            after = rows[-1].seq
            s.rollback()
        yield chunk


def small_files(p: Prepared) -> dict[str, str]:
    return {CHECKPOINTS: "".join(json.dumps(c, separators=(",", ":")) + "\n" for c in p.checkpoints),
            KEYS: json.dumps(p.keys, indent=2) + "\n", MANIFEST: json.dumps(p.manifest, indent=2) + "\n"}


def summary(p: Prepared, to: str) -> dict[str, Any]:
    return {"to": to, "entries": p.entries, "head": p.head, "checkpoints": len(p.checkpoints), "key_id": p.key_id}


def export_to_bucket(app: Any, who: Any, to: str) -> dict[str, Any]:
    """Write the export to `s3://bucket/prefix` with the platform's S3 settings; the manifest last."""
    p = prepare(app, who, to)
    base = _bucket_path(to, app.state.settings.s3_endpoint_url)
    try:
        fs = s3_filesystem(app.state.settings.s3_endpoint_url)
        with fs.open_output_stream(f"{base}/{ENTRIES}") as out:
            for chunk in entry_chunks(app.state.db, p.entries):
                out.write(chunk.encode())
        for name, text in small_files(p).items():
            with fs.open_output_stream(f"{base}/{name}") as out:
                out.write(text.encode())
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError (a malformed bucket name, say)
        raise ExportFailed(f"could not write the export to '{to}': {e}") from None
    return summary(p, to)


def export_stream(app: Any, who: Any) -> Iterator[bytes]:
    """The export as NDJSON: line 1 `{"manifest", "public_keys", "checkpoints"}`, then entries.jsonl's lines."""
    p = prepare(app, who, "download")
    head = {"manifest": p.manifest, "public_keys": p.keys, "checkpoints": p.checkpoints}

    def body() -> Iterator[bytes]:
        yield (json.dumps(head, separators=(",", ":")) + "\n").encode()
        for chunk in entry_chunks(app.state.db, p.entries):
            yield chunk.encode()

    return body()
