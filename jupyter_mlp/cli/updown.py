"""`mlp up` and `mlp down`: start and stop the local backend and JupyterLab."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..settings import load_settings


def cmd_up(args: argparse.Namespace) -> int:
    from ..platform import up

    return up(load_settings(), Path(args.root_dir).resolve(), detach=args.detach)


def cmd_down(args: argparse.Namespace) -> int:
    from ..platform import down

    return down(load_settings())


def add_up(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("up", help="start (or find) the backend and JupyterLab, print the URL")
    up.add_argument("--root-dir", default=".", help="folder JupyterLab opens (default: current)")
    up.add_argument("--detach", action="store_true", help="return once everything answers; `mlp down` stops it")
    up.set_defaults(func=cmd_up)


def add_down(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("down", help="stop JupyterLab and the backend of this MLP_HOME").set_defaults(func=cmd_down)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"up": add_up, "down": add_down}
