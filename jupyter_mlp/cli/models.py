"""`mlp models`: registered models: signed versions, gates, aliases, gate decisions."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import backend_client, emit, paged, project_slug, table, with_project


def cmd_models_list(args: argparse.Namespace) -> int:
    page = backend_client().get(f"/projects/{project_slug(args)}/models", limit=args.limit, offset=args.offset)
    for m in page["items"]:
        m["aliases"] = ", ".join(f"{a}=v{v}" for a, v in sorted(m["aliases"].items())) or "-"
    emit(args, page, ["name", "latest_version", "versions", "aliases", "pending_approvals"])
    return 0


def cmd_models_show(args: argparse.Namespace) -> int:
    client, slug = backend_client(), project_slug(args)
    m = client.get(f"/projects/{slug}/models/{args.name}")
    versions = client.get(f"/projects/{slug}/models/{args.name}/versions", limit=args.limit, offset=args.offset)
    pending = client.get(f"/projects/{slug}/gate-decisions", status="pending", model=args.name)
    if args.json:
        print(json.dumps({"model": m, "versions": versions, "pending": pending}, indent=2))
        return 0
    aliases = ", ".join(f"{a} -> v{v}" for a, v in sorted(m["aliases"].items())) or "none"
    print(f"Model {m['name']} in {slug} (MLflow: {m['mlflow_name']}); aliases: {aliases}")
    g = m["gates"]
    rules = [f"{t['metric']} {t['op']} {t['value']}" for t in g["thresholds"]]
    if g.get("challenger"):
        rules.append(f"beats champion on {g['challenger']['metric']} by {g['challenger']['margin']}")
    if g.get("require_approval"):
        rules.append("lead approval for champion")
    print("Gates: " + ("; ".join(rules) or "none"))
    for v in versions["items"]:
        sig = f"signed ({v['key_id']})" if v["signed"] else "UNSIGNED"
        print(f"  v{v['version']:<4} {', '.join(v['aliases']) or '-':<18} {sig:<26} data {v['lineage']['data_sha256'][:12]}"
              f"  run {v['run_id']}  by {v['created_by']}")
    for d in pending["items"]:
        print(f"  pending approval #{d['id']}: v{d['version']} -> {d['alias']} (asked by {d['requested_by']})")
    return 0


def cmd_models_register(args: argparse.Namespace) -> int:
    v = backend_client().post(f"/projects/{project_slug(args)}/models",
                       {"name": args.name, "run_id": args.run, "artifact_path": args.path})
    print(json.dumps(v, indent=2) if args.json else
          f"Registered {v['name']} version {v['version']}: {v['files']} files signed with key {v['key_id']}")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    r = backend_client().post(f"/projects/{project_slug(args)}/models/{args.name}/versions/{args.version}/verify")
    print(json.dumps(r, indent=2) if args.json else ("OK: " if r["ok"] else "REFUSED: ") + r["message"])
    return 0 if r["ok"] else 1


def cmd_models_card(args: argparse.Namespace) -> int:
    fmt = "json" if args.json else args.format
    body = backend_client().get(f"/projects/{project_slug(args)}/models/{args.name}/versions/{args.version}/card",
                                format=fmt)
    text = json.dumps(body, indent=2) + "\n" if fmt == "json" else body
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"Wrote the {fmt} card of {args.name} version {args.version} to {args.output}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def _print_decision(args: argparse.Namespace, d: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(d, indent=2))
        return
    print(f"Decision #{d['id']}: {d['model']} v{d['version']} -> {d['alias']}: {d['status'].upper()}"
          + (f" (by {d['decided_by']}: {d['reason']})" if d.get("reason") else ""))
    for r in d["evidence"].get("results", []):
        print(f"  {'ok  ' if r['passed'] else 'FAIL'} {r['gate']}: {r['message']}")


def cmd_models_promote(args: argparse.Namespace) -> int:
    d = backend_client().post(f"/projects/{project_slug(args)}/models/{args.name}/versions/{args.version}/promote",
                       {"alias": args.alias})
    _print_decision(args, d)
    return 1 if d["status"] == "failed" else 0


def cmd_models_decisions(args: argparse.Namespace) -> int:
    page = backend_client().get(f"/projects/{project_slug(args)}/gate-decisions", model=args.name, status=args.status,
                         limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    if not page["items"]:
        print("No gate decisions" + (f" for {args.name}" if args.name else "")
              + (f" with status {args.status}" if args.status else "") + ".")
        return 0
    rows = [{"id": f"#{d['id']}", "model": f"{d['model']} v{d['version']}", "alias": d["alias"],
             "status": d["status"], "requested": d["requested_by"], "decided": d["decided_by"] or "-",
             "when": (d["decided_at"] or d["created_at"] or "")[:19].replace("T", " "),
             "alias moved": "yes" if d["alias_moved"] else "no", "reason": d["reason"] or "-"}
            for d in page["items"]]
    print(table(rows, list(rows[0])))
    if page["total"] > len(rows):
        print(f"({len(rows)} of {page['total']}; use --limit/--offset for more)")
    return 0


def cmd_models_decide(args: argparse.Namespace) -> int:
    d = backend_client().post(f"/projects/{project_slug(args)}/gate-decisions/{args.decision}/{args.verb}",
                       {"reason": args.reason})
    _print_decision(args, d)
    return 0


def add_models(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="registered models: signed versions, gates, aliases").add_subparsers(
        dest="verb", required=True)
    mdl = with_project(models.add_parser("list", help="the project's models and their aliases"))
    paged(mdl)
    mdl.set_defaults(func=cmd_models_list)
    mds = with_project(models.add_parser("show", help="versions, aliases, gates and pending approvals"))
    mds.add_argument("name")
    paged(mds)
    mds.set_defaults(func=cmd_models_show)
    mdr = with_project(models.add_parser("register", help="register a run's model (hashed and signed)"))
    mdr.add_argument("name")
    mdr.add_argument("--run", required=True, help="MLflow run id in the project")
    mdr.add_argument("--path", default="model", help="logged model name or artifact folder (default: model)")
    mdr.set_defaults(func=cmd_models_register)
    mdv = with_project(models.add_parser("verify", help="re-hash the files and check the signature"))
    mdv.add_argument("name")
    mdv.add_argument("version", type=int)
    mdv.set_defaults(func=cmd_models_verify)
    mdc = with_project(models.add_parser("card", help="the version's model card from the records, every statement "
                                                      "cited (Markdown, HTML or JSON)"))
    mdc.add_argument("name")
    mdc.add_argument("version", type=int)
    mdc.add_argument("--format", choices=["markdown", "html", "json"], default="markdown")
    mdc.add_argument("-o", "--output", metavar="FILE", help="write the card to FILE instead of printing it")
    mdc.set_defaults(func=cmd_models_card)
    mdp = with_project(models.add_parser("promote", help="ask for an alias to move; the gates decide"))
    mdp.add_argument("name")
    mdp.add_argument("version", type=int)
    mdp.add_argument("--alias", choices=["staging", "champion"], default="champion")
    mdp.set_defaults(func=cmd_models_promote)
    mdd = with_project(models.add_parser("decisions", help="gate decisions, newest first, with who decided and why"))
    mdd.add_argument("name", nargs="?", help="only this model's decisions")
    mdd.add_argument("--status", choices=["passed", "failed", "pending", "approved", "rejected"])
    paged(mdd)
    mdd.set_defaults(func=cmd_models_decisions)
    for verb in ("approve", "reject"):
        mda = with_project(models.add_parser(verb, help=f"{verb} a pending gate decision (leads)"))
        mda.add_argument("decision", type=int)
        mda.add_argument("--reason", required=True)
        mda.set_defaults(func=cmd_models_decide)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"models": add_models}
