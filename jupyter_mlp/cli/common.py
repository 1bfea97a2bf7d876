"""What every `mlp` command shares: the backend client, the project it acts on, table and JSON output, the common
options. Nothing heavy is imported here: `mlp --help` stays instant."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def backend_client():  # noqa: ANN201 - imported lazily so `mlp --help` stays instant
    from ..client import BackendClient

    return BackendClient()


def project_slug(args: argparse.Namespace) -> str:
    """--project, else the nearest mlp-project.toml above the working directory."""
    from ..projects import project_of

    slug = args.project or project_of("/", str(Path.cwd() / "_")).project
    if not slug:
        raise SystemExit("mlp: no project: add --project, or run inside a folder with an mlp-project.toml")
    return slug


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def emit(args: argparse.Namespace, data: Any, columns: list[str] | None = None) -> None:
    if args.json or columns is None:
        print(json.dumps(data, indent=2))
    else:
        print(table(data["items"], columns))
        if data["total"] > len(data["items"]):
            print(f"({len(data['items'])} of {data['total']}; use --limit/--offset for more)")


def fmt_time(ms: int | None) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if ms else ""


def when(iso: str | None) -> str:
    return (iso or "")[:19].replace("T", " ")


def num(v: Any) -> str:
    return "" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def paged(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--offset", type=int, default=0)


def with_project(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("-P", "--project", help="project slug (default: the nearest mlp-project.toml)")
    return parser
