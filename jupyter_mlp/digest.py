"""The sha256 of a file's content: the one helper the platform hashes files with (datasets read by a run, the
files of a signed model, a pipeline version's frozen environment). `hashlib.file_digest` reads the file in
blocks (Python 3.11+), so a large file is never held in memory."""

from __future__ import annotations

import hashlib
import os


def file_digest(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of the file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
