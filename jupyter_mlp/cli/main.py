"""`mlp`'s parser and entry point: the top-level options, then each domain module's commands in a fixed order."""

from __future__ import annotations

import argparse
import sys

from . import (assistant, datasets, hub, models, monitoring, pipelines, projects, recommender, runs, security,
               serving, ship, updown)

# The domain modules; each has COMMANDS, its top-level commands by name with the function that adds them.
DOMAINS = (updown, hub, projects, runs, datasets, pipelines, ship, models, serving, monitoring, assistant,
           recommender, security)

# The order `mlp --help` lists the commands in (kept as it was when the CLI was one file).
ORDER = ("up", "down", "hub", "projects", "members", "runs", "datasets", "promote", "pipelines", "ship", "models",
         "deploy", "deployments", "batch", "keys", "serving", "monitor", "alerts", "webhooks", "audit", "security",
         "ask", "suggest")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlp", description="jupyter-mlp: the ML platform inside JupyterLab")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    adders = {name: add for domain in DOMAINS for name, add in domain.COMMANDS.items()}
    if set(adders) != set(ORDER):  # a domain's new command must be placed in ORDER (and the reverse)
        raise RuntimeError(f"mlp: commands not placed in ORDER: {sorted(set(adders) ^ set(ORDER))}")
    for name in ORDER:
        adders[name](sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..client import APIError

    try:
        return args.func(args)
    except APIError as e:
        print(f"mlp: {e.message}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"mlp: {e}", file=sys.stderr)
        return 1
