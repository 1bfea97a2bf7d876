"""`mlp`: the platform from a terminal. Every verb goes through the backend's API, as the panel does."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .settings import load_settings


def _client():  # noqa: ANN202 - imported lazily so `mlp --help` stays instant
    from .client import BackendClient

    return BackendClient()


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _emit(args: argparse.Namespace, data: Any, columns: list[str] | None = None) -> None:
    if args.json or columns is None:
        print(json.dumps(data, indent=2))
    else:
        print(_table(data["items"], columns))
        if data["total"] > len(data["items"]):
            print(f"({len(data['items'])} of {data['total']}; use --limit/--offset for more)")


def cmd_up(args: argparse.Namespace) -> int:
    from .platform import up

    return up(load_settings(), Path(args.root_dir).resolve(), detach=args.detach)


def cmd_down(args: argparse.Namespace) -> int:
    from .platform import down

    return down(load_settings())


def cmd_projects_list(args: argparse.Namespace) -> int:
    _emit(args, _client().get("/projects", limit=args.limit, offset=args.offset), ["slug", "name", "role", "created_by"])
    return 0


def cmd_projects_create(args: argparse.Namespace) -> int:
    p = _client().post("/projects", {"slug": args.slug, "name": args.name or args.slug, "description": args.description})
    print(json.dumps(p, indent=2) if args.json else f"Created project {p['slug']} ({p['name']})")
    return 0


def cmd_members_list(args: argparse.Namespace) -> int:
    _emit(args, _client().get(f"/projects/{args.project}/members", limit=args.limit, offset=args.offset),
          ["user", "role", "added_by", "added_at"])
    return 0


def cmd_members_add(args: argparse.Namespace) -> int:
    m = _client().put(f"/projects/{args.project}/members/{args.user}", {"role": args.role})
    print(json.dumps(m, indent=2) if args.json else f"{m['user']} is {m['role']} in {args.project}")
    return 0


def cmd_members_remove(args: argparse.Namespace) -> int:
    _client().delete(f"/projects/{args.project}/members/{args.user}")
    print(f"Removed {args.user} from {args.project}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    r = _client().post("/audit/verify")
    if args.json:
        print(json.dumps(r, indent=2))
    elif r["ok"]:
        print(f"Audit log intact: {r['entries']} entries verified.")
    else:
        print(f"Audit log BROKEN at entry {r['first_bad_seq']}: {r['reason']}")
    return 0 if r["ok"] else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlp", description="jupyter-mlp: the ML platform inside JupyterLab")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start (or find) the backend and JupyterLab, print the URL")
    up.add_argument("--root-dir", default=".", help="folder JupyterLab opens (default: current)")
    up.add_argument("--detach", action="store_true", help="return once everything answers; `mlp down` stops it")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop JupyterLab and the backend of this MLP_HOME").set_defaults(func=cmd_down)

    def paged(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--limit", type=int, default=50)
        parser.add_argument("--offset", type=int, default=0)

    projects = sub.add_parser("projects", help="client engagements").add_subparsers(dest="verb", required=True)
    pl = projects.add_parser("list", help="projects you can see")
    paged(pl)
    pl.set_defaults(func=cmd_projects_list)
    pc = projects.add_parser("create", help="create a project (platform admins)")
    pc.add_argument("slug")
    pc.add_argument("--name")
    pc.add_argument("--description", default="")
    pc.set_defaults(func=cmd_projects_create)

    members = sub.add_parser("members", help="who works on a project").add_subparsers(dest="verb", required=True)
    ml = members.add_parser("list")
    ml.add_argument("project")
    paged(ml)
    ml.set_defaults(func=cmd_members_list)
    ma = members.add_parser("add", help="add a member or change a role (leads and admins)")
    ma.add_argument("project")
    ma.add_argument("user")
    ma.add_argument("--role", default="scientist", choices=["viewer", "stakeholder", "scientist", "lead", "admin"])
    ma.set_defaults(func=cmd_members_add)
    mr = members.add_parser("remove")
    mr.add_argument("project")
    mr.add_argument("user")
    mr.set_defaults(func=cmd_members_remove)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(dest="verb", required=True)
    audit.add_parser("verify", help="recompute the hash chain; name the first bad entry").set_defaults(
        func=cmd_audit_verify
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .client import APIError

    try:
        return args.func(args)
    except APIError as e:
        print(f"mlp: {e.message}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"mlp: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
