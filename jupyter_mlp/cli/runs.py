"""`mlp runs`: experiment runs (MLflow) of a project: search, show, compare, replay."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import backend_client, fmt_time, num, paged, table
from .pipelines import show_run


def _run_rows(items: list[dict[str, Any]], metrics: list[str], params: list[str]) -> list[dict[str, Any]]:
    rows = []
    for r in items:
        row = {"run_id": r["run_id"], "name": r.get("run_name") or "", "status": r["status"],
               "started": fmt_time(r.get("start_time"))}
        row.update({f"m.{k}": num(r["metrics"].get(k)) for k in metrics})
        row.update({f"p.{k}": r["params"].get(k, "") for k in params})
        rows.append(row)
    return rows


def _experiment_ids(client: Any, slug: str, wanted: list[str]) -> list[str]:
    """Experiment names or ids of the project -> ids; an unknown one is named with the project's experiments."""
    from ..client import APIError

    known = client.get(f"/projects/{slug}/experiments")["items"]
    by_name = {e["name"]: e["experiment_id"] for e in known}
    ids = {e["experiment_id"] for e in known}
    out = []
    for w in wanted:
        if w not in by_name and w not in ids:
            names = ", ".join(sorted(by_name)) or "none"
            raise APIError(404, "not_found", f"No experiment '{w}' in {slug} (its experiments: {names})")
        out.append(by_name.get(w, w))
    return out


def cmd_runs_list(args: argparse.Namespace) -> int:
    client = backend_client()
    experiments = _experiment_ids(client, args.project, args.experiment) if args.experiment else None
    page = client.get(f"/projects/{args.project}/runs", filter=args.filter or None, experiment_id=experiments,
                      order_by=args.order_by or None, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    metrics = args.metrics.split(",") if args.metrics else sorted({k for r in page["items"] for k in r["metrics"]})[:4]
    params = args.params.split(",") if args.params else sorted({k for r in page["items"] for k in r["params"]})[:4]
    rows = _run_rows(page["items"], metrics, params)
    print(table(rows, list(rows[0]) if rows else ["run_id"]))
    about = "" if page.get("total_exact", True) else "about "  # the backend's estimate (many runs, PostgreSQL)
    print(f"({len(rows)} of {about}{page['total']} runs)")
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    r = backend_client().get(f"/projects/{args.project}/runs/{args.run_id}")
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"Run {r['run_id']}  {r.get('run_name') or ''}  [{r['status']}]  by {r.get('user')}  "
          f"started {fmt_time(r.get('start_time'))}")
    for title, data in (("Params", r["params"]), ("Metrics", {k: num(v) for k, v in r["metrics"].items()})):
        print(f"\n{title}:")
        for k in sorted(data):
            print(f"  {k:<30} {data[k]}")
    lin = r["lineage"]
    print("\nLineage:")
    for k in ("notebook_path", "notebook_sha256", "git_commit", "git_dirty", "python_version", "freeze_sha256"):
        print(f"  {k:<30} {'' if lin.get(k) is None else lin[k]}")
    for d in lin.get("datasets", []):
        print(f"  dataset {d['name']}: {d.get('sha256') or d.get('snapshot_id')} ({d.get('rows')} rows)")
    return 0


def cmd_runs_compare(args: argparse.Namespace) -> int:
    c = backend_client().get(f"/projects/{args.project}/compare", run_ids=",".join(args.run_ids))
    if args.json:
        print(json.dumps(c, indent=2))
        return 0
    runs = c["runs"]
    header = ["", *[(r.get("run_name") or r["run_id"][:8]) for r in runs]]
    rows = []
    for k in c["param_keys"]:
        mark = "* " if k in c["differing_params"] else "  "
        rows.append({"": f"{mark}params.{k}", **{h: r["params"].get(k, "") for h, r in zip(header[1:], runs)}})
    for k in c["metric_keys"]:
        rows.append({"": f"  metrics.{k}", **{h: num(r["metrics"].get(k)) for h, r in zip(header[1:], runs)}})
    print(table(rows, header))
    print("(* marks parameters that differ)")
    return 0


def cmd_runs_replay(args: argparse.Namespace) -> int:
    client = backend_client()
    r = client.post(f"/projects/{args.project}/pipeline-runs/{args.run_id}/replay")
    r = show_run(args, client, r)
    return 0 if r["status"] != "FAILURE" else 1


def add_runs(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="experiment runs (MLflow)").add_subparsers(dest="verb", required=True)
    rl = runs.add_parser("list", help="search runs; filters use MLflow's syntax")
    rl.add_argument("project")
    rl.add_argument("--filter", help="e.g. \"params.alpha = '0.5' and metrics.auc > 0.8\"")
    rl.add_argument("--experiment", action="append", help="experiment name or id (repeatable; default: all)")
    rl.add_argument("--order-by", action="append", help="e.g. 'metrics.auc DESC' (repeatable)")
    rl.add_argument("--metrics", help="comma-separated metric columns to show")
    rl.add_argument("--params", help="comma-separated param columns to show")
    paged(rl)
    rl.set_defaults(func=cmd_runs_list)
    rs = runs.add_parser("show", help="one run with its lineage")
    rs.add_argument("project")
    rs.add_argument("run_id")
    rs.set_defaults(func=cmd_runs_show)
    rc = runs.add_parser("compare", help="2 to 50 runs side by side; differing params marked")
    rc.add_argument("project")
    rc.add_argument("run_ids", nargs="+")
    rc.set_defaults(func=cmd_runs_compare)
    rr = runs.add_parser("replay", help="run a pipeline run again exactly: same version, parameters and data")
    rr.add_argument("project")
    rr.add_argument("run_id", help="a pipeline run id")
    rr.add_argument("--wait", action="store_true")
    rr.set_defaults(func=cmd_runs_replay)


# Top-level commands this module adds, by name; main.py places them in `mlp --help`'s order.
COMMANDS = {"runs": add_runs}
