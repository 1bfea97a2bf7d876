"""`mlp suggest DATASET --target COL`: model families, search spaces, preprocessing and warm starts for a project's
dataset, each family with the past experiments that justify it (`--json`: the suggestion as the API returns it)."""

from __future__ import annotations

import argparse
import json

from .common import backend_client, with_project


def cmd_suggest(args: argparse.Namespace) -> int:
    from ..suggestions import suggest

    s = suggest(args.dataset, args.target, project=args.project, snapshot_id=args.snapshot,
                client=backend_client())
    print(json.dumps(s.to_dict(), indent=2) if args.json else s.to_text())
    return 0


def add_suggest(sub: argparse._SubParsersAction) -> None:
    p = with_project(sub.add_parser("suggest", help="suggest model families and search spaces for a dataset"))
    p.add_argument("dataset", help="the project's dataset (as registered with jupyter_mlp.datasets.register)")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--snapshot", type=int, default=None, help="the dataset's snapshot id (default: the current one)")
    # SUPPRESS: unset here leaves `mlp --json suggest ...`'s value alone
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the suggestion as JSON")
    p.set_defaults(func=cmd_suggest)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"suggest": add_suggest}
