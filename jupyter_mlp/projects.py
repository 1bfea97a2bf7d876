"""Which project a file belongs to: the marker-file rule, shared by the server extension and the CLI.

A notebook belongs to the project named in the nearest `mlp-project.toml` (`project = "<slug>"`) in its folder
or a parent folder, up to the root (the Jupyter root, or the filesystem root for the CLI).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

MARKER = "mlp-project.toml"
RULE = (f"A notebook belongs to the project named in the nearest {MARKER} (project = \"<slug>\") in its folder or "
        "a parent folder, up to the Jupyter root.")


@dataclass
class ProjectOf:
    project: str | None
    marker: str | None  # API path of the marker file that decided it
    problem: str | None = None


def project_of(root_dir: str, api_path: str) -> ProjectOf:
    """Which project a notebook (or folder) at `api_path` belongs to, by the marker-file rule."""
    root = Path(root_dir).resolve()
    target = (root / api_path.lstrip("/")).resolve()
    if root != target and root not in target.parents:
        return ProjectOf(None, None, "path is outside the Jupyter root")
    folder = target if target.is_dir() else target.parent
    while True:
        marker = folder / MARKER
        if marker.is_file():
            rel = str(marker.relative_to(root))
            try:
                slug = tomllib.loads(marker.read_text()).get("project")
            except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
                return ProjectOf(None, rel, f"{rel} is not valid TOML: {e}")
            if not isinstance(slug, str) or not slug:
                return ProjectOf(None, rel, f'{rel} has no project = "<slug>" line')
            return ProjectOf(slug, rel)
        if folder == root:
            return ProjectOf(None, None)
        folder = folder.parent
