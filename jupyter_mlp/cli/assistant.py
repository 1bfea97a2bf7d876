"""`mlp ask "question"`: ask the platform's assistant; prints the answer and its numbered citations (`--json`: the
answer as JSON, the contract of tests/bench/assistant_score.py plus its conversation id)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .common import backend_client, with_project


def cmd_ask(args: argparse.Namespace) -> int:
    from ..assistant import ask, to_text
    from ..projects import project_of

    question = " ".join(args.question).strip()
    if not question:
        raise SystemExit("mlp: the question is empty")
    # --project, else the nearest mlp-project.toml, else every project the caller can open
    project = args.project or project_of("/", os.path.join(os.getcwd(), "_")).project
    answer = ask(backend_client(), question, project=project,
                 on_status=None if args.json else lambda s: print(f"… {s}", file=sys.stderr))
    print(json.dumps(answer, indent=2) if args.json else to_text(answer))
    return 0


def add_ask(sub: argparse._SubParsersAction) -> None:
    p = with_project(sub.add_parser("ask", help="ask the assistant about the platform's records (answers cited)"))
    p.add_argument("question", nargs="+", help="the question, in plain words")
    # SUPPRESS: unset here leaves `mlp --json ask ...`'s value alone
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the answer as JSON")
    p.set_defaults(func=cmd_ask)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"ask": add_ask}
