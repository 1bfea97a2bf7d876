"""`mlp projects`, `mlp members`, `mlp audit`: projects, who works on them, the audit log."""

from __future__ import annotations

import argparse
import json

from .common import backend_client, emit, paged


def cmd_projects_list(args: argparse.Namespace) -> int:
    emit(args, backend_client().get("/projects", limit=args.limit, offset=args.offset),
         ["slug", "name", "role", "created_by"])
    return 0


def cmd_projects_create(args: argparse.Namespace) -> int:
    p = backend_client().post("/projects", {"slug": args.slug, "name": args.name or args.slug,
                                            "description": args.description})
    print(json.dumps(p, indent=2) if args.json else f"Created project {p['slug']} ({p['name']})")
    return 0


def cmd_members_list(args: argparse.Namespace) -> int:
    emit(args, backend_client().get(f"/projects/{args.project}/members", limit=args.limit, offset=args.offset),
          ["user", "role", "added_by", "added_at"])
    return 0


def cmd_members_add(args: argparse.Namespace) -> int:
    m = backend_client().put(f"/projects/{args.project}/members/{args.user}", {"role": args.role})
    print(json.dumps(m, indent=2) if args.json else f"{m['user']} is {m['role']} in {args.project}")
    return 0


def cmd_members_remove(args: argparse.Namespace) -> int:
    backend_client().delete(f"/projects/{args.project}/members/{args.user}")
    print(f"Removed {args.user} from {args.project}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    r = backend_client().post("/audit/verify")
    if args.json:
        print(json.dumps(r, indent=2))
    elif r["ok"]:
        print(f"Audit log intact: {r['entries']} entries verified.")
    else:
        print(f"Audit log BROKEN at entry {r['first_bad_seq']}: {r['reason']}")
    return 0 if r["ok"] else 1


def add_projects(sub: argparse._SubParsersAction) -> None:
    projects = sub.add_parser("projects", help="client engagements").add_subparsers(dest="verb", required=True)
    pl = projects.add_parser("list", help="projects you can see")
    paged(pl)
    pl.set_defaults(func=cmd_projects_list)
    pc = projects.add_parser("create", help="create a project (platform admins)")
    pc.add_argument("slug")
    pc.add_argument("--name")
    pc.add_argument("--description", default="")
    pc.set_defaults(func=cmd_projects_create)


def add_members(sub: argparse._SubParsersAction) -> None:
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


def add_audit(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="the audit log").add_subparsers(dest="verb", required=True)
    audit.add_parser("verify", help="recompute the hash chain; name the first bad entry").set_defaults(
        func=cmd_audit_verify
    )


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"projects": add_projects, "members": add_members, "audit": add_audit}
