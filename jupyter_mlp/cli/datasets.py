"""`mlp datasets list` and `mlp datasets policy DATASET [--column C --role R --action A]`: a project's datasets, and
what each role sees of a dataset's columns (column policies: allow, mask, hash, deny; changes: leads)."""

from __future__ import annotations

import argparse
import json

from .common import backend_client, project_slug, table, with_project

ROLES = ("viewer", "stakeholder", "scientist", "lead", "admin")


def cmd_list(args: argparse.Namespace) -> int:
    page = backend_client().get(f"/projects/{project_slug(args)}/datasets")
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    print(table([{"name": d["name"], "snapshot": d["current_snapshot_id"], "snapshots": len(d["snapshots"])}
                 for d in page["items"]], ["name", "snapshot", "snapshots"]))
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    given = [x for x in (args.column, args.role, args.action) if x is not None]
    if given and len(given) < 3:
        raise SystemExit("mlp: 'datasets policy' sets a policy with all of --column, --role and --action "
                         "(or shows them with none)")
    path = f"/projects/{project_slug(args)}/datasets/{args.dataset}/policies"
    client = backend_client()
    body = (client.put(path, {"column": args.column, "role": args.role, "action": args.action}) if given
            else client.get(path))
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    rows = [{"column": c["name"] + ("" if c["in_schema"] else " (gone)"),
             **{r: c["policies"].get(r, "-") for r in ROLES}} for c in body["columns"]]
    print(table(rows, ["column", *ROLES]))
    print("(-: allow, unless a column of that name is shaped in another of the project's datasets)")
    return 0


def add_datasets(sub: argparse._SubParsersAction) -> None:
    ds = sub.add_parser("datasets", help="a project's datasets and their column policies").add_subparsers(
        dest="verb", required=True)
    p = with_project(ds.add_parser("list", help="the project's datasets"))
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the API's answer")
    p.set_defaults(func=cmd_list)
    p = with_project(ds.add_parser(
        "policy", help="show a dataset's columns with what each role sees of them, or set one (leads): "
                       "--column C --role R --action allow|mask|hash|deny"))
    p.add_argument("dataset")
    p.add_argument("--column", help="the column to set a policy on")
    p.add_argument("--role", choices=ROLES, help="the role it applies to")
    p.add_argument("--action", choices=("allow", "mask", "hash", "deny"),
                   help="allow; mask (every value '***'); hash (keyed per project: joins still work); deny (refused)")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the API's answer")
    p.set_defaults(func=cmd_policy)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"datasets": add_datasets}
