"""`mlp deploy`, `mlp deployments`, `mlp batch`, `mlp keys`, `mlp serving tls`: serving endpoints, batch scoring,
client API keys and client certificates at the gateway."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .common import backend_client, emit, paged, project_slug, with_project


def _print_deployment(args: argparse.Namespace, d: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(d, indent=2))
        return
    prev = f" (previous v{d['previous_version']})" if d.get("previous_version") else ""
    print(f"Deployment {d['name']}: {d['model']} v{d['version']}{prev} — {d['status'].upper()}"
          + (f": {d['message']}" if d.get("message") else ""))
    print(f"  MLflow protocol: POST <backend>{d['url']}")
    print(f"  Open Inference v2: POST <backend>{d['v2_url']}")
    print(f"  workers {len(d['workers'])} (min {d['min_workers']}, max {d['max_workers']}), SLA p95 {d['sla_ms']:g} ms, "
          f"batches up to {d['max_batch']} rows")


def _target(spec: str) -> tuple[str, dict[str, Any]]:
    """NAME@ALIAS or NAME@VERSION (or NAME:VERSION) -> (model, {alias|version})."""
    name, sep, what = spec.replace(":", "@").partition("@")
    if not sep or not name or not what:
        raise SystemExit(f"mlp: '{spec}' is not MODEL@ALIAS or MODEL@VERSION (e.g. churn@champion, churn@3)")
    return name, ({"version": int(what)} if what.isdigit() else {"alias": what})


def cmd_deploy(args: argparse.Namespace) -> int:
    model, target = _target(args.target)
    body = {"name": args.name or model, "model": model, **target, "min_workers": args.min_workers,
            "max_workers": args.max_workers, "sla_ms": args.sla_ms, "max_batch": args.max_batch,
            "max_wait_ms": args.max_wait_ms}
    client, slug = backend_client(), project_slug(args)
    from ..client import APIError

    try:
        d = client.post(f"/projects/{slug}/deployments", body)
    except APIError as e:
        if e.status != 409 or "exists" not in e.message:
            raise
        d = client.put(f"/projects/{slug}/deployments/{body['name']}/version", target)  # deploy = switch when it exists
    _print_deployment(args, d)
    return 0


def cmd_deployments_list(args: argparse.Namespace) -> int:
    page = backend_client().get(f"/projects/{project_slug(args)}/deployments", limit=args.limit, offset=args.offset)
    for d in page["items"]:
        d["workers"] = len(d["workers"])
    emit(args, page, ["name", "model", "version", "status", "workers", "sla_ms", "url"])
    return 0


def cmd_deployments_show(args: argparse.Namespace) -> int:
    client, slug = backend_client(), project_slug(args)
    d = client.get(f"/projects/{slug}/deployments/{args.name}")
    if args.json:
        m = client.get(f"/projects/{slug}/deployments/{args.name}/metrics", minutes=args.minutes)
        print(json.dumps({"deployment": d, "metrics": m}, indent=2))
        return 0
    _print_deployment(args, d)
    m = client.get(f"/projects/{slug}/deployments/{args.name}/metrics", minutes=args.minutes)

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} ms"

    rate = "-" if m["error_rate"] is None else f"{m['error_rate']:.2%}"
    sla = "-" if m["sla_compliance"] is None else f"{m['sla_compliance']:.2%}"
    print(f"  last {args.minutes:g} min: {m['requests']} requests, errors {rate}, rate-limited {m['rejected']}, "
          f"p50 {ms(m['p50_ms'])}, p95 {ms(m['p95_ms'])}, p99 {ms(m['p99_ms'])}, within SLA {sla}")
    for e in client.get(f"/projects/{slug}/deployments/{args.name}/events", limit=5)["items"]:
        print(f"  {e['at'][:19]} {e['action']:<9} v{e['version'] or '-'} by {e['actor']}")
    return 0


def cmd_deployments_switch(args: argparse.Namespace) -> int:
    _, target = _target(f"x@{args.target}")
    d = backend_client().put(f"/projects/{project_slug(args)}/deployments/{args.name}/version", target)
    _print_deployment(args, d)
    return 0


def cmd_deployments_rollback(args: argparse.Namespace) -> int:
    _print_deployment(args, backend_client().post(f"/projects/{project_slug(args)}/deployments/{args.name}/rollback"))
    return 0


def cmd_deployments_scale(args: argparse.Namespace) -> int:
    body = {k: v for k, v in (("min_workers", args.min_workers), ("max_workers", args.max_workers),
                              ("sla_ms", args.sla_ms)) if v is not None}
    _print_deployment(args, backend_client().patch(f"/projects/{project_slug(args)}/deployments/{args.name}", body))
    return 0


def cmd_deployments_delete(args: argparse.Namespace) -> int:
    backend_client().delete(f"/projects/{project_slug(args)}/deployments/{args.name}")
    print(f"Deployment {args.name} stopped and removed")
    return 0


def cmd_deployments_logs(args: argparse.Namespace) -> int:
    for w in backend_client().get(f"/projects/{project_slug(args)}/deployments/{args.name}/logs", lines=args.lines):
        print(f"== {w['worker']}")
        print("\n".join(w["lines"]))
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    import time

    client, slug = backend_client(), project_slug(args)
    base = f"/projects/{slug}/deployments/{args.deployment}/batch"
    if bool(args.dataset) == bool(args.input):
        raise SystemExit("mlp: give either --dataset NAME or --input FILE")
    if args.dataset:
        job = client.post(base, {"dataset": args.dataset, "snapshot_id": args.snapshot,
                                 "output_dataset": args.output_dataset, "chunk_rows": args.chunk_rows})
    else:
        path = Path(args.input)
        fmt = "csv" if path.suffix.lower() == ".csv" else "parquet"
        params = {"format": fmt, "chunk_rows": args.chunk_rows}
        if args.output_dataset:
            params["output_dataset"] = args.output_dataset
        job = client.request("POST", f"{base}/upload", params=params, content=path.read_bytes(),
                             headers_extra={"content-type": "application/octet-stream"})
    print(f"Batch job {job['id']}: {args.deployment} v{job['version']}", file=sys.stderr)
    while job["status"] in ("queued", "running"):
        time.sleep(0.5)
        job = client.get(f"/projects/{slug}/batch-jobs/{job['id']}")
        if job["chunks_total"] and not args.json:
            done, total = job["chunks_done"], job["chunks_total"]
            bar = "#" * int(30 * done / total)
            print(f"\r  [{bar:<30}] {done}/{total} chunks", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if job["status"] != "succeeded":
        print(f"FAILED: {job['message']}", file=sys.stderr)
        return 1
    if job["output"]["kind"] == "file":
        target = Path(args.output or f"{job['id']}.parquet")
        target.write_bytes(client.request("GET", f"/projects/{slug}/batch-jobs/{job['id']}/output", raw=True))
        where = str(target)
    else:
        where = f"dataset {job['output']['dataset']} @ {job['output']['snapshot_id']}"
    print(json.dumps(job, indent=2) if args.json else f"Scored {job['rows']} rows -> {where}")
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    k = backend_client().post(f"/projects/{project_slug(args)}/api-keys",
                       {"name": args.name, "deployment": args.deployment, "rate_per_s": args.rate})
    if args.json:
        print(json.dumps(k, indent=2))
    else:
        print(k["key"])
        print(f"(key '{k['name']}', prefix {k['prefix']}: shown once, kept only as a hash)", file=sys.stderr)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    page = backend_client().get(f"/projects/{project_slug(args)}/api-keys", limit=args.limit, offset=args.offset)
    emit(args, page, ["prefix", "name", "deployment", "rate_per_s", "created_by", "revoked_at"])
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    k = backend_client().delete(f"/projects/{project_slug(args)}/api-keys/{args.prefix}")
    print(json.dumps(k, indent=2) if args.json else f"Revoked key {k['prefix']} ({k['name']})")
    return 0


def add_deploy(sub: argparse._SubParsersAction) -> None:
    dp = with_project(sub.add_parser("deploy", help="serve a validated model version: MODEL@ALIAS or MODEL@VERSION"))
    dp.add_argument("target", help="e.g. churn@champion or churn@3")
    dp.add_argument("--name", help="deployment name (default: the model's); an existing one switches version")
    dp.add_argument("--min-workers", type=int, default=1)
    dp.add_argument("--max-workers", type=int, default=2)
    dp.add_argument("--sla-ms", type=float, default=100.0, help="p95 latency objective")
    dp.add_argument("--max-batch", type=int, default=64)
    dp.add_argument("--max-wait-ms", type=float, default=0.0)
    dp.set_defaults(func=cmd_deploy)


def add_deployments(sub: argparse._SubParsersAction) -> None:
    deps = sub.add_parser("deployments", help="serving endpoints").add_subparsers(dest="verb", required=True)
    dl = with_project(deps.add_parser("list", help="the project's deployments"))
    paged(dl)
    dl.set_defaults(func=cmd_deployments_list)
    ds = with_project(deps.add_parser("show", help="status, workers, latency and recent events"))
    ds.add_argument("name")
    ds.add_argument("--minutes", type=float, default=15)
    ds.set_defaults(func=cmd_deployments_show)
    dsw = with_project(deps.add_parser("switch", help="serve another version (ALIAS or VERSION), no downtime"))
    dsw.add_argument("name")
    dsw.add_argument("target", help="champion, staging or a version number")
    dsw.set_defaults(func=cmd_deployments_switch)
    dr = with_project(deps.add_parser("rollback", help="serve the version that served before the last switch"))
    dr.add_argument("name")
    dr.set_defaults(func=cmd_deployments_rollback)
    dsc = with_project(deps.add_parser("scale", help="worker range and latency objective"))
    dsc.add_argument("name")
    dsc.add_argument("--min-workers", type=int)
    dsc.add_argument("--max-workers", type=int)
    dsc.add_argument("--sla-ms", type=float)
    dsc.set_defaults(func=cmd_deployments_scale)
    dd = with_project(deps.add_parser("delete", help="stop and remove a deployment"))
    dd.add_argument("name")
    dd.set_defaults(func=cmd_deployments_delete)
    dlg = with_project(deps.add_parser("logs", help="the workers' last lines"))
    dlg.add_argument("name")
    dlg.add_argument("--lines", type=int, default=100)
    dlg.set_defaults(func=cmd_deployments_logs)


def add_batch(sub: argparse._SubParsersAction) -> None:
    bt = with_project(sub.add_parser("batch", help="score a dataset or a file with a deployment's version"))
    bt.add_argument("deployment")
    bt.add_argument("--dataset", help="a project dataset (Iceberg table)")
    bt.add_argument("--snapshot", type=int, help="its snapshot id (default: current)")
    bt.add_argument("--input", help="a local .parquet or .csv file, uploaded")
    bt.add_argument("--output-dataset", help="write the scored rows to this dataset")
    bt.add_argument("--output", help="else download them to this Parquet file (default: JOB_ID.parquet)")
    bt.add_argument("--chunk-rows", type=int, default=10_000)
    bt.set_defaults(func=cmd_batch)


def add_keys(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="API keys of client systems (leads)").add_subparsers(dest="verb", required=True)
    kc = with_project(keys.add_parser("create", help="print a new key (once)"))
    kc.add_argument("name")
    kc.add_argument("--deployment", help="limit the key to one deployment")
    kc.add_argument("--rate", type=float, help="requests per second for this key")
    kc.set_defaults(func=cmd_keys_create)
    kl = with_project(keys.add_parser("list", help="the project's keys (prefixes, never secrets)"))
    paged(kl)
    kl.set_defaults(func=cmd_keys_list)
    kr = with_project(keys.add_parser("revoke", help="revoke a key by its prefix"))
    kr.add_argument("prefix")
    kr.set_defaults(func=cmd_keys_revoke)


def _print_tls(args: argparse.Namespace, t: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(t, indent=2))
        return
    print(f"client certificate required: {'yes' if t['require_client_cert'] else 'no'}; "
          f"client CA bundle: {'set' if t['ca_pem'] else 'none'}")
    for c in t["certificates"]:
        print(f"  {c['fingerprint']}  key {c['key_prefix']}  {c['subject']}")


def cmd_tls_show(args: argparse.Namespace) -> int:
    _print_tls(args, backend_client().get(f"/projects/{project_slug(args)}/serving/tls"))
    return 0


def cmd_tls_set(args: argparse.Namespace) -> int:
    body = {"require_client_cert": args.require, "ca_pem": Path(args.ca).read_text() if args.ca else None}
    _print_tls(args, backend_client().put(f"/projects/{project_slug(args)}/serving/tls", body))
    return 0


def cmd_tls_map(args: argparse.Namespace) -> int:
    c = backend_client().post(f"/projects/{project_slug(args)}/serving/tls/certificates",
                              {"certificate_pem": Path(args.target).read_text(), "key_prefix": args.key})
    print(json.dumps(c, indent=2) if args.json else f"Mapped {c['fingerprint']} ({c['subject']}) to key {c['key_prefix']}")
    return 0


def cmd_tls_unmap(args: argparse.Namespace) -> int:
    backend_client().delete(f"/projects/{project_slug(args)}/serving/tls/certificates/{args.target}")
    print(f"Unmapped {args.target}")
    return 0


def cmd_tls(args: argparse.Namespace) -> int:
    if args.action in ("map", "unmap") and not args.target:
        raise SystemExit(f"mlp: 'serving tls {args.action}' needs a "
                         f"{'certificate PEM file' if args.action == 'map' else 'fingerprint'}")
    if args.action == "set" and args.require is None:
        raise SystemExit("mlp: 'serving tls set' needs --require or --no-require")
    if args.action == "map" and not args.key:
        raise SystemExit("mlp: 'serving tls map' needs --key PREFIX (the API key the certificate goes with)")
    return {"show": cmd_tls_show, "set": cmd_tls_set, "map": cmd_tls_map, "unmap": cmd_tls_unmap}[args.action](args)


def add_serving(sub: argparse._SubParsersAction) -> None:
    serving = sub.add_parser("serving", help="gateway settings of a project").add_subparsers(dest="verb", required=True)
    tls = with_project(serving.add_parser(
        "tls", help="client certificates (mutual TLS) at the gateway: show | set --[no-]require [--ca PEM] | "
        "map CERT.pem --key PREFIX | unmap FINGERPRINT (changes: leads)"))
    tls.add_argument("action", choices=["show", "set", "map", "unmap"])
    tls.add_argument("target", nargs="?", help="map: the client certificate's PEM file; unmap: its fingerprint")
    tls.add_argument("--require", action=argparse.BooleanOptionalAction, default=None,
                     help="set: refuse requests without a certificate of the CA mapped to the key presented")
    tls.add_argument("--ca", help="set: PEM file of the CAs that issue the project's client certificates")
    tls.add_argument("--key", help="map: the API key's prefix")
    tls.set_defaults(func=cmd_tls)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"deploy": add_deploy, "deployments": add_deployments, "batch": add_batch, "keys": add_keys,
            "serving": add_serving}
