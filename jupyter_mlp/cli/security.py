"""`mlp security`: encryption at rest per project — turn it on or off, rotate the master key, destroy a project's
data key (platform admins; docs/security.md#encryption-at-rest)."""

from __future__ import annotations

import argparse
import json

from .common import backend_client


def _show(args: argparse.Namespace, e: dict) -> None:
    if args.json:
        print(json.dumps(e, indent=2))
    elif e["key_id"] is None:
        print(f"{e['project']}: encryption at rest off (no data key)")
    else:
        print(f"{e['project']}: encryption at rest {'on' if e['enabled'] else 'off'} (data key {e['key_id']}, "
              f"wrapped by master key {e['master_key_id']})")


def cmd_encryption(args: argparse.Namespace) -> int:
    c = backend_client()
    path = f"/projects/{args.project}/encryption"
    _show(args, c.get(path) if args.enabled is None else c.put(path, {"enabled": args.enabled}))
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    r = backend_client().post("/security/rotate-master-key")
    print(json.dumps(r, indent=2) if args.json else
          f"Master key {r['master_key_id']}: {r['rewrapped']} data key(s) re-wrapped, no file rewritten, and "
          f"{r.get('column_secrets', 0)} column-policy secret(s); "
          f"retired {', '.join(r['retired']) or 'none'}")
    return 0


def cmd_shred(args: argparse.Namespace) -> int:
    from urllib.parse import quote

    backend_client().delete(f"/projects/{args.project}/encryption/key?confirm={quote(args.confirm or '')}")
    print(f"Destroyed {args.project}'s data key: its encrypted files can no longer be read")
    return 0


def add_security(sub: argparse._SubParsersAction) -> None:
    sec = sub.add_parser("security", help="encryption at rest per project (platform admins)").add_subparsers(
        dest="verb", required=True)
    en = sec.add_parser("encryption", help="show, or turn on or off, encryption at rest for a project")
    en.add_argument("project")
    on = en.add_mutually_exclusive_group()
    on.add_argument("--on", dest="enabled", action="store_const", const=True, default=None)
    on.add_argument("--off", dest="enabled", action="store_const", const=False)
    en.set_defaults(func=cmd_encryption)
    ro = sec.add_parser("rotate-master-key", help="re-wrap every project's data key with a new master key")
    ro.set_defaults(func=cmd_rotate)
    sh = sec.add_parser("shred", help="destroy a project's data key: its encrypted files become unreadable")
    sh.add_argument("project")
    sh.add_argument("--confirm", metavar="PROJECT", help="the project's slug again")
    sh.set_defaults(func=cmd_shred)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"security": add_security}
