"""Creating a secret file: the install secret, the model-signing key, the at-rest master keys.

Standard library only.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_secret_file(path: Path, data: bytes) -> bool:
    """Create `path` holding `data`, readable and writable by its owner only (0600), unless it exists already.

    Whole or not at all: the bytes go to a private temporary name first, which is then hard-linked to `path` — a
    link fails when `path` exists, so of concurrent creators (threads, processes) the first wins and the others keep
    its file, and no reader ever finds it empty or half written. Returns whether this call created it. The folder
    must exist (callers choose its mode)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)
