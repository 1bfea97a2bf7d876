"""Artifact paths from clients: relative, plain segments, nothing that could leave the place it names."""

from __future__ import annotations

import re

_BAD_CHARS = re.compile(r"[\\\x00-\x1f\x7f%]")


class InvalidArtifactPath(ValueError):
    pass


def artifact_path(raw: str, *, allow_empty: bool = True) -> list[str]:
    """Split a client-given artifact path into safe segments, or raise InvalidArtifactPath naming the problem.

    Refused: absolute paths, URIs (`file://`, `s3://`…), `.`/`..` segments, empty segments, backslashes, control
    characters and percent signs (a path arrives decoded once; a `%` left in it is an encoding trick).
    """
    if raw is None:
        raw = ""
    if len(raw) > 1024:
        raise InvalidArtifactPath("artifact path is longer than 1024 characters")
    if raw.startswith("/") or raw.startswith("~"):
        raise InvalidArtifactPath(f"artifact path '{raw}' must be relative")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", raw):
        raise InvalidArtifactPath(f"artifact path '{raw}' must not be a URI")
    if _BAD_CHARS.search(raw):
        raise InvalidArtifactPath(f"artifact path '{raw}' contains a backslash, control character or '%'")
    if raw == "":
        if allow_empty:
            return []
        raise InvalidArtifactPath("artifact path is empty")
    parts = raw.rstrip("/").split("/")
    for p in parts:
        if p in ("", ".", ".."):
            raise InvalidArtifactPath(f"artifact path '{raw}' has an empty, '.' or '..' segment")
    return parts
