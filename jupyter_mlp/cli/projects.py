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
    if args.source:
        return _verify_export(args)
    r = backend_client().post("/audit/verify")
    if args.json:
        print(json.dumps(r, indent=2))
    elif r["ok"]:
        print(f"Audit log intact: {r['entries']} entries verified.")
    else:
        print(f"Audit log BROKEN at entry {r['first_bad_seq']}: {r['reason']}")
    return 0 if r["ok"] else 1


def _verify_export(args: argparse.Namespace) -> int:
    """Offline: no backend, no database; only the export, the public key and jupyter_mlp/auditlog.py."""
    import tempfile
    from pathlib import Path

    from ..auditlog import load_public_keys, verify_export

    keys = load_public_keys(Path(args.public_key)) if args.public_key else None
    expect = [json.loads(Path(p).read_text()) for p in args.checkpoint or []]
    with tempfile.TemporaryDirectory(prefix="mlp-audit-") as tmp:
        folder = Path(args.source)
        if args.source.startswith("s3://"):
            from ..auditlog import download
            from ..settings import load_settings

            folder = download(args.source, Path(tmp), load_settings().s3_endpoint_url)
        elif not folder.is_dir():
            print(f"mlp: '{args.source}' is not a folder holding an audit export")
            return 2
        r = verify_export(folder, keys, expect)
    if args.json:
        print(json.dumps({"ok": r.ok, "entries": r.entries, "checkpoints": r.checkpoints,
                          "signed_entries": r.signed_entries,
                          "first_bad_entry": r.problem.entry if r.problem else None,
                          "reason": r.problem.reason if r.problem else None, "notes": r.notes}, indent=2))
    elif r.ok:
        print(f"Audit export verified: {r.entries} entries, {r.checkpoints} checkpoints, entries 1..{r.signed_entries} "
              "signed.")
    else:
        print(f"Audit export REFUSED at entry {r.problem.entry}: {r.problem.reason}")
    if not args.json:
        for note in r.notes:
            print(f"note: {note}")
    return 0 if r.ok else 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    if args.to.startswith("s3://"):  # written by the backend with the platform's S3 settings
        r = backend_client().post("/audit/export", {"to": args.to})
    else:
        r = _export_to_folder(args.to)
    print(json.dumps(r, indent=2) if args.json else
          f"Exported {r['entries']} entries and {r['checkpoints']} checkpoints to {r['to']} (signed by key "
          f"{r['key_id']}).")
    return 0


def _export_to_folder(to: str) -> dict:
    from pathlib import Path

    from ..auditlog import write_folder

    return write_folder(Path(to), backend_client().stream_lines("POST", "/audit/export/download"))


def cmd_audit_public_key(args: argparse.Namespace) -> int:
    r = backend_client().get("/audit/public-key")
    text = json.dumps({"format": r["format"], "keys": r["keys"]}, indent=2) + "\n"
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(text)
        print(f"Wrote the platform's public keys ({', '.join(r['keys'])}) to {args.out}")
    else:
        print(text, end="")
    return 0


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
    av = audit.add_parser("verify", help="recompute the hash chain and name the first bad entry: the platform's "
                          "log, or with --from an export, offline")
    av.add_argument("--from", dest="source", metavar="EXPORT",
                    help="an export's folder or s3://bucket/prefix: verified without the platform")
    av.add_argument("--public-key", metavar="FILE", help="the platform's published keys (`mlp audit public-key`); "
                    "default: the export's own public-keys.json")
    av.add_argument("--checkpoint", action="append", metavar="FILE",
                    help="a checkpoint published elsewhere (JSON); the export must reach and match it (repeatable)")
    av.set_defaults(func=cmd_audit_verify)
    ae = audit.add_parser("export", help="export the log with its signed checkpoints (platform admins)")
    ae.add_argument("--to", required=True, metavar="DIR",
                    help="a new or empty folder here (streamed from the backend), or s3://bucket/prefix (written by "
                    "the backend with the platform's S3 settings)")
    ae.set_defaults(func=cmd_audit_export)
    ak = audit.add_parser("public-key", help="the keys audit checkpoints are signed with")
    ak.add_argument("--out", metavar="FILE", help="write them to FILE (for `mlp audit verify --public-key`)")
    ak.set_defaults(func=cmd_audit_public_key)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"projects": add_projects, "members": add_members, "audit": add_audit}
